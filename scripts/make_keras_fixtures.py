"""Write the small Keras 3 files that `tests/nn/test_keras_files.py` loads.

Run with a Python that has Keras 3 (any backend) and h5py, from the repository root:

    KERAS_BACKEND=torch python scripts/make_keras_fixtures.py

It writes under `tests/fixtures/keras/`: `mlp.keras` (Dense, Dropout, BatchNormalization;
trained with SGD and momentum), `cnn.keras` (Conv2D, MaxPooling2D, Flatten, Dense),
`text.keras` (Embedding, LSTM, GRU, Dense), `adam.keras` (compiled with Adam, trained, with
its optimizer state), `functional.keras` (a functional model: two Dense branches, Add, Dense), `mlp.weights.h5` (`save_weights` of the MLP), and `predictions.npz`:
for each model the inputs `x_<name>` and Keras's `predict` outputs `y_<name>`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

import keras
from keras import layers

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "keras"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(1234)
    rng = np.random.default_rng(1234)
    arrays = {}

    mlp = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dropout(0.2),
                            layers.BatchNormalization(), layers.Dense(3, activation="softmax")], name="mlp")
    mlp.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    x = rng.normal(size=(32, 4)).astype("float32")
    mlp.fit(x, rng.integers(0, 3, 32), epochs=3, batch_size=8, verbose=0)
    mlp.save(OUT / "mlp.keras")
    mlp.save_weights(OUT / "mlp.weights.h5")
    arrays["x_mlp"], arrays["y_mlp"] = x[:6], mlp.predict(x[:6], verbose=0)

    cnn = keras.Sequential([keras.Input((6, 6, 2)), layers.Conv2D(3, 3, padding="same", activation="relu"),
                            layers.MaxPooling2D(), layers.Conv2D(2, 2, strides=1), layers.Flatten(),
                            layers.Dense(2)], name="cnn")
    cnn.save(OUT / "cnn.keras")
    x = rng.normal(size=(4, 6, 6, 2)).astype("float32")
    arrays["x_cnn"], arrays["y_cnn"] = x, cnn.predict(x, verbose=0)

    text = keras.Sequential([keras.Input((7,), dtype="int32"), layers.Embedding(20, 4),
                             layers.LSTM(5, return_sequences=True), layers.GRU(3),
                             layers.Dense(2, activation="softmax")], name="text")
    text.save(OUT / "text.keras")
    x = rng.integers(0, 20, size=(5, 7)).astype("int32")
    arrays["x_text"], arrays["y_text"] = x, text.predict(x, verbose=0)

    adam = keras.Sequential([keras.Input((3,)), layers.Dense(6, activation="tanh",
                                                             kernel_regularizer=keras.regularizers.L2(1e-3)),
                             layers.Dense(1)], name="adam")
    adam.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    x = rng.normal(size=(24, 3)).astype("float32")
    adam.fit(x, x.sum(axis=1, keepdims=True), epochs=2, batch_size=8, verbose=0)
    adam.save(OUT / "adam.keras")
    arrays["x_adam"], arrays["y_adam"] = x[:5], adam.predict(x[:5], verbose=0)

    inp = keras.Input((5,))
    merged = layers.Add()([layers.Dense(4, activation="relu")(inp), layers.Dense(4, activation="tanh")(inp)])
    functional = keras.Model(inp, layers.Dense(2)(merged), name="functional")
    functional.save(OUT / "functional.keras")
    x = rng.normal(size=(4, 5)).astype("float32")
    arrays["x_functional"], arrays["y_functional"] = x, functional.predict(x, verbose=0)

    np.savez(OUT / "predictions.npz", **arrays)
    for path in sorted(OUT.iterdir()):
        print(f"{path.relative_to(OUT.parent.parent.parent)}: {os.path.getsize(path):,} bytes")


if __name__ == "__main__":
    main()
