"""Keras features tuinet does not support (issue 13) fail with one clear line, not a traceback
from deep inside the engine: Model subclasses whose call() cannot be traced or that override
train_step, custom layers with only `call()`, and custom loss functions. Model subclasses that
compose layers and NumPy metric functions are supported."""

import numpy as np
import pytest

import tuinet
from tuinet import ConfigError, layers, losses


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


# -- (a) tuinet.Model ---------------------------------------------------------------------------
def test_model_is_exported_and_sequential_is_a_model():
    assert tuinet.Model is tuinet.models.Model
    model = tuinet.Sequential([layers.Input((2,)), layers.Dense(1)])
    assert isinstance(model, tuinet.Model)
    assert issubclass(tuinet.Sequential, tuinet.Model)


def test_model_subclass_whose_call_composes_layers_trains_like_keras():
    """Keras's subclassing recipe: layers in __init__, call() composes them; tuinet traces call once."""
    class MyModel(tuinet.Model):
        def __init__(self):
            super().__init__(name="mine")
            self.d1 = layers.Dense(8, activation="relu")
            self.d2 = layers.Dense(3)

        def call(self, x):
            return self.d2(self.d1(x))

    model = MyModel()
    assert isinstance(model, tuinet.Model) and not model.built
    model.compile("adam", tuinet.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 5)).astype("float32"), rng.integers(0, 3, 64)
    history = model.fit(x, y, epochs=5, verbose=0)
    assert model.built and history.history["loss"][-1] < history.history["loss"][0]
    assert [lay.name for lay in model.layers][1:] == [model.d1.name, model.d2.name]
    twin = tuinet.Model(inp := tuinet.Input((5,)), model.d2(model.d1(inp)))  # same layers, same weights
    assert np.allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    assert model(x).shape == (64, 3) and len(model.trainable_weights) == 4


def test_model_subclass_with_explicit_build_and_several_inputs():
    class Two(tuinet.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = layers.Dense(4), layers.Dense(4)
            self.out = layers.Dense(1)

        def call(self, inputs):
            left, right = inputs
            return self.out(layers.add([self.a(left), self.b(right)]))

    model = Two()
    model.build([(None, 3), (None, 2)])
    assert model.built and model.output_shape == (None, 1)
    model.compile("sgd", "mse")
    model.fit([np.ones((8, 3)), np.ones((8, 2))], np.zeros((8, 1)), epochs=1, verbose=0)


def test_model_subclass_that_cannot_be_traced_is_one_line():
    class Scaled(tuinet.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, x):
            return self.d(x) * 2.0  # arithmetic with a constant: no layer does it

    with pytest.raises(ConfigError) as exc:
        Scaled().fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    msg = _one_line(exc)
    assert msg.startswith("Scaled.call cannot run on symbolic tensors") and "functional API" in msg

    class NoCall(tuinet.Model):
        pass

    with pytest.raises(ConfigError, match="NoCall: a tuinet.Model subclass needs a call"):
        NoCall().build((None, 3))


def test_model_subclass_overriding_train_step_is_refused_in_one_line():
    class GAN(tuinet.Model):
        def train_step(self, data):
            return {}

    with pytest.raises(ConfigError) as exc:
        GAN()
    assert "train_step needs automatic differentiation" in _one_line(exc)


def test_model_subclass_without_super_init_still_works():
    class MyModel(tuinet.Model):
        def __init__(self, units):
            self.d = layers.Dense(units)

        def call(self, x):
            return self.d(x)

    model = MyModel(3)
    assert model.predict(np.ones((2, 4)), verbose=0).shape == (2, 3)
    with pytest.raises(AttributeError, match="before it is built"):
        MyModel(2).summary()


def test_model_without_inputs_and_outputs_is_one_line():
    with pytest.raises(ConfigError) as exc:
        tuinet.Model()
    assert "tuinet.Model(inputs, outputs)" in _one_line(exc)
    with pytest.raises(ConfigError, match="give both inputs and outputs"):
        tuinet.models.Model(inputs=tuinet.Input((4,)))


# -- (b) custom layers with only call() ---------------------------------------------------------
class CallOnly(layers.Layer):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):  # Keras's signature, no rng
        pass

    def call(self, x):
        return x * 2


class ForwardOnly(layers.Layer):
    def forward(self, x, *, training=False):
        return x * 2


CUSTOM_LAYER = ("CallOnly: a custom layer's call() runs in tuinet when it only composes tuinet layers; this one "
                "cannot run on symbolic tensors")


def test_call_only_layer_that_cannot_be_traced_is_refused_when_the_model_builds():
    with pytest.raises(ConfigError) as exc:  # an Input builds the model at once
        tuinet.Sequential([layers.Input((3,)), CallOnly(), layers.Dense(2)])
    assert _one_line(exc).startswith(CUSTOM_LAYER) and "forward() and backward()" in _one_line(exc)
    model = tuinet.Sequential([CallOnly(), layers.Dense(2)])  # no input shape: built on first data
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ConfigError) as exc:
        model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)
    assert _one_line(exc).startswith(CUSTOM_LAYER)


def test_call_only_layer_called_on_arrays_runs_its_call():
    assert np.array_equal(CallOnly()(np.ones((2, 3))), np.full((2, 3), 2.0))


