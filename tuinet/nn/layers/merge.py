"""Keras's merge layers: layers that take a list of tensors and return one.

Elementwise: `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`. Their inputs
broadcast as Keras's `_compute_elemwise_op_output_shape` allows: shapes are aligned on their
last axes, a 1 stretches to the other size, and an input of lower rank gets new axes right after
the batch axis (Keras's `expand_dims(x, 1)`), so `(batch, 3)` merges with `(batch, 4, 3)`.
`backward` sums each input's gradient back over the axes it was broadcast along.

Others: `Concatenate(axis)` and `Dot(axes, normalize)` (Keras's `batch_dot`). Each layer has a
functional helper as in Keras (`add([a, b])` is `Add()([a, b])`, `concatenate(xs, axis=1)`...).

All of them are weightless and set `multi_input`: shapes arrive as a list (each without the
batch axis), `forward` takes a list of arrays and `backward` returns one gradient per input.
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import backend
from tuinet.nn.layers.base import Layer, check_bool


def _fmt(shape) -> str:
    """A shape without its batch axis, shown with it as Keras does: `(3,)` -> "(None, 3)"."""
    return str((None, *shape))


def _fmt_all(shapes) -> str:
    """"(None, 3) and (None, 4)", or "(None, 3), (None, 4) and (None, 5)"."""
    text = [_fmt(s) for s in shapes]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class _Merge(Layer):
    """Shared plumbing of the merge layers: input checks and dtype handling.

    Subclasses set `min_inputs`/`max_inputs` and implement `_output_shape(shapes)`.
    """

    multi_input = True
    min_inputs = 2
    max_inputs: int | None = None

    def _check_count(self, shapes) -> list[tuple]:
        name = type(self).__name__
        if not isinstance(shapes, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in shapes):
            raise ShapeError(f"{name}: expects a list of input shapes, got {shapes!r}")
        n = len(shapes)
        if self.max_inputs == self.min_inputs and n != self.min_inputs:
            raise ShapeError(f"{name}: expects exactly {self.min_inputs} inputs, got {n}")
        if n < self.min_inputs:
            raise ShapeError(f"{name}: expects a list of at least {self.min_inputs} "
                             f"input{'s' if self.min_inputs > 1 else ''}, got {n}")
        return [tuple(s) for s in shapes]

    def compute_output_shape(self, input_shapes):
        return self._output_shape(self._check_count(input_shapes))

    def _output_shape(self, shapes: list[tuple]) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self, xs) -> list[np.ndarray]:
        """Check a call's arrays (count, batch sizes, shapes); non-float inputs become floats."""
        name = type(self).__name__
        if not isinstance(xs, (list, tuple)):
            raise ShapeError(f"{name}: expects a list of input tensors, got {type(xs).__name__}")
        xs = [np.asarray(x) for x in xs]
        xs = [x if x.dtype.kind == "f" else x.astype(self.compute_dtype) for x in xs]
        if any(x.ndim == 0 for x in xs):
            raise ShapeError(f"{name}: inputs need a batch axis, got shapes {', '.join(str(x.shape) for x in xs)}")
        self._check_count([x.shape[1:] for x in xs])
        batches = sorted({x.shape[0] for x in xs})
        if len(batches) > 1:
            raise ShapeError(f"{name}: inputs must have the same batch size, got "
                             f"{', '.join(str(x.shape[0]) for x in xs)}")
        self._output_shape([x.shape[1:] for x in xs])
        return xs

    def forward(self, xs, *, training=False):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out):  # pragma: no cover - abstract
        raise NotImplementedError


