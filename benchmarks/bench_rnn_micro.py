"""Micro-benchmark of the recurrent layers at the engine benchmark's LSTM size.

Times forward + backward of LSTM(32) over `(64, 20, 8)` float32 inputs (workload "e" of
`bench_engine.py`), then a whole training step LSTM(32) -> Dense(1) -> MSE -> Adam written by
hand, and the same step in PyTorch when `torch` is importable. GRU and SimpleRNN forward +
backward are timed too. Run with 2 BLAS threads, as the benchmarks do:

    OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 python benchmarks/bench_rnn_micro.py

On a 2-vCPU box that other processes share, threaded BLAS calls (here the end-of-backward
weight-gradient GEMMs; in torch its own pool) can stall for milliseconds: compare with
`OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1` when the box is busy.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import time  # noqa: E402

import numpy as np  # noqa: E402

from tuinet.nn.layers.core import Dense  # noqa: E402
from tuinet.nn.layers.recurrent import GRU, LSTM, SimpleRNN  # noqa: E402

BATCH, STEPS, FEATURES, UNITS = 64, 20, 8, 32
REPEAT, ROUNDS = 50, 7


def best_us(fn) -> float:
    """Best per-call time over `ROUNDS` rounds of `REPEAT` calls, in microseconds."""
    for _ in range(10):
        fn()
    best = np.inf
    for _ in range(ROUNDS):
        t = time.perf_counter()
        for _ in range(REPEAT):
            fn()
        best = min(best, (time.perf_counter() - t) / REPEAT)
    return best * 1e6


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    return x, x.mean(axis=(1, 2)).reshape(-1, 1).astype(np.float32)


def bench_layer(layer) -> tuple[float, float]:
    x, _ = data()
    layer.build_for(x.shape[1:], np.random.default_rng(0))
    layer.needs_input_grad = False
    g = np.ones((BATCH, UNITS), np.float32)
    fwd = best_us(lambda: layer.forward(x, training=True))

    def step():
        layer.forward(x, training=True)
        layer.backward(g)

    return fwd, best_us(step)


def bench_train_step() -> float:
    """LSTM -> Dense(1) -> MSE -> Adam (the optimizer inlined, as in Keras)."""
    x, y = data()
    rng = np.random.default_rng(0)
    lstm, dense = LSTM(UNITS), Dense(1)
    dense.build_for((UNITS,), rng)
    lstm.build_for(x.shape[1:], rng)
    lstm.needs_input_grad = False
    params = [*lstm.params.values(), *dense.params.values()]
    grads = [*lstm.grads.values(), *dense.grads.values()]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, b1, b2, eps = np.float32(1e-3), np.float32(0.9), np.float32(0.999), np.float32(1e-7)

    def step():
        out = dense.forward(lstm.forward(x, training=True), training=True)
        lstm.backward(dense.backward((out - y) * np.float32(2.0 / out.size)))
        for p, gr, mi, vi in zip(params, grads, m, v):
            mi *= b1
            mi += (1 - b1) * gr
            vi *= b2
            vi += (1 - b2) * gr * gr
            p -= lr * mi / (np.sqrt(vi) + eps)

    return best_us(step)


def bench_torch() -> tuple[float, float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    torch.manual_seed(0)
    x_np, y_np = data()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
    dense = torch.nn.Linear(UNITS, 1)
    opt = torch.optim.Adam([*lstm.parameters(), *dense.parameters()], lr=1e-3, eps=1e-7)

    def fwd_bwd():
        out, _ = lstm(x)
        out[:, -1].sum().backward()

    def step():
        opt.zero_grad()
        out, _ = lstm(x)
        loss = torch.nn.functional.mse_loss(dense(out[:, -1]), y)
        loss.backward()
        opt.step()

    return best_us(fwd_bwd), best_us(step)


def main() -> None:
    print(f"batch {BATCH}, {STEPS} steps x {FEATURES} features, {UNITS} units, float32, "
          f"{os.environ['OMP_NUM_THREADS']} threads; best of {ROUNDS} x {REPEAT}")
    for name, layer in [("LSTM", LSTM(UNITS)), ("GRU", GRU(UNITS)),
                        ("GRU reset_after=False", GRU(UNITS, reset_after=False)), ("SimpleRNN", SimpleRNN(UNITS))]:
        fwd, both = bench_layer(layer)
        print(f"tuinet {name:22s} forward {fwd:7.1f} us   forward+backward {both:7.1f} us")
    step = bench_train_step()
    print(f"tuinet LSTM -> Dense -> MSE -> Adam train step {step:7.1f} us")
    t = bench_torch()
    if t is None:
        print("torch not importable: no comparison")
        return
    print(f"torch  LSTM forward+backward {t[0]:7.1f} us; train step {t[1]:7.1f} us; "
          f"tuinet/torch speed ratio (train step) {t[1] / step:.2f}x")


if __name__ == "__main__":
    main()
