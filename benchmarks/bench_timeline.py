"""Memory of the app's timeline (issue 10: at most 64 MB for digits-cnn and for spiral over
100,000 epochs).

For each preset, a `TrainingSession` with frames on (as the app runs it) trains a few epochs,
its events are folded into a `RunHistory` (what the app keeps), and then the timeline is fed
frames of that model's real size for every epoch up to `--epochs` (frames are the same size
whatever their values, so this measures the budget without training 100,000 epochs). With
`--train`, the whole run is trained for real instead (spiral: about 4 minutes per 100,000
epochs on this machine's CPU).

Reported: frames kept, the stride (every k-th epoch), what the frames' arrays take
(`Timeline.nbytes`), and the traced memory the run history holds (tracemalloc), in MB.

    python benchmarks/bench_timeline.py                 # spiral and digits-cnn, 100,000 epochs
    python benchmarks/bench_timeline.py --train --presets spiral --epochs 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import tracemalloc

from tuinet.presets import load_preset
from tuinet.run import RunHistory
from tuinet.session import TrainingSession

MB = 2**20
GOAL = 64 * MB


def measure(preset: str, epochs: int, train: bool) -> dict:
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    run = RunHistory()
    exp = load_preset(preset).with_overrides(epochs=epochs if train else 2)
    session = TrainingSession(exp, frames=True, sink=run.apply, track_confusion=True)
    run.apply(session.ready_event())
    run.apply(dataclasses.replace(session.snapshot(), frame=True))
    started = time.perf_counter()
    session.run()
    seconds = time.perf_counter() - started
    if not train:
        frame = run.timeline.newest

        def copy(arrays):
            return None if arrays is None else {k: v.copy() for k, v in arrays.items()}

        for epoch in range(3, epochs + 1):  # the frames the session would send, each its own arrays
            run.timeline.add(dataclasses.replace(frame, epoch=epoch, weights=copy(frame.weights),
                                                 grads=copy(frame.grads), updates=copy(frame.updates),
                                                 optimizer=copy(frame.optimizer)))
    del session
    traced = sum(stat.size for stat in tracemalloc.take_snapshot().compare_to(base, "filename"))
    tracemalloc.stop()
    timeline = run.timeline
    return {"preset": preset, "epochs": epochs, "trained": train, "seconds": seconds, "frames": len(timeline),
            "stride": timeline.stride, "frame_mb": timeline.nbytes / MB, "traced_mb": traced / MB,
            "first_last": (timeline.epochs[0], timeline.epochs[-1]), "with_optimizer": timeline.newest.optimizer is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["spiral", "digits-cnn"])
    parser.add_argument("--epochs", type=int, default=100_000)
    parser.add_argument("--train", action="store_true", help="train every epoch for real")
    args = parser.parse_args()
    print(f"{'preset':<12} {'epochs':>8} {'mode':>9} {'frames':>6} {'stride':>6} {'frames MB':>10} "
          f"{'traced MB':>10} {'first..last':>14} {'goal':>6}")
    for preset in args.presets:
        r = measure(preset, args.epochs, args.train)
        ok = "ok" if r["traced_mb"] * MB <= GOAL else "OVER"
        mode = f"{r['seconds']:.0f}s train" if r["trained"] else "filled"
        print(f"{r['preset']:<12} {r['epochs']:>8,} {mode:>9} {r['frames']:>6} {r['stride']:>6} "
              f"{r['frame_mb']:>10.2f} {r['traced_mb']:>10.2f} {str(r['first_last']):>14} {ok:>6}")


if __name__ == "__main__":
    main()
