"""Regularizers: Keras formulas `l1 * sum|w| + l2 * sum(w**2)`, gradients, names, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tuinet.errors import ConfigError
from tuinet.nn import regularizers

W = np.array([[1.0, -2.0, 0.0], [0.5, -0.25, 3.0]])
SUM_ABS = 1 + 2 + 0 + 0.5 + 0.25 + 3      # 6.75
SUM_SQ = 1 + 4 + 0 + 0.25 + 0.0625 + 9    # 14.3125


def test_l1_l2_l1l2_values():
    assert regularizers.L1()(W) == pytest.approx(0.01 * SUM_ABS)
    assert regularizers.L2()(W) == pytest.approx(0.01 * SUM_SQ)
    assert regularizers.L1(0.3)(W) == pytest.approx(0.3 * SUM_ABS)
    assert regularizers.L2(0.2)(W) == pytest.approx(0.2 * SUM_SQ)  # no 1/2, as in Keras
    assert regularizers.L1L2(l1=0.1, l2=0.05)(W) == pytest.approx(0.1 * SUM_ABS + 0.05 * SUM_SQ)
    assert regularizers.L1L2()(W) == 0.0
    assert isinstance(regularizers.L2()(W.astype(np.float32)), float)


def test_gradients_match_formula_and_central_differences():
    reg = regularizers.L1L2(l1=0.1, l2=0.05)
    g = reg.gradient(W)
    np.testing.assert_allclose(g, 0.1 * np.sign(W) + 2 * 0.05 * W)
    w = W + 0.01  # away from the kink of |w| at 0
    h = 1e-6
    numeric = np.empty_like(w)
    for i in range(w.size):
        wp, wm = w.copy(), w.copy()
        wp.flat[i] += h
        wm.flat[i] -= h
        numeric.flat[i] = (reg(wp) - reg(wm)) / (2 * h)
    np.testing.assert_allclose(reg.gradient(w), numeric, rtol=1e-6)
    assert regularizers.L2().gradient(W.astype(np.float32)).dtype == np.float32


def test_get_names_instances_and_dicts():
    assert regularizers.get(None) is None
    assert isinstance(regularizers.get("l1"), regularizers.L1)
    assert isinstance(regularizers.get("L2"), regularizers.L2)
    assert isinstance(regularizers.get("l1_l2"), regularizers.L1L2)
    reg = regularizers.L2(0.3)
    assert regularizers.get(reg) is reg
    for reg in (regularizers.L1(0.2), regularizers.L2(0.5), regularizers.L1L2(0.1, 0.4)):
        clone = regularizers.get(regularizers.serialize(reg))
        assert type(clone) is type(reg) and clone.get_config() == reg.get_config()
    assert regularizers.serialize(None) is None
    assert regularizers.L2(np.float32(0.5)).l2 == 0.5


@pytest.mark.parametrize("make, arg", [
    (lambda: regularizers.L1(-0.1), "l1"),
    (lambda: regularizers.L2("big"), "l2"),
    (lambda: regularizers.L2(float("nan")), "l2"),
    (lambda: regularizers.L1L2(l1=True), "l1"),
    (lambda: regularizers.L1L2(l2=float("inf")), "l2"),
])
def test_bad_values(make, arg):
    with pytest.raises(ConfigError, match=f"{arg} must be a non-negative number"):
        make()


def test_unknown_names():
    with pytest.raises(ConfigError, match="unknown regularizer 'l3'; choose from l1, "):
        regularizers.get("l3")
    with pytest.raises(ConfigError, match='did you mean "l1_l2"'):
        regularizers.get("l1_l3")
    with pytest.raises(ConfigError, match="unknown regularizer"):
        regularizers.get(0.01)
