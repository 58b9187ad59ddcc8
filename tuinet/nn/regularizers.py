"""Weight penalties L1, L2 and L1L2 with Keras's formulas (no 1/2 in L2)."""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, unknown_name


class Regularizer:
    name = "regularizer"

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        for label, v in (("l1", l1), ("l2", l2)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not 0 <= v < float("inf"):
                raise ConfigError(f"{type(self).__name__}: {label} must be a non-negative number, got {v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w: np.ndarray) -> float:
        """The penalty added to the loss: `l1 * sum|w| + l2 * sum(w**2)`."""
        out = 0.0
        if self.l1:
            out += self.l1 * float(np.abs(w).sum())
        if self.l2:
            out += self.l2 * float(np.square(w).sum())
        return out

    def gradient(self, w: np.ndarray) -> np.ndarray:
        g = np.zeros_like(w)
        if self.l1:
            g += self.l1 * np.sign(w)
        if self.l2:
            g += (2 * self.l2) * w
        return g

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1(Regularizer):
    name = "l1"

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    name = "l2"

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    name = "l1_l2"

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        super().__init__(l1=l1, l2=l2)


REGULARIZERS: dict[str, type[Regularizer]] = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}

l1, l2, l1_l2 = L1, L2, L1L2  # Keras's lowercase aliases: `kernel_regularizer=regularizers.l2(0.001)`


def get(spec) -> Regularizer | None:
    """A regularizer from None, a name ('l2'), an instance or a `{"name", "config"}` dict."""
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, dict):
        return get(spec.get("name")).__class__(**spec.get("config", {}))
    if not isinstance(spec, str) or spec.lower() not in REGULARIZERS:
        raise unknown_name("regularizer", spec, REGULARIZERS)
    return REGULARIZERS[spec.lower()]()


def serialize(reg: Regularizer | None):
    return None if reg is None else {"name": reg.name, "config": reg.get_config()}