# ------------------------------------------------------------------------------- elementwise merges
class _ElementwiseMerge(_Merge):
    """An elementwise merge with Keras's broadcasting (see the module docstring)."""

    def _output_shape(self, shapes):
        # Keras's `_compute_elemwise_op_output_shape`, folded over the inputs: aligned on the
        # last axes; None (unknown) wins over everything, a 1 takes the other size.
        out = shapes[0]
        for shape in shapes[1:]:
            long, short = (out, shape) if len(out) >= len(shape) else (shape, out)
            if not short:
                out = long
                continue
            merged = list(long[:len(long) - len(short)])
            for i, j in zip(long[len(long) - len(short):], short):
                if i is None or j is None:
                    merged.append(None)
                elif i == 1:
                    merged.append(j)
                elif j == 1 or i == j:
                    merged.append(i)
                else:
                    raise ShapeError(f"{type(self).__name__}: inputs must have broadcast-compatible shapes, "
                                     f"got {_fmt_all(shapes)}")
            out = tuple(merged)
        return tuple(out)

    def forward(self, xs, *, training=False):
        xs = self._prepare(xs)
        self._shapes = [x.shape for x in xs]
        self._dtypes = [x.dtype for x in xs]
        ndim = max(x.ndim for x in xs)
        # Keras's `expand_dims(x, axis=1)` until every input has the same rank.
        aligned = [x.reshape(x.shape[:1] + (1,) * (ndim - x.ndim) + x.shape[1:]) for x in xs]
        return self._merge(aligned)

    def backward(self, grad_out):
        return [self._reduce(g, i) for i, g in enumerate(self._merge_grads(grad_out))]

    def _reduce(self, grad: np.ndarray, i: int) -> np.ndarray:
        """Sum `grad` (output-shaped, or already smaller) back to input `i`'s shape."""
        shape = self._shapes[i]
        grad = np.asarray(grad)
        lead = grad.ndim - len(shape)
        if lead:
            grad = grad.sum(axis=tuple(range(1, 1 + lead)))
        axes = tuple(a for a in range(1, len(shape)) if shape[a] == 1 and grad.shape[a] != 1)
        if axes:
            grad = grad.sum(axis=axes, keepdims=True)
        grad = np.broadcast_to(grad, shape) if grad.shape != shape else grad
        return np.array(grad, dtype=self._dtypes[i], copy=True)

    def _merge(self, aligned: list[np.ndarray]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _merge_grads(self, grad_out: np.ndarray) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


class Add(_ElementwiseMerge):
    """Elementwise sum of a list of at least 2 inputs: `x1 + x2 + ...`."""

    def _merge(self, aligned):
        self._n = len(aligned)
        out = aligned[0]
        for x in aligned[1:]:
            out = out + x
        return out

    def _merge_grads(self, grad_out):
        return [grad_out] * self._n


class Subtract(_ElementwiseMerge):
    """Elementwise difference of exactly 2 inputs: `x1 - x2`."""

    min_inputs = max_inputs = 2

    def _merge(self, aligned):
        return aligned[0] - aligned[1]

    def _merge_grads(self, grad_out):
        return [grad_out, -grad_out]


class Multiply(_ElementwiseMerge):
    """Elementwise product of a list of at least 2 inputs: `x1 * x2 * ...`."""

    def _merge(self, aligned):
        self._aligned = aligned
        out = aligned[0]
        for x in aligned[1:]:
            out = out * x
        return out

    def _merge_grads(self, grad_out):
        # The product of the other inputs, without dividing (so zeros are fine).
        grads = []
        for i in range(len(self._aligned)):
            g = grad_out
            for j, x in enumerate(self._aligned):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


class Average(_ElementwiseMerge):
    """Elementwise mean of a list of at least 2 inputs: `(x1 + x2 + ...) / n`."""

    def _merge(self, aligned):
        self._n = len(aligned)
        out = aligned[0]
        for x in aligned[1:]:
            out = out + x
        return out / self._n

    def _merge_grads(self, grad_out):
        return [grad_out / self._n] * self._n


class _ExtremumMerge(_ElementwiseMerge):
    """Maximum/Minimum: the gradient goes to the input holding the extremum.

    On ties the whole gradient goes to the FIRST input holding it (`np.argmax`'s choice), the
    subgradient TensorFlow's `maximum(x, y)` gives `x` on `x == y`, chained over the inputs.
    Keras on torch splits a tie half and half instead (`torch.maximum`); the two agree
    everywhere else.
    """

    _pick = staticmethod(np.argmax)

    def _merge(self, aligned):
        stacked = np.stack(np.broadcast_arrays(*aligned))
        self._n = len(aligned)
        self._winner = self._pick(stacked, axis=0)
        return np.take_along_axis(stacked, self._winner[None], axis=0)[0]

    def _merge_grads(self, grad_out):
        return [np.where(self._winner == i, grad_out, grad_out.dtype.type(0)) for i in range(self._n)]


class Maximum(_ExtremumMerge):
    """Elementwise maximum of a list of at least 2 inputs.

    The gradient goes to the input holding the maximum; on ties, to the first of them.
    """

    _pick = staticmethod(np.argmax)


class Minimum(_ExtremumMerge):
    """Elementwise minimum of a list of at least 2 inputs.

    The gradient goes to the input holding the minimum; on ties, to the first of them.
    """

    _pick = staticmethod(np.argmin)


# ------------------------------------------------------------------------------------ concatenate
class Concatenate(_Merge):
    """Concatenates a list of inputs along `axis`.

    All inputs have the same shape except along `axis` (unknown `None` sizes match anything).

    Args:
        axis: The axis to concatenate along, counting the batch axis as Keras does: -1 is the
            last axis, 1 the first non-batch axis; the batch axis (0) is refused.
    """

    min_inputs = 1  # Keras 3 takes a list of one input (and returns it)

    def __init__(self, axis=-1, **kwargs) -> None:
        super().__init__(**kwargs)
        if not _is_int(axis):
            raise ConfigError(f"Concatenate: axis must be an integer, got {axis!r}")
        self.axis = int(axis)

    def _resolve_axis(self, shapes) -> int:
        """The concatenation axis as an index into the shapes without the batch axis."""
        rank = len(shapes[0]) + 1
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ShapeError(f"Concatenate: axis {self.axis} is out of range for inputs of shape {_fmt(shapes[0])} "
                             f"(axis 0 is the batch axis)")
        return axis - 1

    def _output_shape(self, shapes):
        bad = ShapeError(f"Concatenate: inputs must have the same shape except along axis {self.axis}, "
                         f"got {_fmt_all(shapes)}")
        if len({len(s) for s in shapes}) != 1:
            raise bad
        axis = self._resolve_axis(shapes)
        out = []
        for i, dims in enumerate(zip(*shapes)):
            if i == axis:
                out.append(None if None in dims else sum(int(d) for d in dims))
                continue
            known = {int(d) for d in dims if d is not None}
            if len(known) > 1:
                raise bad
            out.append(known.pop() if known else None)
        return tuple(out)

    def forward(self, xs, *, training=False):
        xs = self._prepare(xs)
        axis = self._resolve_axis([x.shape[1:] for x in xs]) + 1
        self._axis = axis
        self._dtypes = [x.dtype for x in xs]
        self._splits = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, grad_out):
        parts = np.split(grad_out, self._splits, axis=self._axis)
        return [np.array(p, dtype=d, copy=True) for p, d in zip(parts, self._dtypes)]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


