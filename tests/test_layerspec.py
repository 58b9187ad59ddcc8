"""tuinet.layerspec: the one place that turns layer specs into layers and models and back, and
describes them for the app, the CLI and the runs' legends."""

import numpy as np
import pytest

import tuinet
from tuinet import layerspec
from tuinet.errors import ConfigError


def test_make_layer_tuplifies_shape_arguments_and_keeps_the_rest():
    layer = layerspec.make_layer({"type": "Conv2D", "filters": 4, "kernel_size": [3, 3], "padding": "same",
                                  "activation": "relu"})
    assert type(layer).__name__ == "Conv2D" and layer.kernel_size == (3, 3) and layer.padding == "same"
    crop = layerspec.make_layer({"type": "Cropping2D", "cropping": [[1, 0], [0, 2]]})
    assert crop.compute_output_shape((5, 6, 1)) == (4, 4, 1)
    with pytest.raises(ConfigError, match="unknown layer type"):
        layerspec.make_layer({"type": "Dense3000"})


def test_a_stack_round_trips_through_specs():
    specs = ({"type": "Dense", "units": 8, "activation": "relu"}, {"type": "Dropout", "rate": 0.2},
             {"type": "Dense", "units": 2, "activation": "softmax"})
    model = layerspec.make_model(specs, (3,), seed=0)
    assert isinstance(model, tuinet.Sequential) and not layerspec.is_graph(specs)
    again = layerspec.make_model(layerspec.specs_of_model(model), (3,), seed=0)
    again.set_weights(model.get_weights())
    x = np.ones((4, 3), "float32")
    assert np.array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_descriptions_for_the_app_cli_and_legends():
    dense = {"type": "Dense", "units": 16, "activation": "relu"}
    assert layerspec.describe_layer(dense) == "Dense 16 relu"
    assert layerspec.describe_layer({"type": "Conv2D", "filters": 8, "kernel_size": (3, 3), "padding": "same",
                                     "activation": "relu"}) == "Conv2D 8 3x3 same relu"
    assert layerspec.brief(dense) == "Dense 16" and layerspec.brief({"type": "Dropout", "rate": 0.2}) == "Dropout 0.2"
    assert layerspec.brief({"type": "Flatten"}) == "Flatten"
    assert layerspec.new_layer_spec("dense") == {"type": "Dense", "units": 16, "activation": "relu"}
    assert [p.name for p in layerspec.layer_params(tuinet.layers.Dense)][:2] == ["units", "activation"]
