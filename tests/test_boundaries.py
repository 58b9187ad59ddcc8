"""The layering of DESIGN.md holds: nn <- data <- session <- app/cli, and no UI in the engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

UI = ("textual", "textual_plotext", "plotext", "click", "rich")


def imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["tuinet", "tuinet.nn", "tuinet.data", "tuinet.presets", "tuinet.session"])
def test_engine_data_and_session_never_import_the_ui_stack(module):
    mods = imported_after(module)
    leaked = sorted(m for m in mods if m.split(".")[0] in UI)
    assert leaked == [], f"{module} imports {leaked}"


def test_the_engine_does_not_depend_on_data_presets_or_session():
    mods = imported_after("tuinet.nn")
    assert not {"tuinet.data", "tuinet.presets", "tuinet.session", "tuinet.cli", "tuinet.app"} & mods


def test_data_does_not_depend_on_presets_or_session():
    mods = imported_after("tuinet.data")
    assert not {"tuinet.presets", "tuinet.session", "tuinet.cli", "tuinet.app"} & mods
