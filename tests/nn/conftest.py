"""Fixtures shared by the engine's tests."""

import pytest

from tuinet.nn import backend


@pytest.fixture
def float64():
    """Compute in float64 for the test (finite-difference gradient checks), then restore floatx."""
    old = backend.floatx()
    backend.set_floatx("float64")
    yield
    backend.set_floatx(old)
