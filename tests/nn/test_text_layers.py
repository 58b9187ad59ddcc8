"""TextVectorization, StringLookup, IntegerLookup and CategoryEncoding (tuinet/nn/layers/text.py).

Every expected value below was computed with Keras 3.15 and TensorFlow 2 (CPU): vocabulary
orders, ids, multi_hot/count/tf_idf vectors. Keras returns int64 for the lookup layers'
multi_hot/count vectors; tuinet returns the same values as float32.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import tuinet
from tests.nn.gradcheck import one_line
from tuinet import layers as L
from tuinet.errors import ConfigError, DataError, ShapeError
from tuinet.nn.layers.text import CategoryEncoding, IntegerLookup, StringLookup, TextVectorization

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "A cat, a dog; and a bird?",
         "Dogs & cats -- living together...", "  extra   spaces\there\n", "Émile's CAFÉ (naïve) costs $5.00",
         "nbsp\xa0split\u2003em", "b a c b a c"]
SHORT = ["The cat sat on the mat.", "The dog ate my homework!", "A cat, a dog; and a bird?", "b a c b a c"]


def round_trip(layer):
    cfg = layer.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    clone = type(layer).from_config(json.loads(json.dumps(cfg)))
    assert clone.get_config() == cfg
    assert type(L.deserialize(json.loads(json.dumps(L.serialize(layer))))) is type(layer)
    return clone


# --------------------------------------------------------------------------- TextVectorization
def test_adapt_orders_the_vocabulary_as_keras_and_pads_or_truncates():
    tv = TextVectorization(output_sequence_length=6)
    tv.adapt(TEXTS)
    # Count first, ties from the highest token down (bytes order: "Émiles" above "together");
    # ASCII-only lowercasing ("cafÉ") and ASCII-only whitespace ("\xa0" and "\u2003" do not split).
    assert tv.get_vocabulary() == [
        "", "[UNK]", "a", "the", "dog", "cat", "c", "b", "Émiles", "together", "spaces", "sat", "on",
        "nbsp\xa0split\u2003em", "naïve", "my", "mat", "living", "homework", "here", "extra", "dogs", "costs",
        "cats", "cafÉ", "bird", "ate", "and", "500"]
    assert all(type(t) is str for t in tv.get_vocabulary())
    out = tv(TEXTS)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[3, 5, 11, 12, 3, 16], [3, 4, 26, 15, 18, 0], [2, 5, 2, 4, 27, 2],
                                        [21, 23, 17, 9, 0, 0], [20, 10, 19, 0, 0, 0], [8, 24, 14, 22, 28, 0],
                                        [13, 0, 0, 0, 0, 0], [7, 2, 6, 7, 2, 6]])
    np.testing.assert_array_equal(tv(["the cat"]), [[3, 5, 0, 0, 0, 0]])
    np.testing.assert_array_equal(tv("the cat"), [3, 5, 0, 0, 0, 0])  # a scalar string: one row, no batch axis
    np.testing.assert_array_equal(tv(np.array([["the cat"], ["zebra"]])), [[3, 5, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    assert tv.vocabulary_size() == 29
    assert tv.get_vocabulary(include_special_tokens=False)[:3] == ["a", "the", "dog"]


def test_without_output_sequence_length_rows_pad_to_the_longest():
    tv = TextVectorization()
    tv.adapt(TEXTS)
    np.testing.assert_array_equal(tv(TEXTS[:3]), [[3, 5, 11, 12, 3, 16, 0], [3, 4, 26, 15, 18, 0, 0],
                                                  [2, 5, 2, 4, 27, 2, 25]])


@pytest.mark.parametrize("mode, expected", [
    ("multi_hot", [[1, 0, 1, 0, 1, 0, 0, 1], [1, 0, 1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 1, 0, 0, 0],
                   [0, 1, 0, 0, 0, 1, 1, 0], [1, 0, 1, 0, 0, 0, 0, 0]]),
    ("count", [[2, 0, 2, 0, 1, 0, 0, 1], [3, 0, 1, 1, 0, 0, 0, 0], [2, 3, 0, 1, 1, 0, 0, 0],
               [0, 2, 0, 0, 0, 2, 2, 0], [1, 0, 1, 0, 0, 0, 0, 0]]),
    ("tf_idf", [[1.910008, 0.0, 1.694596, 0.0, 0.847298, 0.0, 0.0, 1.098612],
                [2.865012, 0.0, 0.847298, 0.847298, 0.0, 0.0, 0.0, 0.0],
                [1.910008, 2.541893, 0.0, 0.847298, 0.847298, 0.0, 0.0, 0.0],
                [0.0, 1.694596, 0.0, 0.0, 0.0, 2.197225, 2.197225, 0.0],
                [0.955004, 0.0, 0.847298, 0.0, 0.0, 0.0, 0.0, 0.0]]),
])
def test_vector_output_modes(mode, expected):
    tv = TextVectorization(output_mode=mode, max_tokens=8)
    tv.adapt(SHORT)
    assert tv.get_vocabulary() == ["[UNK]", "a", "the", "dog", "cat", "c", "b", "sat"]
    out = tv(SHORT + ["zebra the"])
    assert out.dtype == np.float32 and out.shape == (5, 8)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    if mode == "tf_idf":  # the OOV slot's idf is the mean of the others
        np.testing.assert_allclose(tv._idf, [0.955004, 0.847298, 0.847298, 0.847298, 0.847298, 1.098612,
                                             1.098612, 1.098612], atol=1e-6)
    clone = round_trip(tv)  # the adapted vocabulary (and idf weights) travel in the config
    np.testing.assert_allclose(clone(SHORT), out[:4], atol=1e-6)


def test_tf_idf_with_a_given_vocabulary_and_pad_to_max_tokens():
    tv = TextVectorization(output_mode="tf_idf", vocabulary=["the", "cat", "dog"], idf_weights=[0.5, 1.0, 2.0])
    assert tv.get_vocabulary() == ["[UNK]", "the", "cat", "dog"]
    np.testing.assert_allclose(tv(SHORT[:2] + ["zebra zebra"]),
                               [[3.5, 1.0, 1.0, 0.0], [3.5, 0.5, 0.0, 2.0], [2.333333, 0.0, 0.0, 0.0]], atol=1e-6)
    tv = TextVectorization(output_mode="multi_hot", pad_to_max_tokens=True, max_tokens=10)
    tv.adapt(SHORT)
    np.testing.assert_array_equal(tv(SHORT[:2]), [[1, 0, 1, 0, 1, 0, 0, 1, 1, 0], [1, 0, 1, 1, 0, 0, 0, 0, 0, 1]])


def test_ngrams():
    tv = TextVectorization(ngrams=2)
    tv.adapt(SHORT)
    assert tv.get_vocabulary() == [
        "", "[UNK]", "a", "the", "dog", "cat", "c", "b a", "b", "a c", "the mat", "the dog", "the cat", "sat on",
        "sat", "on the", "on", "my homework", "my", "mat", "homework", "dog ate", "dog and", "cat sat", "cat a", "c b",
        "bird", "ate my", "ate", "and a", "and", "a dog", "a cat", "a bird"]
    np.testing.assert_array_equal(tv(SHORT), [[3, 5, 14, 16, 3, 19, 12, 23, 13, 15, 10, 0, 0],
                                              [3, 4, 28, 18, 20, 11, 21, 27, 17, 0, 0, 0, 0],
                                              [2, 5, 2, 4, 30, 2, 26, 32, 24, 31, 22, 29, 33],
                                              [8, 2, 6, 8, 2, 6, 7, 9, 25, 7, 9, 0, 0]])
    tv = TextVectorization(ngrams=(1, 3), max_tokens=12)
    tv.adapt(SHORT)
    assert tv.get_vocabulary() == ["", "[UNK]", "a", "the", "dog", "cat", "c", "b a c", "b", "the dog ate",
                                   "the cat sat", "sat on the"]
    np.testing.assert_array_equal(tv(SHORT), [[3, 5, 1, 1, 3, 1, 10, 1, 11, 1, 0, 0], [3, 4, 1, 1, 1, 9, 1, 1, 0, 0, 0, 0],
                                              [2, 5, 2, 4, 1, 2, 1, 1, 1, 1, 1, 1], [8, 2, 6, 8, 2, 6, 7, 1, 1, 7, 0, 0]])
    assert round_trip(tv).ngrams == (1, 3)


@pytest.mark.parametrize("standardize, vocab, ids", [
    (None, ["", "[UNK]", "a", "c", "b", "The", "the", "sat", "on", "my", "mat.", "homework!", "dog;", "dog", "cat,",
            "cat", "bird?", "ate", "and", "A"], [[5, 15, 7, 8, 6, 10], [5, 13, 17, 9, 11, 0]]),
    ("lower", ["", "[UNK]", "a", "the", "c", "b", "sat", "on", "my", "mat.", "homework!", "dog;", "dog", "cat,", "cat",
               "bird?", "ate", "and"], [[3, 14, 6, 7, 3, 9], [3, 12, 16, 8, 10, 0]]),
    ("strip_punctuation", ["", "[UNK]", "a", "dog", "cat", "c", "b", "The", "the", "sat", "on", "my", "mat",
                           "homework", "bird", "ate", "and", "A"], [[7, 4, 9, 10, 8, 12], [7, 3, 15, 11, 13, 0]]),
])
def test_standardize_modes(standardize, vocab, ids):
    tv = TextVectorization(standardize=standardize)
    tv.adapt(SHORT)
    assert tv.get_vocabulary() == vocab
    np.testing.assert_array_equal(tv(SHORT[:2]), ids)


def test_split_modes():
    tv = TextVectorization(split="character", output_sequence_length=8)
    tv.adapt(SHORT)
    assert tv.get_vocabulary() == ["", "[UNK]", " ", "a", "t", "o", "e", "h", "d", "c", "m", "b", "r", "n", "g", "y",
                                   "w", "s", "k", "i"]
    np.testing.assert_array_equal(tv(SHORT), [[4, 7, 6, 2, 9, 3, 4, 2], [4, 7, 6, 2, 8, 5, 14, 2],
                                              [3, 2, 9, 3, 4, 2, 3, 2], [11, 2, 3, 2, 9, 2, 11, 2]])
    tv = TextVectorization(split=None)
    tv.adapt(["red", "Blue", "red!", "green", "blue"])
    assert tv.get_vocabulary() == ["", "[UNK]", "red", "blue", "green"]
    np.testing.assert_array_equal(tv(["red", "blue", "pink"]), [2, 3, 1])  # one id per string, same shape
    np.testing.assert_array_equal(tv(np.array([["red"], ["blue"]])), [[2], [3]])
    tv = TextVectorization(split=None, output_mode="multi_hot")
    tv.adapt(["red", "Blue", "red!", "green", "blue"])
    np.testing.assert_array_equal(tv(["red", "blue", "pink"]), [1, 1, 1, 0])  # rank 1: one sample, as in Keras


def test_given_vocabulary_with_or_without_special_tokens_and_set_vocabulary():
    tv = TextVectorization(vocabulary=["", "[UNK]", "x", "y"])
    assert tv.get_vocabulary() == ["", "[UNK]", "x", "y"]
    np.testing.assert_array_equal(tv(["x y z"]), [[2, 3, 1]])
    tv = TextVectorization(vocabulary=np.array(["x", "y"]), output_sequence_length=3)
    np.testing.assert_array_equal(tv(["y x y x", ""]), [[3, 2, 3], [0, 0, 0]])
    assert tv.vocabulary_size() == 4
    cfg = tv.get_config()
    assert cfg["vocabulary"] == ["x", "y"] and cfg["vocabulary_size"] == 4
    np.testing.assert_array_equal(round_trip(tv)(["y x"]), [[3, 2, 0]])
    tv = TextVectorization(output_sequence_length=2)
    tv.set_vocabulary(["hello", "world"])
    np.testing.assert_array_equal(tv([b"Hello, World!"]), [[2, 3]])  # bytes decode as UTF-8
    tv.adapt(["b a b"])  # set_vocabulary leaves the layer adaptable, as in Keras
    assert tv.get_vocabulary() == ["", "[UNK]", "b", "a"]
    with pytest.raises(ConfigError) as err:
        TextVectorization(vocabulary=["x"]).adapt(["a b"])
    one_line(err)  # vocabulary given at construction: adapt is refused, as in Keras


def test_keras_config_loads():
    cfg = {"name": "text_vectorization_14", "trainable": True,
           "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                     "registered_name": None},
           "max_tokens": None, "standardize": "lower_and_strip_punctuation", "split": "whitespace", "ngrams": None,
           "output_mode": "int", "output_sequence_length": 3, "pad_to_max_tokens": False, "sparse": False,
           "ragged": False, "vocabulary": ["x", "y"], "idf_weights": None, "encoding": "utf-8", "vocabulary_size": 4}
    tv = L.deserialize({"class_name": "TextVectorization", "config": cfg})
    np.testing.assert_array_equal(tv(["y x"]), [[3, 2, 0]])
    sl = L.deserialize({"class_name": "StringLookup", "config": {
        "name": "string_lookup_11", "trainable": True, "invert": False, "max_tokens": None, "num_oov_indices": 1,
        "oov_token": "[UNK]", "mask_token": None, "output_mode": "int", "sparse": False, "pad_to_max_tokens": False,
        "idf_weights": None, "vocabulary": ["a"], "vocabulary_size": 2, "oov_method": "floormod", "salt": None,
        "encoding": "utf-8"}})
    np.testing.assert_array_equal(sl(["a", "b"]), [1, 0])


@pytest.mark.parametrize("kwargs", [dict(ragged=True), dict(sparse=True), dict(standardize=str.lower),
                                    dict(split=str.split), dict(standardize="upper"), dict(split="comma"),
                                    dict(output_mode="multi_hot", output_sequence_length=3), dict(ngrams=0),
                                    dict(max_tokens=1), dict(pad_to_max_tokens=True), dict(output_mode="tfidf"),
                                    dict(output_mode="tf_idf", vocabulary=["a"])])
def test_bad_arguments_are_one_line_config_errors(kwargs):
    with pytest.raises(ConfigError) as err:
        TextVectorization(**kwargs)
    one_line(err)


def test_bad_inputs():
    tv = TextVectorization(vocabulary=["a"])
    for bad, error in ((np.array([[1.0, 2.0]]), DataError), ([1, 2], DataError),
                       (np.array([["a", "b"]]), ShapeError)):
        with pytest.raises(error) as err:
            tv(bad)
        one_line(err)
    with pytest.raises(ConfigError) as err:
        TextVectorization(output_mode="multi_hot")(["a"])  # no vocabulary yet
    one_line(err)


def test_string_layers_refuse_to_be_model_layers():
    hint = "use it on the data before the model: x = vectorizer(texts)"
    for layer in (TextVectorization(vocabulary=["a"]), StringLookup(vocabulary=["a"])):
        with pytest.raises(ConfigError, match="before the model") as err:
            tuinet.Sequential([L.Input((1,)), layer, L.Dense(2)])
        assert hint in one_line(err)
        with pytest.raises(ConfigError) as err:
            layer(L.Input((1,)))
        assert hint in one_line(err)


# ------------------------------------------------------------------------ StringLookup
D = np.array([["a", "b", "c"], ["b", "c", "d"], ["c", "d", "d"], ["e", "a", "d"]])


def test_string_lookup_adapt_and_ids():
    sl = StringLookup()
    sl.adapt(D)
    assert sl.get_vocabulary() == ["[UNK]", "d", "c", "b", "a", "e"]
    np.testing.assert_array_equal(sl(np.array([["a", "z", "d"], ["e", "c", "b"]])), [[4, 0, 1], [5, 2, 3]])
    np.testing.assert_array_equal(sl(["d", "q"]), [1, 0])
    sl = StringLookup(max_tokens=3)
    sl.adapt(D)
    assert sl.get_vocabulary() == ["[UNK]", "d", "c"]
    sl = StringLookup(mask_token="", vocabulary=["a", "b", "c"])
    assert sl.get_vocabulary() == ["", "[UNK]", "a", "b", "c"]
    np.testing.assert_array_equal(sl(np.array([["a", "", "q"]])), [[2, 0, 1]])


def test_string_lookup_invert():
    sl = StringLookup(vocabulary=["a", "b", "c"], invert=True)
    assert sl.get_vocabulary() == ["[UNK]", "a", "b", "c"]
    assert sl(np.array([[1, 2, 3, 0, 7]])).tolist() == [["a", "b", "c", "[UNK]", "[UNK]"]]
    sl = StringLookup(vocabulary=["a", "b", "c"], invert=True, mask_token="")
    assert sl(np.array([[0, 1, 2, 3, 4, 9]])).tolist() == [["", "[UNK]", "a", "b", "c", "[UNK]"]]
    forward = StringLookup(vocabulary=["a", "b", "c"])
    back = StringLookup(vocabulary=forward.get_vocabulary(), invert=True)  # special tokens at the front are found
    assert back(forward(["c", "a", "zz"])).tolist() == ["c", "a", "[UNK]"]


def test_string_lookup_vector_modes_and_num_oov_indices_zero():
    sl = StringLookup(vocabulary=["a", "b", "c"], output_mode="one_hot")
    np.testing.assert_array_equal(sl(np.array(["a", "c", "z"])), [[0, 1, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]])
    np.testing.assert_array_equal(sl(np.array([["a"], ["c"]])), [[0, 1, 0, 0], [0, 0, 0, 1]])
    sl = StringLookup(vocabulary=["a", "b", "c"], output_mode="multi_hot")
    np.testing.assert_array_equal(sl(np.array([["a", "c", "a"], ["z", "b", "b"]])), [[0, 1, 0, 1], [1, 0, 1, 0]])
    sl = StringLookup(vocabulary=["a", "b", "c"], output_mode="count", num_oov_indices=0)
    assert sl.get_vocabulary() == ["a", "b", "c"]
    np.testing.assert_array_equal(sl(np.array([["a", "c", "a"], ["c", "b", "b"]])), [[2, 0, 1], [0, 2, 1]])
    sl = StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=0)
    np.testing.assert_array_equal(sl(np.array([["a", "c", "b"]])), [[0, 2, 1]])
    with pytest.raises(DataError) as err:
        sl(np.array([["a", "zz"]]))
    assert "zz" in one_line(err)
    sl = StringLookup(vocabulary=["a", "b"], mask_token="[M]", output_mode="multi_hot")
    assert sl.get_vocabulary() == ["[UNK]", "a", "b"]  # the mask takes no slot in vector modes
    np.testing.assert_array_equal(sl(np.array([["a", "[M]", "q"]])), [[1, 1, 0]])
    sl = StringLookup(output_mode="tf_idf")
    sl.adapt(D)
    np.testing.assert_allclose(sl(D), [[0.0, 0.0, 0.693147, 0.847298, 0.847298, 0.0],
                                       [0.0, 0.693147, 0.693147, 0.847298, 0.0, 0.0],
                                       [0.0, 1.386294, 0.693147, 0.0, 0.0, 0.0],
                                       [0.0, 0.693147, 0.0, 0.0, 0.847298, 1.098612]], atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(num_oov_indices=2), dict(num_oov_indices=-1), dict(salt=3),
                                    dict(invert=True, output_mode="multi_hot"), dict(sparse=True),
                                    dict(vocabulary=["a", "a"]), dict(vocabulary=["a", "[UNK]"], invert=True),
                                    dict(vocabulary=["a", "b", "c"], max_tokens=3), dict(vocabulary=[]),
                                    dict(mask_token="", vocabulary=["a", ""])])
def test_string_lookup_bad_arguments(kwargs):
    with pytest.raises(ConfigError) as err:
        StringLookup(**kwargs)
    one_line(err)


def test_lookup_configs_round_trip():
    sl = StringLookup(mask_token="", vocabulary=["a", "b"], output_mode="int")
    assert round_trip(sl)(["b", "", "q"]).tolist() == [3, 0, 1]
    sl = StringLookup()
    sl.adapt(D)
    assert round_trip(sl).get_vocabulary() == ["[UNK]", "d", "c", "b", "a", "e"]
    il = IntegerLookup(vocabulary=[12, 36, 1138, 42], num_oov_indices=2, invert=False)
    assert round_trip(il).get_vocabulary() == il.get_vocabulary()


# ------------------------------------------------------------------------ IntegerLookup
def test_integer_lookup():
    il = IntegerLookup()
    il.adapt(np.array([[12, 1138, 42], [42, 1000, 36], [1138, 1138, 42]]))
    assert il.get_vocabulary() == [-1, 1138, 42, 1000, 36, 12]
    out = il(np.array([[12, 5, 42], [1138, 36, -1]]))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[5, 0, 2], [1, 4, 0]])
    il = IntegerLookup(mask_token=0, vocabulary=[12, 36, 1138, 42])
    assert il.get_vocabulary() == [0, -1, 12, 36, 1138, 42]
    np.testing.assert_array_equal(il(np.array([[12, 0, 42, 7]])), [[2, 0, 5, 1]])
    il = IntegerLookup(num_oov_indices=2, vocabulary=[12, 36, 1138, 42])  # OOV slot: value floormod 2
    assert il.get_vocabulary() == [-1, -1, 12, 36, 1138, 42]
    np.testing.assert_array_equal(il(np.array([[12, 7, 8, -3, 42]])), [[2, 1, 0, 1, 5]])
    il = IntegerLookup(vocabulary=[12, 36, 1138, 42], invert=True)
    np.testing.assert_array_equal(il(np.array([[0, 1, 2, 4, 9]])), [[-1, 12, 36, 42, -1]])
    il = IntegerLookup(vocabulary=[12, 36, 1138, 42], output_mode="multi_hot")
    np.testing.assert_array_equal(il(np.array([[12, 12, 7]])), [[1, 1, 0, 0, 0]])
    with pytest.raises(DataError) as err:
        il(np.array([1.5]))
    one_line(err)
    with pytest.raises(ConfigError) as err:
        IntegerLookup(oov_token="x")
    one_line(err)


def test_integer_lookup_is_a_numeric_model_layer():
    il = IntegerLookup(vocabulary=[12, 36, 42])
    model = tuinet.Sequential([L.Input((2,)), il, L.Embedding(5, 3)])
    assert model.predict(np.array([[12, 99]]), verbose=0).shape == (1, 2, 3)
    il = IntegerLookup(vocabulary=[12, 36, 42], output_mode="one_hot")
    model = tuinet.Sequential([L.Input((1,)), il, L.Dense(2)])
    assert model.predict(np.array([[36], [7]]), verbose=0).shape == (2, 2)


# ------------------------------------------------------------------------ CategoryEncoding
@pytest.mark.parametrize("mode, two_d, one_d, column", [
    ("one_hot", [[[1, 0, 0, 0], [0, 1, 0, 0]], [[0, 0, 0, 1], [0, 0, 0, 1]]],
     [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]], [[1, 0, 0, 0], [0, 0, 1, 0]]),
    ("multi_hot", [[1, 1, 0, 0], [0, 0, 0, 1]], [1, 1, 0, 1], [[1, 0, 0, 0], [0, 0, 1, 0]]),
    ("count", [[1, 1, 0, 0], [0, 0, 0, 2]], [1, 1, 0, 2], [[1, 0, 0, 0], [0, 0, 1, 0]]),
])
def test_category_encoding(mode, two_d, one_d, column):
    ce = CategoryEncoding(num_tokens=4, output_mode=mode)
    out = ce(np.array([[0, 1], [3, 3]]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, two_d)
    np.testing.assert_array_equal(ce(np.array([0, 1, 3, 3])), one_d)  # rank 1: one sample (one_hot: one per id)
    np.testing.assert_array_equal(ce(np.array([[0], [2]])), column)
    with pytest.raises(DataError) as err:
        ce(np.array([[0, 5], [-1, 2]]))
    assert "[0, 4)" in one_line(err)
    assert round_trip(ce).output_mode == mode


def test_category_encoding_count_weights_and_errors():
    ce = CategoryEncoding(num_tokens=3, output_mode="count")
    np.testing.assert_allclose(ce(np.array([[0, 2, 2]]), count_weights=np.array([[0.5, 1.0, 2.0]])), [[0.5, 0, 3.0]])
    for kwargs in (dict(), dict(num_tokens=0), dict(num_tokens=3, output_mode="int"),
                   dict(num_tokens=3, sparse=True)):
        with pytest.raises(ConfigError) as err:
            CategoryEncoding(**kwargs)
        one_line(err)


def test_category_encoding_in_a_model_takes_no_gradient():
    model = tuinet.Sequential([L.Input((3,)), L.CategoryEncoding(5, output_mode="count"), L.Dense(2)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[0, 1, 4], [2, 2, 3]])
    loss = model.fit(x, np.ones((2, 2)), epochs=3, verbose=0).history["loss"]
    assert loss[-1] < loss[0]
    assert model.layers[0].output_shape == (5,)
    i = L.Input((4,))
    functional = tuinet.Model(i, L.Dense(2)(L.CategoryEncoding(6, output_mode="one_hot")(i)))
    assert functional.predict(np.array([[1, 1, 5, 0]]), verbose=0).shape == (1, 4, 2)
    ce = CategoryEncoding(4)
    ce(np.array([[1, 2]]))
    ce.needs_input_grad = False
    assert ce.backward(np.ones((1, 4), np.float32)) is None
    ce.needs_input_grad = True
    with pytest.raises(ConfigError) as err:
        ce.backward(np.ones((1, 4), np.float32))
    assert "no gradient" in one_line(err)


def test_registered():
    for cls in (TextVectorization, StringLookup, IntegerLookup, CategoryEncoding):
        assert L.LAYERS[cls.__name__] is cls and L.get(cls.__name__.lower()) is cls
