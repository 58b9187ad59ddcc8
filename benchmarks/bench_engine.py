"""Engine throughput: tuinet against PyTorch (CPU), the same workloads, side by side.

    python benchmarks/bench_engine.py                 # all workloads, 5 runs each
    python benchmarks/bench_engine.py --only a,d --runs 3
    python benchmarks/bench_engine.py --json results.json

Every workload trains in float32 on seeded synthetic data with Adam. Each measurement is a
whole `fit` (or the equivalent PyTorch loop) in a fresh subprocess limited to `--threads`
threads (2 by default), timed from the first batch to the last; the figure is the median of
`--runs` runs, in samples per second. PyTorch runs when `torch` is importable (only
`torch==2.13.0` is allowed beside tuinet: `pip install torch==2.13.0`), and the ratio
tuinet / PyTorch is printed with the target from the engine issue. Peak RSS of each run is
reported too (resource.getrusage in the child).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKLOADS = {
    "a": dict(desc="MLP 784-256-128-10, batch 128, 60000 samples, 1 epoch", target=1.2,
              n=60000, shape=(784,), classes=10, batch=128, epochs=1),
    "b": dict(desc="MLP 64-64-10, batch 32, 1797 samples, 5 epochs", target=3.5,
              n=1797, shape=(64,), classes=10, batch=32, epochs=5),
    "c": dict(desc="CNN 28x28x1 conv8-pool-conv16-pool-dense10, batch 64, 10000 samples, 1 epoch", target=0.8,
              n=10000, shape=(28, 28, 1), classes=10, batch=64, epochs=1),
    "d": dict(desc="MLP 2-8-8-1 tanh/sigmoid, BCE, batch 10, 1000 samples, 10 epochs", target=3.5,
              n=1000, shape=(2,), classes=1, batch=10, epochs=10),
    "e": dict(desc="LSTM(32) 20x8 -> Dense 1, MSE, batch 64, 4096 samples, 1 epoch", target=0.7,
              n=4096, shape=(20, 8), classes=0, batch=64, epochs=1),
}


def make_data(key: str):
    import numpy as np

    w = WORKLOADS[key]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(size=(w["n"], *w["shape"]), dtype=np.float32)
    if key == "d":
        y = (x[:, 0] * x[:, 1] > 0).astype(np.float32).reshape(-1, 1)
    elif key == "e":
        y = x.mean(axis=(1, 2)).reshape(-1, 1).astype(np.float32)
    else:
        y = rng.integers(0, w["classes"], size=w["n"]).astype(np.int64)
    return x, y


def run_tuinet(key: str) -> float:
    import time

    import tuinet
    from tuinet import layers

    w = WORKLOADS[key]
    x, y = make_data(key)
    if key == "a":
        model = tuinet.Sequential([layers.Dense(256, activation="relu", input_shape=(784,)),
                                   layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")],
                                  seed=0)
        loss = "sparse_categorical_crossentropy"
    elif key == "b":
        model = tuinet.Sequential([layers.Dense(64, activation="relu", input_shape=(64,)),
                                   layers.Dense(10, activation="softmax")], seed=0)
        loss = "sparse_categorical_crossentropy"
    elif key == "c":
        model = tuinet.Sequential([layers.Conv2D(8, 3, activation="relu", input_shape=(28, 28, 1)),
                                   layers.MaxPooling2D(2), layers.Conv2D(16, 3, activation="relu"),
                                   layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10, activation="softmax")],
                                  seed=0)
        loss = "sparse_categorical_crossentropy"
    elif key == "d":
        model = tuinet.Sequential([layers.Dense(8, activation="tanh", input_shape=(2,)),
                                   layers.Dense(8, activation="tanh"), layers.Dense(1, activation="sigmoid")], seed=0)
        loss = "binary_crossentropy"
    else:
        model = tuinet.Sequential([layers.LSTM(32, input_shape=(20, 8)), layers.Dense(1)], seed=0)
        loss = "mse"
    model.compile(optimizer=tuinet.optimizers.Adam(1e-3), loss=loss)
    start = time.perf_counter()
    model.fit(x, y, batch_size=w["batch"], epochs=w["epochs"], verbose=0, shuffle=True)
    return time.perf_counter() - start


def run_torch(key: str) -> float:
    import time

    import torch
    from torch import nn

    torch.manual_seed(0)
    w = WORKLOADS[key]
    x_np, y_np = make_data(key)
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    if key == "a":
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        loss_fn = nn.CrossEntropyLoss()
    elif key == "b":
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        loss_fn = nn.CrossEntropyLoss()
    elif key == "c":
        x = x.permute(0, 3, 1, 2).contiguous()
        model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 10))
        loss_fn = nn.CrossEntropyLoss()
    elif key == "d":
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
        loss_fn = nn.BCEWithLogitsLoss()
    else:
        class LSTMNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(8, 32, batch_first=True)
                self.out = nn.Linear(32, 1)

            def forward(self, inp):
                seq, _ = self.lstm(inp)
                return self.out(seq[:, -1])

        model = LSTMNet()
        loss_fn = nn.MSELoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    n, batch = x.shape[0], w["batch"]
    start = time.perf_counter()
    for _ in range(w["epochs"]):
        perm = torch.randperm(n)
        for lo in range(0, n, batch):
            idx = perm[lo:lo + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def child(framework: str, key: str, threads: int) -> None:
    import resource

    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        seconds = run_torch(key)
    else:
        seconds = run_tuinet(key)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": rss_mb}))


def measure(framework: str, key: str, runs: int, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    times, rss = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--child", framework, key, "--threads", str(threads)],
                             env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise SystemExit(f"{framework} workload {key} failed:\n{out.stderr}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(r["seconds"])
        rss.append(r["rss_mb"])
    w = WORKLOADS[key]
    t = statistics.median(times)
    return {"seconds": t, "samples_per_s": w["n"] * w["epochs"] / t, "rss_mb": max(rss), "runs": times}


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads (a-e)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.threads)
        return
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    bad = [k for k in keys if k not in WORKLOADS]
    if bad:
        parser.error(f"unknown workload(s) {bad}; choose from {', '.join(WORKLOADS)}")
    has_torch = torch_available()
    results = {}
    print(f"threads={args.threads} runs={args.runs} (median) torch={'yes' if has_torch else 'not installed'}")
    print(f"{'':2} {'tuinet/s':>10} {'torch/s':>10} {'ratio':>6} {'target':>6}  {'RSS MB':>7}  workload")
    for key in keys:
        r = {"tuinet": measure("tuinet", key, args.runs, args.threads)}
        if has_torch:
            r["torch"] = measure("torch", key, args.runs, args.threads)
            r["ratio"] = r["tuinet"]["samples_per_s"] / r["torch"]["samples_per_s"]
        results[key] = r
        w = WORKLOADS[key]
        torch_s = f"{r['torch']['samples_per_s']:10.0f}" if has_torch else f"{'-':>10}"
        ratio = f"{r['ratio']:6.2f}" if has_torch else f"{'-':>6}"
        mark = "" if not has_torch else ("  ok" if r["ratio"] >= w["target"] else "  MISSED")
        print(f"{key:2} {r['tuinet']['samples_per_s']:10.0f} {torch_s} {ratio} {w['target']:6.1f}  "
              f"{r['tuinet']['rss_mb']:7.0f}  {w['desc']}{mark}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
