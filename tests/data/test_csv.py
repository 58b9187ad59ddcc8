"""CSV/TSV loading: happy paths, and every error naming the file, the line and the column."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from tuinet import data
from tuinet.errors import ConfigError, DataError


@pytest.fixture
def write(tmp_path, monkeypatch):
    """Write a file in a temporary working directory and return its relative path."""
    monkeypatch.chdir(tmp_path)

    def _write(name: str, text: str | bytes) -> Path:
        path = Path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, newline="")
        return path

    return _write


def error(path, **options) -> str:
    with pytest.raises(DataError) as info:
        data.load_csv(path, **options)
    return str(info.value)


# ----------------------------------------------------------------------------- happy paths


def test_header_and_string_labels(write):
    path = write("flowers.csv", "length,width,species\n1.5,2,versicolor\n3,4.25,setosa\n5,6,virginica\n7,8,setosa\n")
    ds = data.load_csv(path, target="species")
    assert ds.name == "flowers" and ds.task == "classification" and ds.source == "flowers.csv"
    assert ds.feature_names == ["length", "width"]
    assert ds.class_names == ["setosa", "versicolor", "virginica"]
    assert ds.y.tolist() == [1, 0, 2, 0] and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.x, np.array([[1.5, 2], [3, 4.25], [5, 6], [7, 8]], np.float32))
    assert ds.x.dtype == np.float32 and ds.num_classes == 3


def test_no_header_integer_labels(write):
    path = write("plain.csv", "0.5,1,2\n1.5,2,0\n2.5,3,1\n")
    ds = data.load_csv(path)
    assert ds.feature_names == ["column 1", "column 2"] and ds.task == "classification"
    assert ds.class_names == ["0", "1", "2"] and ds.y.tolist() == [2, 0, 1]


def test_integer_labels_are_encoded_in_sorted_order(write):
    ds = data.load_csv(write("l.csv", "a,y\n1,10\n2,-1\n3,10\n4,3\n"))
    assert ds.class_names == ["-1", "3", "10"] and ds.y.tolist() == [2, 0, 2, 1]


@pytest.mark.parametrize("target, features, y", [
    (0, ["b", "c"], [1.0, 4.0]),
    (-2, ["a", "c"], [2.5, 5.5]),
    (1, ["a", "c"], [2.5, 5.5]),
    ("c", ["a", "b"], [3.25, 6.75]),
])
def test_target_by_index_or_name(write, target, features, y):
    path = write("t.csv", "a,b,c\n1,2.5,3.25\n4,5.5,6.75\n")
    ds = data.load_csv(path, target=target, task="regression")
    assert ds.feature_names == features
    np.testing.assert_allclose(ds.y, y)
    assert ds.y.dtype == np.float32 and ds.task == "regression" and ds.class_names is None


def test_regression_auto(write):
    ds = data.load_csv(write("r.csv", "x,price\n1,10.5\n2,11\n3,12.25\n"))
    assert ds.task == "regression" and ds.y.dtype == np.float32 and ds.num_classes is None
    many = "\n".join(f"{i},{i * 7}" for i in range(60))
    assert data.load_csv(write("many.csv", "x,y\n" + many + "\n")).task == "regression"  # 60 distinct integers
    few = "\n".join(f"{i},{i % 50}" for i in range(60))
    assert data.load_csv(write("few.csv", "x,y\n" + few + "\n")).task == "classification"


def test_task_forced(write):
    many = "x,y\n" + "\n".join(f"{i},{i * 7}" for i in range(60)) + "\n"
    forced = data.load_csv(write("many.csv", many), task="classification")
    assert forced.task == "classification" and forced.num_classes == 60
    ints = data.load_csv(write("ints.csv", "x,y\n1,0\n2,1\n"), task="regression")
    assert ints.task == "regression" and ints.y.tolist() == [0.0, 1.0]
    integral_floats = data.load_csv(write("f.csv", "x,y\n1,0.0\n2,1.0\n"))
    assert integral_floats.task == "classification" and integral_floats.class_names == ["0", "1"]


def test_quoted_fields(write):
    text = '"age, in years","weight",label\n"31","70.5","Iris, setosa"\n40,"80","b ""quoted"""\n'
    ds = data.load_csv(write("q.csv", text), target="label")
    assert ds.feature_names == ["age, in years", "weight"]
    assert ds.class_names == ["Iris, setosa", 'b "quoted"']
    np.testing.assert_array_equal(ds.x, [[31, 70.5], [40, 80]])


