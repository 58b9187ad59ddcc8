"""The Textual app. Imported only by `tuinet` (the CLI) and the app tests, never by the engine."""

from __future__ import annotations


def run_app(experiment, **kwargs) -> None:
    """Open the app on `experiment` in this terminal."""
    from tuinet.app.app import run_app as _run

    _run(experiment, **kwargs)


def make_app(*args, **kwargs):
    """The app factory shared by the CLI and the tests (see `tuinet.app.app.make_app`)."""
    from tuinet.app.app import make_app as _make

    return _make(*args, **kwargs)
