"""core.data.tables: the strict CSV reader for uploads, the domain split and the feature choice."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from core.data import tables
from core.data.tables import (
    MAX_BYTES,
    MAX_COLUMNS,
    MAX_ROWS,
    Table,
    numeric_columns,
    read_path,
    read_table,
    select,
    split_by_domain,
)
from core.errors import InputError

pytestmark = pytest.mark.unit


def fails(call, field: str, *words: str) -> InputError:
    """Assert ``call()`` raises a one-line InputError on ``field`` naming ``words``."""
    with pytest.raises(InputError) as caught:
        call()
    error = caught.value
    assert error.field == field
    message = str(error)
    assert message.startswith(f"{field}: ")
    assert "\n" not in message and "\r" not in message
    for word in words:
        assert word.lower() in message.lower(), (word, message)
    return error


def table(text: str, name: str = "data.csv") -> Table:
    return read_table(text.encode("utf-8"), name)


# ---- read_table: bad inputs -------------------------------------------------------------

@pytest.mark.parametrize("data, words", [
    (b"", ("empty",)),
    (b"\n\n  \n", ("blank",)),
    (b"a,b\x00,c\n1,2,3\n", ("NUL", "binary")),
    (bytes(range(1, 32)) * 50, ("non-printable",)),
    ("a,b\ncafé,1\n".encode("latin-1"), ("UTF-8", "0xe9")),
    ("a,b\n1,2\n".encode("utf-16"), ("UTF-8",)),
    (b"a,b,c\n", ("no data rows",)),
    (b"a,b,c\n\n\n", ("no data rows",)),
    (b"a,b,a,c,b\n1,2,3,4,5\n", ("duplicate", "'a'", "'b'")),
    (b"a,,c\n1,2,3\n", ("column 2", "no name")),
    (b"a b c\n1 2 3\n4 5 6\n", ("one column", ", ; tab |")),
    (b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n", ("line 3", "4 fields", "header has 3")),
    (b"a,b\n1,2,3\n4,5,6\n", ("line 2", "3 fields", "header has 2")),
], ids=["empty", "blank-lines", "nul", "non-printable", "latin-1", "utf-16", "header-only",
        "header-then-blank", "duplicates", "unnamed-column", "space-delimited", "ragged",
        "ragged-first-row"])
def test_read_table_rejects(data, words):
    fails(lambda: read_table(data, "up.csv"), "up.csv", *words)


def test_too_large():
    data = b"a,b\n" + b"1,2\n" * (MAX_BYTES // 4)
    assert len(data) > MAX_BYTES
    fails(lambda: read_table(data, "big.csv"), "big.csv", "larger than", "20 MB (20,000,000 bytes)")


def test_too_many_columns():
    n = MAX_COLUMNS + 1
    text = ",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("1" * n) + "\n"
    fails(lambda: table(text), "data.csv", f"{n} columns", f"at most {MAX_COLUMNS}")


def test_max_columns_is_allowed():
    n = MAX_COLUMNS
    text = ",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("1" * n) + "\n"
    assert table(text).frame.shape == (1, n)


def test_too_many_rows():
    text = "a,b\n" + "1,2\n" * (MAX_ROWS + 1)
    fails(lambda: table(text), "data.csv", f"more than {MAX_ROWS}", "rows")
    assert len(table("a,b\n" + "1,2\n" * MAX_ROWS).frame) == MAX_ROWS


def test_not_bytes():
    fails(lambda: read_table("a,b\n1,2\n", "s.csv"), "s.csv", "bytes")


# ---- read_table: good inputs ------------------------------------------------------------

@pytest.mark.parametrize("delimiter, note", [
    (",", None), (";", "read with ';' as the delimiter"), ("\t", "read with tab as the delimiter"),
    ("|", "read with '|' as the delimiter")])
def test_delimiters(delimiter, note):
    text = "\n".join(delimiter.join(row) for row in
                     [["x one", "y", "kind"], ["1.5", "2", "a"], ["3", "-4e-1", "b b"]]) + "\n"
    result = table(text)
    assert list(result.frame.columns) == ["x one", "y", "kind"]
    assert result.frame["x one"].tolist() == [1.5, 3.0]
    assert result.frame["y"].dtype == np.float64 and result.frame["y"].tolist() == [2.0, -0.4]
    assert result.frame["kind"].tolist() == ["a", "b b"]
    assert numeric_columns(result) == ("x one", "y")
    assert result.notes == (() if note is None else (note,))


def test_semicolon_with_decimal_commas_in_text_is_not_read_as_comma():
    result = table("a;b;c\n1,5;2;x\n3,5;4;y\n")
    assert list(result.frame.columns) == ["a", "b", "c"]
    assert "read with ';' as the delimiter" in result.notes


def test_quoted_fields_and_crlf():
    result = table('name,value\r\n"Smith, J",1\r\n"O\'Neil; K",2\r\n')
    assert result.frame["name"].tolist() == ["Smith, J", "O'Neil; K"]
    assert result.frame["value"].tolist() == [1.0, 2.0]
    assert result.notes == ()


def test_bom_is_removed():
    result = read_table(b"\xef\xbb\xbfa,b\n1,2\n", "bom.csv")
    assert list(result.frame.columns) == ["a", "b"]
    assert any("byte-order mark" in note for note in result.notes)


def test_single_row_is_read():
    assert table("a,b\n1,2\n").frame.shape == (1, 2)


def test_single_column_without_spaces_is_read():
    result = table("x\n1\n2\n3\n")
    assert numeric_columns(result) == ("x",)


def test_missing_and_infinite_values_stay_numeric():
    result = table("a,b,c\n1,,x\nNA,inf,y\n3,-inf,\n4,5,z\n")
    frame = result.frame
    assert numeric_columns(result) == ("a", "b")
    assert frame["a"].isna().tolist() == [False, True, False, False]
    assert frame["b"].tolist()[1:] == [np.inf, -np.inf, 5.0]
    assert np.isnan(frame["b"].iloc[0])


def test_short_row_reads_as_missing_cells():
    result = table("a,b,c\n1,2,3\n4,5\n")
    assert np.isnan(result.frame["c"].iloc[1])


def test_header_names_are_stripped():
    assert list(table("a , b\n1, 2\n").frame.columns) == ["a", "b"]


def test_sklearn_wine_round_trip():
    from sklearn.datasets import load_wine
    original = load_wine(as_frame=True).frame
    data = original.to_csv(index=False).encode("utf-8")
    result = read_table(data, "wine.csv")
    assert result.notes == ()
    pd.testing.assert_frame_equal(result.frame, original.astype(np.float64))
    assert numeric_columns(result) == tuple(original.columns)


def test_sklearn_wine_semicolon_round_trip():
    from sklearn.datasets import load_wine
    original = load_wine(as_frame=True).frame
    result = read_table(original.to_csv(index=False, sep=";").encode(), "wine.csv")
    pd.testing.assert_frame_equal(result.frame, original.astype(np.float64))
    assert result.notes == ("read with ';' as the delimiter",)


# ---- read_path --------------------------------------------------------------------------

def test_read_path(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a;b\n1;2\n")
    result = read_path(str(path))
    assert result.name == str(path)
    assert result.frame.shape == (1, 2)


def test_read_path_errors(tmp_path):
    missing = str(tmp_path / "nope.csv")
    fails(lambda: read_path(missing), missing, "no such file")
    fails(lambda: read_path(str(tmp_path)), str(tmp_path), "directory")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    fails(lambda: read_path(str(empty)), str(empty), "empty")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_read_path_unreadable(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_bytes(b"a,b\n1,2\n")
    path.chmod(0)
    try:
        fails(lambda: read_path(str(path)), str(path), "cannot be read")
    finally:
        path.chmod(0o600)


def test_read_path_reads_at_most_max_bytes_plus_one(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "MAX_BYTES", 64)
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 100)
    seen = []
    real = tables.read_table
    monkeypatch.setattr(tables, "read_table", lambda data, name: seen.append(len(data)) or real(data, name))
    fails(lambda: read_path(str(path)), str(path), "larger than")
    assert seen == [65]


# ---- split_by_domain --------------------------------------------------------------------

def test_split_by_domain():
    both = table("x,domain,y\n1,lab,a\n2,field,b\n3,lab,b\n4,field,a\n5,lab,a\n")
    source, target, s, t = split_by_domain(both, "domain")
    assert (s, t) == ("lab", "field")
    assert source.frame["x"].tolist() == [1.0, 3.0, 5.0]
    assert target.frame["x"].tolist() == [2.0, 4.0]
    assert "domain" not in source.frame.columns and "domain" not in target.frame.columns
    assert any("split by column 'domain'" in note for note in source.notes)


def test_split_by_numeric_domain_is_not_a_feature():
    both = table("x,d\n1,1\n2,0\n3,1\n4,0\n")
    source, target, s, t = split_by_domain(both, "d")
    assert (s, t) == ("1", "0")
    assert select(source, target, None, None).features == ("x",)


@pytest.mark.parametrize("text, column, words", [
    ("x,d\n1,a\n2,b\n", "domain", ("no domain column", "'domain'")),
    ("x,d\n1,a\n2,a\n", "d", ("1 distinct", "exactly two")),
    ("x,d\n1,a\n2,b\n3,c\n", "d", ("3 distinct", "exactly two")),
    ("x,d\n1,a\n2,\n3,b\n", "d", ("empty in 1 rows",)),
], ids=["missing", "one-value", "three-values", "missing-value"])
def test_split_by_domain_errors(text, column, words):
    fails(lambda: split_by_domain(table(text, "both.csv"), column), "both.csv", *words)


# ---- select -----------------------------------------------------------------------------

def test_select_defaults_and_shared_label_coding():
    source = table("a,b,label,note\n1,2,cat,x\n3,4,dog,y\n5,6,cat,z\n", "s.csv")
    target = table("b,a,label\n7,8,dog\n9,10,bird\n", "t.csv")
    chosen = select(source, target, None, "label")
    assert chosen.features == ("a", "b")
    assert chosen.classes == ("bird", "cat", "dog")
    np.testing.assert_array_equal(chosen.source_x, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(chosen.target_x, [[8, 7], [10, 9]])
    assert chosen.source_x.dtype == np.float64
    assert chosen.source_y.tolist() == [1, 2, 1] and chosen.target_y.tolist() == [2, 0]
    assert chosen.source_y.dtype == np.int64
    assert chosen.notes == ()


def test_select_numeric_labels_shared_coding():
    source = table("a,y\n1,0\n2,10\n3,2\n", "s.csv")
    target = table("a,y\n4,2\n5,2.0\n6,0\n", "t.csv")
    chosen = select(source, target, ["a"], "y")
    assert chosen.classes == ("0", "2", "10")
    assert chosen.source_y.tolist() == [0, 2, 1] and chosen.target_y.tolist() == [1, 1, 0]


def test_select_mixed_text_and_number_labels():
    source = table("a,y\n1,1\n2,2\n", "s.csv")
    target = table("a,y\n3,1\n4,other\n", "t.csv")
    chosen = select(source, target, None, "y")
    assert chosen.classes == ("1", "2", "other")
    assert chosen.source_y.tolist() == [0, 1] and chosen.target_y.tolist() == [0, 2]


def test_select_without_label():
    source = table("a,b\n1,2\n3,4\n", "s.csv")
    target = table("a,b\n5,6\n7,8\n", "t.csv")
    chosen = select(source, target, ["b"], None)
    assert chosen.features == ("b",)
    assert chosen.source_y is None and chosen.target_y is None and chosen.classes == ()
    assert chosen.target_x.shape == (2, 1)


def test_select_drops_missing_and_non_finite_rows_with_counts():
    source = table("a,b,y\n1,2,p\n,4,q\n5,6,p\n7,8,q\n9,inf,q\n", "s.csv")
    target = table("a,b,y\n1,2,p\n3,4,\n5,6,q\n", "t.csv")
    chosen = select(source, target, None, "y")
    assert chosen.notes == (
        "dropped 2 source rows with missing or non-finite values in the chosen columns",
        "dropped 1 target rows with missing or non-finite values in the chosen columns")
    assert chosen.source_x.shape == (3, 2) and chosen.target_x.shape == (2, 2)
    assert np.isfinite(chosen.source_x).all() and np.isfinite(chosen.target_x).all()
    assert chosen.source_y.tolist() == [0, 0, 1] and chosen.target_y.tolist() == [0, 1]


def test_select_missing_values_outside_chosen_columns_are_kept():
    source = table("a,b\n1,\n2,\n3,4\n", "s.csv")
    target = table("a,b\n1,2\n3,4\n", "t.csv")
    chosen = select(source, target, ["a"], None)
    assert chosen.source_x.shape == (3, 1) and chosen.notes == ()


S = "a,b,t,y\n1,2,u,p\n3,4,v,q\n5,6,w,p\n"


@pytest.mark.parametrize("source_text, target_text, features, label, field, words", [
    ("t,y\nu,p\nv,q\n", "t,y\nu,p\nv,q\n", None, "y", "features", ("no numeric columns shared",)),
    ("a,y\n1,p\n2,q\n", "b,y\n1,p\n2,q\n", None, "y", "features", ("no numeric columns shared",)),
    (S, "a,y\n1,p\n2,q\n", ["a", "b"], "y", "t.csv", ("no column 'b'",)),
    ("a,y\n1,p\n2,q\n", S, ["a", "b"], "y", "s.csv", ("no column 'b'",)),
    (S, S, ["a", "t"], "y", "s.csv", ("'t'", "not numeric", "'u'")),
    (S, "a,b\n1,2\n3,4\n", None, "y", "t.csv", ("no label column 'y'",)),
    ("a,b\n1,2\n3,4\n", S, None, "y", "s.csv", ("no label column 'y'",)),
    (S, S, ["a", "y"], "y", "features", ("cannot also be a feature",)),
    (S, S, [], "y", "features", ("at least one",)),
    ("a,y\n1,p\n,q\n,p\n4,q\ninf,p\n", S, None, "y", "s.csv", ("3 of 5", "at most half")),
    ("a,y\n1,p\n", S, None, "y", "s.csv", ("need at least 2 rows",)),
    (S, "a,b,y\n1,2,p\n3,,q\n", ["a", "b"], "y", "t.csv", ("need at least 2 rows",)),
    ("a,y\n1,p\n2,p\n", "a,y\n1,p\n2,p\n", None, "y", "y", ("label column y has a single class",)),
], ids=["no-numeric", "none-shared", "feature-missing-target", "feature-missing-source",
        "non-numeric-feature", "label-missing-target", "label-missing-source", "label-as-feature",
        "empty-features", "over-half-dropped", "one-row", "one-row-left", "single-class"])
def test_select_errors(source_text, target_text, features, label, field, words):
    source, target = table(source_text, "s.csv"), table(target_text, "t.csv")
    error = fails(lambda: select(source, target, features, label), field)
    message = str(error).replace("'", "") if field == "y" else str(error)
    for word in words:
        assert word.lower() in message.lower(), (word, message)


def test_core_tables_does_not_import_streamlit():
    import ast
    from pathlib import Path
    tree = ast.parse(Path(tables.__file__).read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
             for alias in node.names} | {node.module for node in ast.walk(tree)
                                         if isinstance(node, ast.ImportFrom)}
    assert not any(name and name.startswith("streamlit") for name in names)
    assert "pickle" not in names


def test_select_half_dropped_is_allowed():
    source = table("a,y\n1,p\n,q\n,p\n4,q\n", "s.csv")
    target = table("a,y\n1,p\n2,q\n", "t.csv")
    chosen = select(source, target, None, "y")
    assert chosen.source_x.shape == (2, 1)
    assert chosen.notes == ("dropped 2 source rows with missing or non-finite values in the "
                            "chosen columns",)


def test_read_path_os_error(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(tables, "open", refuse, raising=False)
    fails(lambda: read_path(str(path)), str(path), "cannot be read", "permission denied")