# -------------------------------------------------------------------------------------------- dot
class Dot(_Merge):
    """Dot product of two inputs along one axis each (Keras's `batch_dot`), sample by sample.

    For `x1` of shape `(batch, *a)` and `x2` of shape `(batch, *b)` summed over `a[i]` and
    `b[j]`, the output is `(batch, *a without i, *b without j)`, and `(batch, 1)` when that
    leaves nothing: two `(batch, n)` inputs give `(batch, 1)`; `(batch, 3, 5)` and
    `(batch, 10, 3)` with `axes=(1, 2)` give `(batch, 5, 10)`. Inputs of any rank >= 2 work.

    Args:
        axes: An int (the same axis of both inputs) or a pair `(axis of x1, axis of x2)`,
            counting the batch axis (which cannot be summed over); negative counts from the
            end of each input.
        normalize: L2-normalize each input along its dot axis first, so the output is the
            cosine similarity. As in Keras 3, `x * min(1 / sqrt(sum(x ** 2)), 1 / epsilon)`
            with `epsilon = 1e-7` (`backend.epsilon()`).
    """

    min_inputs = max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs) -> None:
        super().__init__(**kwargs)
        if _is_int(axes):
            axes = int(axes)
        elif isinstance(axes, (list, tuple)) and len(axes) == 2 and all(_is_int(a) for a in axes):
            axes = [int(a) for a in axes]
        else:
            raise ConfigError(f"Dot: axes must be an integer or a pair of integers, got {axes!r}")
        self.axes = axes
        self.normalize = check_bool("Dot", "normalize", normalize)

    def _resolve_axes(self, shapes) -> tuple[int, int]:
        """The two dot axes as indices into the full shapes (batch axis = 0)."""
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else self.axes
        out = []
        for a, shape in zip(pair, shapes):
            rank = len(shape) + 1
            r = a + rank if a < 0 else a
            if not 1 <= r < rank:
                raise ShapeError(f"Dot: axes {self.axes} are out of range for inputs of shape {_fmt_all(shapes)} "
                                 f"(axis 0 is the batch axis)")
            out.append(r)
        return out[0], out[1]

    def _output_shape(self, shapes):
        s1, s2 = shapes
        if not s1 or not s2:
            raise ShapeError(f"Dot: inputs must have rank >= 2 (batch, ...), got {_fmt_all(shapes)}")
        a1, a2 = self._resolve_axes(shapes)
        d1, d2 = s1[a1 - 1], s2[a2 - 1]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ShapeError(f"Dot: the dot axes must have the same size, got {d1} (axis {a1} of x1) and {d2} "
                             f"(axis {a2} of x2) for inputs {_fmt_all(shapes)}")
        out = [d for i, d in enumerate(s1) if i != a1 - 1] + [d for i, d in enumerate(s2) if i != a2 - 1]
        return tuple(out) if out else (1,)

    def _l2_normalize(self, x: np.ndarray, axis: int):
        """Keras 3's `ops.normalize(order=2)`: `x * min(rsqrt(sum(x**2)), 1 / epsilon)`."""
        t = x.dtype.type
        norm = np.sqrt(np.sum(np.square(x), axis=axis, keepdims=True))
        scaled = norm > t(backend.epsilon())
        inv = t(1) / np.maximum(norm, t(backend.epsilon()))
        return x * inv, inv, scaled

    def forward(self, xs, *, training=False):
        xs = self._prepare(xs)
        a1, a2 = self._resolve_axes([x.shape[1:] for x in xs])
        x1, x2 = xs
        self._axes = (a1, a2)
        self._dtypes = [x.dtype for x in xs]
        if self.normalize:
            x1, inv1, ok1 = self._l2_normalize(x1, a1)
            x2, inv2, ok2 = self._l2_normalize(x2, a2)
            self._norm = ((x1, inv1, ok1), (x2, inv2, ok2))
        m1 = np.moveaxis(x1, a1, -1)  # (batch, *rest1, k)
        m2 = np.moveaxis(x2, a2, 1)   # (batch, k, *rest2)
        self._m1_shape, self._m2_shape = m1.shape, m2.shape
        b, k = m1.shape[0], m1.shape[-1]
        self._r1 = m1.reshape(b, -1, k)
        self._r2 = m2.reshape(b, k, -1)
        out = np.matmul(self._r1, self._r2)
        shape = m1.shape[:-1] + m2.shape[2:]
        return out.reshape(shape if len(shape) > 1 else (b, 1))

    def backward(self, grad_out):
        b = self._r1.shape[0]
        g = np.asarray(grad_out).reshape(b, self._r1.shape[1], self._r2.shape[2])
        g1 = np.matmul(g, np.swapaxes(self._r2, 1, 2)).reshape(self._m1_shape)
        g2 = np.matmul(np.swapaxes(self._r1, 1, 2), g).reshape(self._m2_shape)
        a1, a2 = self._axes
        grads = [np.moveaxis(g1, -1, a1), np.moveaxis(g2, 1, a2)]
        if self.normalize:
            for i, ((n, inv, scaled), axis) in enumerate(zip(self._norm, self._axes)):
                # n = x * inv; where the norm is above epsilon, inv = 1/|x| also depends on x.
                dot = np.sum(grads[i] * n, axis=axis, keepdims=True)
                grads[i] = inv * (grads[i] - np.where(scaled, n * dot, n.dtype.type(0)))
        return [np.array(g, dtype=d, copy=True) for g, d in zip(grads, self._dtypes)]

    def get_config(self):
        axes = self.axes if isinstance(self.axes, int) else list(self.axes)
        return {**super().get_config(), "axes": axes, "normalize": self.normalize}


# ------------------------------------------------------------------------------ functional helpers
def add(inputs, **kwargs):
    """Keras's `layers.add`: `Add(**kwargs)(inputs)`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Keras's `layers.subtract`: `Subtract(**kwargs)(inputs)`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Keras's `layers.multiply`: `Multiply(**kwargs)(inputs)`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Keras's `layers.average`: `Average(**kwargs)(inputs)`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Keras's `layers.maximum`: `Maximum(**kwargs)(inputs)`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Keras's `layers.minimum`: `Minimum(**kwargs)(inputs)`."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Keras's `layers.concatenate`: `Concatenate(axis=axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """Keras's `layers.dot`: `Dot(axes=axes, normalize=normalize, **kwargs)(inputs)`."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
