"""Central finite-difference checks of backward passes, in float64.

Every layer test uses `check_layer`: it builds the layer in float64, runs it on random input,
takes `L = sum(forward(x) * R)` for a fixed random `R` (so dL/dy = R), and compares the
layer's `backward(R)` and its `grads` against `(L(w + h) - L(w - h)) / 2h` for every input
element and every weight element (or a random subset of them for big tensors).
"""

from __future__ import annotations

import numpy as np

from tuinet.nn import backend


def numeric_grad(f, x: np.ndarray, h: float = 1e-6, max_checks: int | None = 400,
                 rng: np.random.Generator | None = None):
    """Central differences of scalar `f()` w.r.t. the array `x` (modified in place).

    Returns (indices, numeric values): every index, or `max_checks` random ones.
    """
    rng = rng or np.random.default_rng(0)
    flat = x.reshape(-1)
    idx = np.arange(flat.size)
    if max_checks is not None and flat.size > max_checks:
        idx = rng.choice(flat.size, size=max_checks, replace=False)
    out = np.empty(idx.size)
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        out[j] = (fp - fm) / (2 * h)
    return idx, out


def assert_close(label: str, analytic: np.ndarray, numeric: np.ndarray, rtol=1e-5, atol=1e-7):
    err = np.abs(analytic - numeric)
    tol = atol + rtol * np.maximum(np.abs(analytic), np.abs(numeric))
    if np.any(err > tol):
        worst = int(np.argmax(err - tol))
        raise AssertionError(f"{label}: analytic {analytic[worst]!r} vs numeric {numeric[worst]!r} "
                             f"(max abs err {err.max():.3e})")


def check_layer(layer, input_shape: tuple, *, x: np.ndarray | None = None, training: bool = False,
                seed: int = 0, rtol: float = 1e-5, atol: float = 1e-7, check_input: bool = True,
                max_checks: int | None = 400, mask: np.ndarray | None = None) -> None:
    """Check `layer`'s input gradient and every parameter gradient against finite differences.

    `input_shape` includes the batch axis. `x` overrides the random input (e.g. integer ids).
    `mask` (boolean `(batch, timesteps)`) is passed to `forward` as `mask=`.
    """
    kw = {} if mask is None else {"mask": mask}
    old = backend.floatx()
    backend.set_floatx("float64")
    try:
        rng = np.random.default_rng(seed)
        if x is None:
            x = rng.normal(size=input_shape)
        x = np.asarray(x)
        if x.dtype.kind == "f":
            x = x.astype(np.float64)
        if not layer.built:
            layer.build_for(x.shape[1:], np.random.default_rng(seed + 1))
        # Move weights off their initial values (zeros biases, ones gammas) so no gradient is trivially 0.
        for k, v in layer.params.items():
            v += rng.normal(scale=0.1, size=v.shape)
        y = layer.forward(x, training=training, **kw)
        r = rng.normal(size=y.shape)

        def loss() -> float:
            return float(np.sum(layer.forward(x, training=training, **kw) * r))

        layer.forward(x, training=training, **kw)
        grad_in = layer.backward(r.copy())
        analytic = {k: g.copy() for k, g in layer.grads.items()}
        if check_input and x.dtype.kind == "f":
            assert grad_in is not None and grad_in.shape == x.shape, (
                f"{type(layer).__name__}: grad_in shape {None if grad_in is None else grad_in.shape} != {x.shape}")
            idx, num = numeric_grad(loss, x, max_checks=max_checks, rng=rng)
            assert_close(f"{type(layer).__name__} d/dx", grad_in.reshape(-1)[idx], num, rtol, atol)
        for k, p in layer.params.items():
            assert analytic[k].shape == p.shape, f"grads[{k!r}] shape {analytic[k].shape} != {p.shape}"
            idx, num = numeric_grad(loss, p, max_checks=max_checks, rng=rng)
            assert_close(f"{type(layer).__name__} d/d{k}", analytic[k].reshape(-1)[idx], num, rtol, atol)
    finally:
        backend.set_floatx(old)


def one_line(exc_info) -> str:
    """The message of a raised error (a `pytest.raises` result), checked to be one line."""
    text = str(exc_info.value)
    assert "\n" not in text, text
    return text


def round_trip(layer):
    """`from_config(get_config())` of `layer` through JSON: an equal, unbuilt clone (returned)."""
    import json

    from tuinet.nn import layers as L

    cfg = layer.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg and not clone.built
    spec = L.serialize(layer)
    assert type(L.deserialize(json.loads(json.dumps(spec)))) is type(layer)
    return clone
