"""Peak memory of `load_csv` on a large CSV file, against the file's size.

    python benchmarks/bench_csv_memory.py              # a 200 MB file, 3 runs
    python benchmarks/bench_csv_memory.py --mb 20      # a quick run
    python benchmarks/bench_csv_memory.py --gz         # the same file gzipped
    python benchmarks/bench_csv_memory.py --reader path/to/files.py   # another load_csv, e.g. an old one

The file (in a temporary folder) has a header, 9 float columns written with 6 decimals and an
integer class label: about 100 bytes a row. Each run loads it in a fresh subprocess and reports
the peak RSS (`resource.getrusage` in the child, Linux's kilobytes) and the time; the baseline is
the peak RSS of the same subprocess before loading (Python, NumPy and tuinet imported). The
figure is the median over `--runs` runs of the peak, of the peak over the baseline, and their
ratio to the file's size (the target of the memory issue: at most 3x).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import importlib.util, json, resource, sys, time
import numpy as np
import tuinet.data
reader = sys.argv[2]
if reader:
    spec = importlib.util.spec_from_file_location("reader_under_test", reader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    load_csv = module.load_csv
else:
    load_csv = tuinet.data.load_csv
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
start = time.perf_counter()
ds = load_csv(sys.argv[1])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"base": base, "peak": peak, "seconds": seconds, "shape": list(ds.x.shape),
                  "dtype": str(ds.x.dtype), "classes": ds.num_classes}))
"""


def write_csv(path: str, mb: float, seed: int = 0) -> int:
    """A CSV of about `mb` megabytes (10**6 bytes): header, 9 float columns and an integer label."""
    import numpy as np

    rng = np.random.default_rng(seed)
    target = int(mb * 1e6)
    written = 0
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wt", newline="") as handle:
        header = ",".join(f"x{j}" for j in range(9)) + ",label\n"
        handle.write(header)
        written += len(header)
        while written < target:
            x = rng.standard_normal((20000, 9))
            labels = rng.integers(0, 5, 20000)
            text = "".join(",".join(f"{v:.6f}" for v in row) + f",{k}\n" for row, k in zip(x.tolist(), labels.tolist()))
            handle.write(text)
            written += len(text)
    return written


def run_once(path: str, reader: str) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", CHILD, path, reader], capture_output=True, text=True, env=env,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"the load failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200.0, help="size of the CSV text in MB (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="runs, each in a fresh subprocess (default 3)")
    parser.add_argument("--gz", action="store_true", help="gzip the file (the size compared is the text's)")
    parser.add_argument("--reader", default="", help="a files.py whose load_csv to measure instead")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)

    folder = tempfile.mkdtemp(prefix="tuinet-csv-")
    try:
        path = os.path.join(folder, "big.csv.gz" if args.gz else "big.csv")
        start = time.perf_counter()
        text_bytes = write_csv(path, args.mb)
        print(f"wrote {path}: {text_bytes / 1e6:.0f} MB of text ({os.path.getsize(path) / 1e6:.0f} MB on disk) "
              f"in {time.perf_counter() - start:.1f} s")
        runs = [run_once(path, args.reader) for _ in range(args.runs)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    peak = statistics.median(r["peak"] for r in runs)
    base = statistics.median(r["base"] for r in runs)
    seconds = statistics.median(r["seconds"] for r in runs)
    result = {"text_mb": text_bytes / 1e6, "peak_mb": peak / 1e6, "baseline_mb": base / 1e6,
              "added_mb": (peak - base) / 1e6, "peak_ratio": peak / text_bytes,
              "added_ratio": (peak - base) / text_bytes, "seconds": seconds, "shape": runs[0]["shape"],
              "dtype": runs[0]["dtype"], "runs": runs}
    print(f"x {tuple(result['shape'])} {result['dtype']}, median of {args.runs} runs: peak RSS "
          f"{result['peak_mb']:.0f} MB = {result['peak_ratio']:.2f}x the file "
          f"({result['added_mb']:.0f} MB = {result['added_ratio']:.2f}x over the {result['baseline_mb']:.0f} MB "
          f"baseline), {seconds:.1f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
