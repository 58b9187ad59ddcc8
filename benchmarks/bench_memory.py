#!/usr/bin/env python
"""Issue 11, part 6: does a long run in the app stay bounded?

Runs the app headless (Textual's `run_test`, training in its child process as `tuinet` does)
on xor at pace max for `--seconds` after a `--warmup`, and prints the app's resident memory
at both ends (MB a minute), the epochs trained and the sizes of what the app keeps per run
(per-epoch history entries, log lines, timeline frames, gradient norms). Before the bounded
history the app grew about 8 MB a minute here (its per-epoch lists grew with every epoch);
bounded, the stores stop growing once full and so does the memory.

    python benchmarks/bench_memory.py --seconds 120
    PYTHONPATH=/path/to/old/checkout python benchmarks/bench_memory.py   # the same for another tree

(`bench_app.py --only memory` measures a real pty run too, but its RSS readings over a pty
are noisier; this one is repeatable.)
"""

from __future__ import annotations

import argparse
import asyncio


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def measure(seconds: float, warmup: float) -> dict:
    from tuinet.app.app import make_app

    app = make_app("xor", seed=0, epochs=10**7, training="process", pace=float("inf"), show_timing=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(1.0)
        await pilot.press("space")
        await pilot.pause(warmup)
        start, e0 = rss_mb(), app.live_run.epoch
        await pilot.pause(seconds)
        end, e1 = rss_mb(), app.live_run.epoch
        run = app.live_run
        sizes = {"history entries": len(next(iter(run.history.values()), ())),
                 "log lines": len(run.lines), "frames": len(run.timeline), "gradient norms": len(run.grad_norms)}
        await pilot.press("q")
    return {"start_mb": start, "end_mb": end, "mb_per_min": (end - start) / seconds * 60,
            "epochs": (e0, e1), "sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="seconds measured (after the warm-up)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of training before the first reading")
    args = parser.parse_args()
    r = asyncio.run(measure(args.seconds, args.warmup))
    print(f"xor at pace max in the app, {args.seconds:.0f} s after {args.warmup:.0f} s: "
          f"RSS {r['start_mb']:.1f} -> {r['end_mb']:.1f} MB ({r['mb_per_min']:+.2f} MB/min), "
          f"epochs {r['epochs'][0]:,} -> {r['epochs'][1]:,}")
    print("kept per run: " + ", ".join(f"{k} {v:,}" for k, v in r["sizes"].items()))


if __name__ == "__main__":
    main()
