"""Micro-benchmark of the conv / pool layers in the reference Keras-style MNIST CNN.

Times forward + backward of Conv2D(8, 3, relu) -> MaxPooling2D -> Conv2D(16, 3, relu) ->
MaxPooling2D -> Flatten -> Dense(10, softmax) at batch 64, per layer and per step, and the same
network in PyTorch when `torch` is importable. Run with 2 BLAS threads, as the benchmarks do:

    OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 python benchmarks/bench_conv_micro.py
"""

from __future__ import annotations

import os
import sys; sys.path.insert(0, "/tmp/cb"); import boot

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import time  # noqa: E402

import numpy as np  # noqa: E402

from tuinet.nn.layers.conv import Conv2D  # noqa: E402
from tuinet.nn.layers.core import Dense, Flatten  # noqa: E402
from tuinet.nn.layers.pooling import MaxPooling2D  # noqa: E402

BATCH, STEPS, WARMUP, ROUND = 64, 300, 20, 25


def build():
    rng = np.random.default_rng(0)
    layers = [Conv2D(8, 3, activation="relu", name="conv1"), MaxPooling2D(2, name="pool1"),
              Conv2D(16, 3, activation="relu", name="conv2"), MaxPooling2D(2, name="pool2"),
              Flatten(name="flatten"), Dense(10, activation="softmax", name="dense")]
    shape = (28, 28, 1)
    for layer in layers:
        shape = layer.build_for(shape, rng)
    layers[0].needs_input_grad = False
    return layers


def bench_tuinet():
    """Per-layer and per-step times: the best round of `ROUND` steps (the box may be shared)."""
    layers = build()
    rng = np.random.default_rng(1)
    x = rng.random((BATCH, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)]
    names = [layer.name for layer in layers]
    best_fwd = {k: np.inf for k in names}
    best_bwd = dict(best_fwd)
    best_step = np.inf
    for rnd in range(-1, STEPS // ROUND):
        fwd = {k: 0.0 for k in names}
        bwd = dict(fwd)
        t_round = time.perf_counter()
        for _ in range(WARMUP if rnd < 0 else ROUND):
            h = x
            for layer in layers:
                t = time.perf_counter()
                h = layer.forward(h, training=True)
                fwd[layer.name] += time.perf_counter() - t
            g = (h - y) * (1.0 / BATCH)  # softmax + cross-entropy, fused
            t = time.perf_counter()
            g = layers[-1].backward_linear(g)
            bwd["dense"] += time.perf_counter() - t
            for layer in reversed(layers[:-1]):
                t = time.perf_counter()
                g = layer.backward(g)
                bwd[layer.name] += time.perf_counter() - t
            for layer in layers:  # plain SGD so the weights move as in training
                for k, p in layer.params.items():
                    p -= 0.01 * layer.grads[k]
        if rnd < 0:
            continue
        best_step = min(best_step, (time.perf_counter() - t_round) / ROUND)
        for k in names:
            best_fwd[k] = min(best_fwd[k], fwd[k] / ROUND)
            best_bwd[k] = min(best_bwd[k], bwd[k] / ROUND)
    print(f"tuinet  batch {BATCH}: {best_step * 1e3:.3f} ms/step (forward + backward + SGD, best round)")
    for k in names:
        print(f"  {k:8s} forward {best_fwd[k] * 1e6:7.1f} us   backward {best_bwd[k] * 1e6:7.1f} us")
    return best_step


def bench_torch():
    try:
        import torch
    except ImportError:
        print("torch is not importable: no PyTorch comparison")
        return None
    torch.set_num_threads(2)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(400, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x = torch.rand(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))
    loss_fn = torch.nn.CrossEntropyLoss()
    t = np.inf
    for rnd in range(-1, STEPS // ROUND):
        t0 = time.perf_counter()
        for _ in range(WARMUP if rnd < 0 else ROUND):
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
        if rnd >= 0:
            t = min(t, (time.perf_counter() - t0) / ROUND)
    print(f"torch   batch {BATCH}: {t * 1e3:.3f} ms/step (best round)")
    return t


if __name__ == "__main__":
    ours = bench_tuinet()
    theirs = bench_torch()
    if theirs:
        print(f"speed ratio tuinet/torch = {theirs / ours:.2f}x (>= 0.8 is the target)")