class Block(layers.Layer):
    """A Keras-style custom layer that only composes built-in layers (and adds tensors)."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.Dense(units, activation="tanh")
        self.drop = layers.Dropout(0.5)
        self.outer = layers.Dense(units)

    def call(self, x, training=False):
        return self.outer(self.drop(self.inner(x), training=training)) + x


def test_call_only_layer_composing_layers_is_traced_in_stacks_and_graphs():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")
    stack = tuinet.Sequential([layers.Input((4,)), Block(), layers.Dense(1)], seed=0)
    stack.compile("sgd", "mse")
    # the loss without dropout (evaluate), before and after: the training loss itself, with
    # Dropout(0.5) over 32 samples, may well rise over a few epochs
    before = stack.evaluate(x, y, verbose=0)
    stack.fit(x, y, epochs=20, verbose=0)
    assert stack.evaluate(x, y, verbose=0) < before and stack.count_params() == 2 * 20 + 5
    assert "block (Block)" in stack.summary_text()  # the user's class, as Keras's summary
    block = Block()
    inp = layers.Input((4,))
    graph = tuinet.Model(inp, layers.Dense(1)(block(inp)))
    # the traced call is the same computation as the same layers wired by hand (dropout off at inference)
    expected = graph.layers[-1](block.outer(block.inner(x)) + x)
    assert np.allclose(graph.predict(x, verbose=0), expected, atol=1e-6)
    drop_node = next(n for n in graph._nodes if n.layer is block.drop)
    assert drop_node.training is None  # call's training=False default did not freeze the Dropout


def test_forward_without_backward_is_refused():
    with pytest.raises(ConfigError, match="ForwardOnly: a custom layer needs forward\\(\\) and backward\\(\\)"):
        tuinet.Sequential([layers.Input((3,)), ForwardOnly(), layers.Dense(2)]).predict(np.ones((2, 3)), verbose=0)


def test_custom_layer_with_forward_and_backward_trains():
    class Double(layers.Layer):
        def forward(self, x, *, training=False):
            return x * 2

        def backward(self, grad_out):
            return grad_out * 2 if self.needs_input_grad else None

    model = tuinet.Sequential([layers.Input((3,)), layers.Dense(3), Double(), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((8, 3)), np.ones((8, 2)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_every_builtin_layer_class_passes_the_check():
    from tuinet.nn.layers.base import Layer

    seen, todo = set(), [Layer]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    concrete = [c for c in seen if c.__module__.startswith("tuinet.") and not c.__name__.startswith("_")]
    assert len(concrete) > 20
    for cls in concrete:
        assert cls.forward is not Layer.forward and cls.backward is not Layer.backward, cls.__name__


# -- (c) custom losses and metrics --------------------------------------------------------------
def _model():
    return tuinet.Sequential([layers.Input((3,)), layers.Dense(2)])


def test_custom_loss_function_is_refused_naming_the_alternatives():
    def my_loss(y_true, y_pred):
        return np.mean((y_true - y_pred) ** 2)

    with pytest.raises(ConfigError) as exc:
        _model().compile(optimizer="sgd", loss=my_loss)
    msg = _one_line(exc)
    assert msg.startswith("loss my_loss: tuinet cannot train with a custom loss function (no automatic differentiation)")
    for alternative in ("'mse'", "tuinet.losses.Huber()", "subclass tuinet.losses.Loss", "_loss(y_true, y_pred, grad)"):
        assert alternative in msg


def test_lambda_and_callable_object_losses_are_refused():
    class Fn:
        def __call__(self, y_true, y_pred):
            return 0.0

    for spec in (lambda y_true, y_pred: 0.0, Fn()):
        with pytest.raises(ConfigError, match="cannot train with a custom loss function"):
            losses.get(spec)


def test_keras_style_loss_subclass_with_only_call_is_refused():
    class MyLoss(losses.Loss):
        def call(self, y_true, y_pred):
            return np.mean((y_true - y_pred) ** 2, axis=-1)

    for spec in (MyLoss, MyLoss()):
        with pytest.raises(ConfigError, match="^loss MyLoss: tuinet cannot train"):
            losses.get(spec)


def test_builtin_loss_functions_and_classes_still_work():
    assert losses.get(losses.mean_squared_error).name == "mean_squared_error"
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    with pytest.raises(ConfigError, match="loss must be a name"):
        losses.get(3)


def test_the_named_alternative_a_loss_subclass_with_a_gradient_trains():
    class HalfSquared(losses.Loss):
        name = "half_squared"

        def _loss(self, yt, yp, grad):
            diff = yp - yt
            values = 0.5 * np.mean(diff ** 2, axis=-1)
            return values, (diff / diff.size if grad else None)

    model = _model()
    model.compile(optimizer=tuinet.optimizers.SGD(0.1), loss=HalfSquared())
    x, y = np.random.default_rng(0).normal(size=(32, 3)), np.ones((32, 2))
    history = model.fit(x, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_numpy_metric_function_is_supported():
    def mean_abs(y_true, y_pred):
        return np.mean(np.abs(y_true - y_pred), axis=-1)

    model = _model()
    model.compile(optimizer="sgd", loss="mse", metrics=[mean_abs])
    x, y = np.ones((4, 3)), np.ones((4, 2))
    history = model.fit(x, y, epochs=1, verbose=0)
    assert "mean_abs" in history.history
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    expected = np.mean(np.abs(y - model.predict(x, verbose=0)))
    assert result["mean_abs"] == pytest.approx(expected, rel=1e-5)
