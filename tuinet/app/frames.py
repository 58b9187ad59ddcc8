"""The frame clock's rates: how often the app draws, locally and over SSH.

One place decides: the app's frame clock ticks `refresh_hz` times a second; the views that
cost a link the most, and the session's weight snapshots, follow `heavy_period`.
"""

from __future__ import annotations

import os

REFRESH_RATES = (1.0, 2.0, 5.0, 10.0, 20.0)  # frames per second while training (`f` cycles)
LOCAL_REFRESH = 10.0  # frames per second in a local terminal: the views move smoothly
SSH_REFRESH = 2.0     # over SSH: the byte budgets of a slow link (25 KB/s at 120x40)


def heavy_period(hz: float) -> float:
    """Seconds between two redraws of what costs a link the most (the epoch plots, the boundary
    and neuron maps, the heatmap), and between two weight snapshots, at `hz` frames a second.

    A frame each at 5 frames a second and more (a local terminal); at SSH rates these keep the
    budgets measured before the frame clock: once a second at 2 frames a second (about 20 KB/s
    at 120x40), every 2 s at 1.
    """
    return 1 / hz if hz >= 5 else max(1.0, 2 / hz)


def default_refresh(environ=None) -> float:
    """Frames per second by default: `SSH_REFRESH` over SSH (`SSH_CONNECTION` or `SSH_TTY`
    set), else `LOCAL_REFRESH`."""
    environ = os.environ if environ is None else environ
    return SSH_REFRESH if environ.get("SSH_CONNECTION") or environ.get("SSH_TTY") else LOCAL_REFRESH