def test_tolerant_formatting(write):
    # BOM, CRLF, blank lines, spaces around cells, a trailing delimiter on every line
    text = "\ufeffa, b ,y,\r\n\r\n 1 , 2 , cat ,\r\n3,4,dog,\r\n\r\n"
    ds = data.load_csv(write("tidy.csv", text), target="y")
    assert ds.feature_names == ["a", "b"] and ds.class_names == ["cat", "dog"]
    np.testing.assert_array_equal(ds.x, [[1, 2], [3, 4]])


def test_tsv_and_gzip_through_load_file(write):
    tsv = write("t.tsv", "a\tb\ty\n1\t2\tx\n3\t4\tz\n")
    ds = data.load_file(tsv, target="y")
    assert ds.feature_names == ["a", "b"] and ds.class_names == ["x", "z"]
    gz = write("t.csv.gz", gzip.compress(b"a,b,y\n1,2,0\n3,4,1\n"))
    ds = data.load_file(gz)
    assert ds.name == "t" and ds.x.shape == (2, 2)
    semi = write("semi.csv", "a;b;y\n1;2;0\n3;4;1\n")
    assert data.load_csv(semi, delimiter=";").x.shape == (2, 2)


def test_header_forced(write):
    # "2023" looks like a number, so auto sees no header; header=True reads it as one
    path = write("h.csv", "age,2023,y\n1,2,0\n3,4,1\n")
    assert data.load_csv(path, header=True).feature_names == ["age", "2023"]
    msg = error(path)
    assert msg == ('h.csv: line 1, column 1: expected a number, got "age"; if line 1 is a header, '
                   "pass header=True")
    ok = write("noheader.csv", "1,2,0\n3,4,1\n")
    assert data.load_csv(ok, header=False).n == 2
    forced = data.load_csv(ok, header=True)  # the user's word wins: line 1 names the columns
    assert forced.n == 1 and forced.feature_names == ["1", "2"]


def test_header_auto_detects_a_plain_header(write):
    ds = data.load_csv(write("p.csv", "x1,x2,label\n0.1,0.2,0\n0.3,0.4,1\n"))
    assert ds.feature_names == ["x1", "x2"] and ds.n == 2


def test_large_file_fast_path(write):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(20000, 6))
    labels = rng.integers(0, 3, size=20000)
    lines = ["a,b,c,d,e,f,label"] + [",".join(f"{v:.6f}" for v in row) + f",{k}" for row, k in zip(table, labels)]
    ds = data.load_csv(write("big.csv", "\n".join(lines) + "\n"))
    assert ds.x.shape == (20000, 6) and ds.y.tolist() == labels.tolist()
    np.testing.assert_allclose(ds.x, table, atol=1e-6)


# ----------------------------------------------------------------------------- errors


PATIENTS = "name_id,age,weight,outcome\n1,40,70,yes\n2,51,80,no\n3,sixty,75,yes\n4,33,,no\n5,44,NA,yes\n6,44,nan,no\n"


@pytest.mark.parametrize("row, message", [
    (3, 'line 4, column "age": expected a number, got "sixty"'),
    (4, 'line 5, column "weight": expected a number, got an empty cell'),
    (5, 'line 6, column "weight": expected a number, got a missing value "NA"'),
    (6, 'line 7, column "weight": expected a number, got a missing value "nan"'),
])
def test_bad_feature_cells(write, row, message):
    lines = PATIENTS.splitlines()
    text = "\n".join(lines[:3] + [lines[row]]) + "\n"
    got = error(write("data/patients.csv", text), target="outcome")
    assert got == "data/patients.csv: " + message.replace(f"line {row + 1}", "line 4")


def test_first_bad_cell_is_reported(write):
    assert error(write("data/patients.csv", PATIENTS), target="outcome") == \
        'data/patients.csv: line 4, column "age": expected a number, got "sixty"'


def test_absolute_paths_are_shown_relative_to_the_working_directory(write):
    path = write("sub/p.csv", "a,y\n1,0\nx,1\n").resolve()
    assert error(path) == 'sub/p.csv: line 3, column "a": expected a number, got "x"'


def test_infinite_and_overflowing_values(write):
    assert error(write("i.csv", "a,y\n1,0\ninf,1\n")) == \
        'i.csv: line 3, column "a": expected a finite number, got "inf"'
    assert error(write("o.csv", "a,y\n1,0\n1e39,1\n")) == \
        'o.csv: line 3, column "a": expected a number within float32 range, got "1e39"'


