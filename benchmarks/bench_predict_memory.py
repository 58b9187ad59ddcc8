"""Peak memory of `tuinet predict` on a large CSV file, against the file's size.

    python benchmarks/bench_predict_memory.py              # a 200 MB file (2M rows of 10 values), 1 run
    python benchmarks/bench_predict_memory.py --mb 20      # a quick run
    python benchmarks/bench_predict_memory.py --stdout     # predictions to stdout instead of -o
    python benchmarks/bench_predict_memory.py --scaler     # a model saved with a StandardScaler

The file (in a temporary folder) has 10 float columns written with 6 decimals and no header:
about 100 bytes a row. A tiny model (`Dense(1)` on 10 inputs, saved with `model.save`) predicts
it in a fresh subprocess that runs the `tuinet predict` command in-process and reports its peak
RSS (`resource.getrusage`, Linux's kilobytes), its baseline (the peak RSS before the command:
Python, NumPy, click and tuinet imported) and the time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, resource, sys, time
import numpy as np
import tuinet, tuinet.cli, tuinet.data.csv_stream
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
args = ["predict", sys.argv[1], sys.argv[2]] + (["-o", sys.argv[3]] if sys.argv[3] else [])
start = time.perf_counter()
out = sys.stdout
if not sys.argv[3]:
    sys.stdout = open(os.devnull, "w")
try:
    tuinet.cli.main(args, standalone_mode=False)
finally:
    sys.stdout = out
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"base": base, "peak": peak, "seconds": seconds}))
"""


def write_csv(path: str, mb: float, seed: int = 0) -> int:
    """A CSV of about `mb` megabytes (10**6 bytes): 10 float columns, no header."""
    import numpy as np

    rng = np.random.default_rng(seed)
    target, written = int(mb * 1e6), 0
    with open(path, "w", newline="") as handle:
        while written < target:
            x = rng.standard_normal((20000, 10))
            text = "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in x.tolist())
            handle.write(text)
            written += len(text)
    return written


def write_model(path: str, scaler: bool = False) -> None:
    import tuinet

    model = tuinet.Sequential([tuinet.layers.Dense(1, input_shape=(10,))])
    model.compile(loss="mse")
    if scaler:  # as `tuinet train --out` saves it: predict scales the inputs first
        model.metadata = {"task": "regression", "scaler_kind": "StandardScaler",
                          "scaler": {"name": "standard", "offset": [0.5] * 10, "scale": [2.0] * 10}}
    model.save(path)


def run_once(model: str, data: str, output: str) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", CHILD, model, data, output], capture_output=True, text=True,
                         env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"predict failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--stdout", action="store_true", help="print the predictions instead of -o FILE")
    parser.add_argument("--scaler", action="store_true", help="a model with a StandardScaler")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data, model = os.path.join(folder, "rows.csv"), os.path.join(folder, "m.tuinet")
        size = write_csv(data, args.mb)
        write_model(model, args.scaler)
        print(f"{data}: {size / 1e6:.1f} MB")
        for _ in range(args.runs):
            r = run_once(model, data, "" if args.stdout else os.path.join(folder, "out.csv"))
            over = r["peak"] - r["base"]
            print(f"peak {r['peak'] / 1e6:.0f} MB ({r['peak'] / size:.2f}x the file), baseline "
                  f"{r['base'] / 1e6:.0f} MB, over the baseline {over / 1e6:.0f} MB ({over / size:.2f}x), "
                  f"{r['seconds']:.1f} s")


if __name__ == "__main__":
    main()
