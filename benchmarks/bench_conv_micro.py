"""Micro-benchmark of the conv / pool layers in the reference Keras-style MNIST CNN.

Times forward + backward of Conv2D(8, 3, relu) -> MaxPooling2D -> Conv2D(16, 3, relu) ->
MaxPooling2D -> Flatten -> Dense(10, softmax) at batch 64, per layer and per step, and the same
network in PyTorch when `torch` is importable, with 2 BLAS threads as the benchmarks use:

    python benchmarks/bench_conv_micro.py

Both are timed twice: with glibc's default malloc settings, then after `mallopt` raises the
mmap and trim thresholds, so that freed big arrays are reused instead of handed back to the
kernel (and page-faulted in again, zeroed, on the next step). Times are the best round of
`ROUND` steps, since the machine may be shared.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import ctypes  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from tuinet.nn.layers.conv import Conv2D  # noqa: E402
from tuinet.nn.layers.core import Dense, Flatten  # noqa: E402
from tuinet.nn.layers.pooling import MaxPooling2D  # noqa: E402

BATCH, STEPS, WARMUP, ROUND, PHASES = 64, 600, 10, 10, 3


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


def tuinet_stepper():
    """A function running `steps` training steps of the tuinet network, timing each layer."""
    layers = build()
    rng = np.random.default_rng(1)
    x = rng.random((BATCH, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)]

    def run(steps, fwd, bwd):
        for _ in range(steps):
            h = x
            for layer in layers:
                t = time.perf_counter()
                h = layer.forward(h, training=True)
                fwd[layer.name] += time.perf_counter() - t
            g = (h - y) * (1.0 / BATCH)  # softmax + cross-entropy, fused
            t = time.perf_counter()
            g = layers[-1].backward_linear(g)
            bwd[layers[-1].name] += time.perf_counter() - t
            for layer in reversed(layers[:-1]):
                t = time.perf_counter()
                g = layer.backward(g)
                bwd[layer.name] += time.perf_counter() - t
            for layer in layers:  # plain SGD so the weights move as in training
                for k, p in layer.params.items():
                    p -= 0.01 * layer.grads[k]

    return [layer.name for layer in layers], run


def torch_stepper():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(400, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x = torch.rand(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(steps):
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()

    return run


def bench() -> None:
    """Alternate phases of tuinet and torch rounds; keep each one's best round.

    Phases, not single rounds, alternate: OpenBLAS's and PyTorch's worker threads spin for a
    while after each call, so switching every few steps makes each slow the other down.
    """
    names, ours = tuinet_stepper()
    theirs = torch_stepper()
    best = {"tuinet": np.inf, "torch": np.inf}
    best_fwd = {k: np.inf for k in names}
    best_bwd = dict(best_fwd)
    for phase in range(PHASES):
        for rnd in range(-1, STEPS // ROUND // PHASES):
            steps = WARMUP if rnd < 0 else ROUND
            fwd, bwd = {k: 0.0 for k in names}, {k: 0.0 for k in names}
            t = time.perf_counter()
            ours(steps, fwd, bwd)
            if rnd >= 0:
                best["tuinet"] = min(best["tuinet"], (time.perf_counter() - t) / steps)
                for k in names:
                    best_fwd[k] = min(best_fwd[k], fwd[k] / steps)
                    best_bwd[k] = min(best_bwd[k], bwd[k] / steps)
        time.sleep(0.05)
        if theirs is not None:
            for rnd in range(-1, STEPS // ROUND // PHASES):
                steps = WARMUP if rnd < 0 else ROUND
                t = time.perf_counter()
                theirs(steps)
                if rnd >= 0:
                    best["torch"] = min(best["torch"], (time.perf_counter() - t) / steps)
            time.sleep(0.05)
    print(f"tuinet  batch {BATCH}: {best['tuinet'] * 1e3:.3f} ms/step (forward + backward + SGD, best round)")
    for k in names:
        print(f"  {k:8s} forward {best_fwd[k] * 1e6:7.1f} us   backward {best_bwd[k] * 1e6:7.1f} us")
    if theirs is None:
        print("torch is not importable: no PyTorch comparison")
        return
    print(f"torch   batch {BATCH}: {best['torch'] * 1e3:.3f} ms/step (best round)")
    print(f"speed ratio tuinet/torch = {best['torch'] / best['tuinet']:.2f}x (>= 0.8 is the target)")


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed big blocks (as PyTorch's caching allocator does); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return (bool(libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024))
            and bool(libc.mallopt(m_trim_threshold, 1 << 30)))


if __name__ == "__main__":
    for label in ("default malloc", "mallopt"):
        if label == "mallopt" and not keep_freed_memory():
            break
        print(f"== {label} ==")
        bench()