def test_no_header_columns_are_numbered(write):
    assert error(write("n.csv", "1,2,0\n3,x,1\n")) == "n.csv: line 2, column 2: expected a number, got \"x\""


def test_line_numbers_count_blank_lines_and_multiline_fields(write):
    text = 'a,b,y\n\n1,2,"two\nlines"\n\n3,oops,z\n'
    assert error(write("m.csv", text), target="y") == 'm.csv: line 6, column "b": expected a number, got "oops"'


def test_ragged_rows(write):
    assert error(write("short.csv", "a,b,c\n1,2,3\n4,5\n")) == \
        'short.csv: line 3, column "c": missing; expected 3 cells as on the header, got 2'
    assert error(write("long.csv", "a,b,c\n1,2,3\n4,5,6,7\n")) == \
        "long.csv: line 3: expected 3 cells as on the header, got 4"
    assert error(write("nohead.csv", "1,2,3\n4,5\n")) == \
        "nohead.csv: line 2, column 3: missing; expected 3 cells as on line 1, got 2"


def test_missing_target_column(write):
    path = write("s.csv", "length,width,species\n1,2,a\n")
    assert error(path, target="specis") == ('s.csv: line 1: no column named "specis" (did you mean "species"?); '
                                            'the columns are "length", "width", "species"')
    assert error(path, target=3) == ("s.csv: line 1: target column index 3 does not exist; the file has 3 columns "
                                     "(indexes 0 to 2, or -3 to -1 from the end)")
    assert "target column index -4 does not exist" in error(path, target=-4)
    nohead = write("nh.csv", "1,2,0\n")
    assert error(nohead, target="species") == ('nh.csv: line 1: target column "species" needs a header row, and the '
                                               "file has none; pass the target as a column index (0 to 2, or -1 for "
                                               "the last)")
    dup = write("dup.csv", "a,y,y\n1,2,3\n")
    assert error(dup, target="y") == \
        'dup.csv: line 1: 2 columns are named "y"; pass the target as a column index instead'


def test_missing_target_value(write):
    assert error(write("t.csv", "a,y\n1,cat\n2,\n")) == \
        't.csv: line 3, column "y": expected a target value, got an empty cell'
    assert error(write("u.csv", "a,y\n1,1.5\n2,inf\n")) == \
        'u.csv: line 3, column "y": expected a finite target value, got "inf"'


def test_target_that_cannot_serve_the_task(write):
    path = write("t.csv", "a,species\n1,setosa\n2,virginica\n")
    assert error(path, task="regression") == \
        't.csv: line 2, column "species": expected a number (task is regression), got "setosa"'
    floats = write("f.csv", "a,y\n1,0\n2,2.5\n")
    assert error(floats, task="classification") == \
        'f.csv: line 3, column "y": expected an integer class label (task is classification), got "2.5"'


def test_empty_and_header_only_files(write):
    assert error(write("empty.csv", "")) == "empty.csv: the file is empty; expected rows of values separated by ','"
    assert error(write("blank.csv", "\n\n  \n")).startswith("blank.csv: the file is empty")
    assert error(write("head.csv", "a,b,label\n")) == \
        "head.csv: line 1 is a header and no data rows follow; expected rows of values"


def test_single_column(write):
    assert error(write("one.csv", "y\n1\n2\n")) == \
        'one.csv: line 2: only the target column "y" is there; expected at least one feature column besides it'


def test_not_text(write):
    path = write("bin.csv", b"a,b\n1,2\n3,\xff\xfe\n")
    assert error(path) == "bin.csv: line 3: not UTF-8 text (byte b'\\xff'); expected a text file of values"


def test_file_not_found_and_folder(write, tmp_path):
    assert error(Path("nowhere.csv")) == "nowhere.csv: file not found"
    (tmp_path / "folder.csv").mkdir()
    assert error(Path("folder.csv")).startswith("folder.csv: is a folder; expected a data file")


@pytest.mark.parametrize("options, field", [
    ({"task": "clasification"}, "task"), ({"delimiter": ";;"}, "delimiter"), ({"header": "yes"}, "header"),
    ({"target": 1.5}, "target"),
])
def test_bad_arguments(write, options, field):
    path = write("ok.csv", "a,y\n1,0\n")
    with pytest.raises(ConfigError, match=re.escape(field)):
        data.load_csv(path, **options)


def test_did_you_mean_for_task(write):
    with pytest.raises(ConfigError, match='did you mean "classification"'):
        data.load_csv(write("ok.csv", "a,y\n1,0\n"), task="clasification")
