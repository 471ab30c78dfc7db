"""A safe, strict reader for user-uploaded CSV tables, and the choice of features and label.

An upload arrives as bytes (from ``st.file_uploader`` or a file the command line read) and is
parsed in memory only: it is never written to disk, executed or unpickled; the one parser is
:func:`pandas.read_csv` on an :class:`io.StringIO` with an explicit one-character delimiter.

Limits (each broken limit is an :class:`~core.errors.InputError` whose field is the file name
and whose one-line message says what is wrong and what is allowed):

* at most :data:`MAX_BYTES` bytes, :data:`MAX_COLUMNS` columns and :data:`MAX_ROWS` data rows;
* UTF-8 text (a UTF-8 byte-order mark is allowed and removed); no NUL bytes, not mostly
  non-printable characters; other encodings (latin-1, UTF-16) are rejected, not guessed;
* a header row of unique, non-empty names and at least one data row (a single data row is
  read; whether it is enough is for the analysis to decide);
* the delimiter is one of ``,`` ``;`` tab ``|``, found by counting fields in the first 64 KiB;
* no row with more fields than the header (a shorter row is read with missing cells);
* a one-column file is read only when its cells hold no spaces (else the delimiter is wrong).

Numeric columns are float64; empty and ``NA``-like cells are NaN, ``inf``/``-inf`` are read as
infinities. :func:`select` drops rows with missing or non-finite values in the chosen columns.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import stat
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InputError

MAX_BYTES = 20_000_000  # what the browser's uploader allows too (.streamlit/config.toml: maxUploadSize = 20 MB)
MAX_COLUMNS = 500
MAX_ROWS = 200_000

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_CHARS = 64 * 1024
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_ALLOWED = "a UTF-8 CSV file with a header row, delimited by , ; tab or |"


@dataclass(frozen=True)
class Table:
    """A parsed upload.

    Attributes
    ----------
    name : str
        The file name, used in messages.
    frame : pandas.DataFrame
        All columns as read; numeric columns are float64.
    notes : tuple of str
        One sentence per thing that was done to read it.
    """

    name: str
    frame: pd.DataFrame
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    """Features and label chosen from a source and a target table, as arrays.

    Attributes
    ----------
    features : tuple of str
        The feature columns, in order.
    source_x, target_x : numpy.ndarray
        float64 ``[n, d]`` features, all finite.
    source_y, target_y : numpy.ndarray or None
        int64 class codes, coded jointly over both tables; None without a label.
    classes : tuple of str
        The label values as strings: code ``k`` is ``classes[k]``.
    notes : tuple of str
        What was done, e.g. the rows dropped for missing values.
    """

    features: tuple[str, ...]
    source_x: np.ndarray
    target_x: np.ndarray
    source_y: np.ndarray | None
    target_y: np.ndarray | None
    classes: tuple[str, ...]
    notes: tuple[str, ...]


def _fail(name: str, message: str) -> InputError:
    return InputError(name, " ".join(message.split()))


def _decode(data: bytes, name: str) -> tuple[str, list[str]]:
    """Check size and encoding; return the text without a BOM, and notes."""
    if len(data) == 0:
        raise _fail(name, f"the file is empty; expected {_ALLOWED}")
    if len(data) > MAX_BYTES:
        raise _fail(name, f"the file is larger than {MAX_BYTES / 1e6:g} MB ({MAX_BYTES:,} bytes); upload a smaller "
                          "CSV file")
    if b"\x00" in data:
        raise _fail(name, "contains NUL bytes, so it is a binary file (e.g. .xlsx, .parquet), "
                          f"not CSV text; expected {_ALLOWED}")
    notes = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        notes.append("removed a UTF-8 byte-order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _fail(name, f"is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                          f"{error.start}); save it as UTF-8 CSV") from None
    sample = text[:SAMPLE_CHARS]
    odd = sum(1 for ch in sample if not (ch.isprintable() or ch in "\t\r\n"))
    if odd > 0.1 * len(sample):
        raise _fail(name, f"is mostly non-printable characters ({odd} of {len(sample)}), so it is "
                          f"not CSV text; expected {_ALLOWED}")
    if not text.strip():
        raise _fail(name, f"the file holds only blank lines; expected {_ALLOWED}")
    return text, notes


def _rows(text: str, delimiter: str) -> list[list[str]]:
    """The non-blank records of the first ``SAMPLE_CHARS`` characters, cut at a line end."""
    sample = text[:SAMPLE_CHARS]
    if len(text) > SAMPLE_CHARS and "\n" in sample:
        sample = sample[:sample.rindex("\n")]
    try:
        rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter, skipinitialspace=True))
    except csv.Error:
        return []
    return [row for row in rows if any(cell.strip() for cell in row)]


def _sniff(text: str, name: str) -> str:
    """The delimiter among :data:`DELIMITERS` whose rows most often match the header's width."""
    best, best_score = ",", None
    for delimiter in DELIMITERS:
        rows = _rows(text, delimiter)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(len(row) == width for row in rows) / len(rows), width)
        if best_score is None or score > best_score:
            best, best_score = delimiter, score
    if best_score is None:
        cells = [cell.strip() for row in _rows(text, ",")[1:] for cell in row]
        if any(re.search(r"\s", cell) for cell in cells):
            raise _fail(name, "found one column whose cells hold spaces: is the delimiter one of "
                              ", ; tab |? Spaces do not separate columns")
    return best


def _header(text: str, delimiter: str, name: str) -> tuple[list[str], list[str] | None, int]:
    """The header names, the first data row (or None) and that row's line number."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    try:
        header = next(reader)
        while not any(cell.strip() for cell in header):
            header = next(reader)
        first = None
        for row in reader:
            if any(cell.strip() for cell in row):
                first = row
                break
    except StopIteration:
        raise _fail(name, f"the file is empty; expected {_ALLOWED}") from None
    except csv.Error as error:
        raise _fail(name, f"cannot read the header: {error}; expected {_ALLOWED}") from None
    return [cell.strip() for cell in header], first, reader.line_num


def _check_header(header: list[str], name: str) -> None:
    if len(header) > MAX_COLUMNS:
        raise _fail(name, f"has {len(header)} columns; at most {MAX_COLUMNS} are allowed")
    empty = [str(i + 1) for i, cell in enumerate(header) if not cell]
    if empty:
        hint = " (an index written by pandas' to_csv? save with index=False)" if empty[0] == "1" else ""
        raise _fail(name, f"column {', '.join(empty[:5])} of the header has no name{hint}; "
                          "every column needs a unique name in the first row")
    seen, duplicates = set(), []
    for cell in header:
        if cell in seen and cell not in duplicates:
            duplicates.append(cell)
        seen.add(cell)
    if duplicates:
        shown = ", ".join(repr(cell) for cell in duplicates[:5])
        raise _fail(name, f"duplicate column names {shown}; every column needs a unique name")


def read_table(data: bytes, name: str) -> Table:
    """Parse an uploaded CSV file held in memory.

    Parameters
    ----------
    data : bytes
        The file's content.
    name : str
        The file name, for messages and as the error field.

    Returns
    -------
    Table
        The parsed table, numeric columns as float64, with notes.

    Raises
    ------
    InputError
        When the file breaks one of the limits in the module docstring.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _fail(name, f"expected the file's bytes, got {type(data).__name__}")
    text, notes = _decode(bytes(data), name)
    delimiter = _sniff(text, name)
    header, first, line = _header(text, delimiter, name)
    _check_header(header, name)
    if first is None:
        raise _fail(name, "has a header but no data rows; expected at least one row of values")
    if len(first) > len(header):
        raise _fail(name, f"line {line} has {len(first)} fields but the header has "
                          f"{len(header)}; every row needs at most one field per column")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, engine="c", header=0,
                                names=header, index_col=False, skipinitialspace=True,
                                nrows=MAX_ROWS + 1, low_memory=False)
    except pd.errors.ParserError as error:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if found:
            raise _fail(name, f"line {found.group(2)} has {found.group(3)} fields but the header "
                              f"has {found.group(1)}; every row needs at most one field per "
                              "column") from None
        raise _fail(name, f"cannot be parsed as CSV ({str(error).strip()}); "
                          f"expected {_ALLOWED}") from None
    except (ValueError, pd.errors.ParserWarning, csv.Error) as error:
        raise _fail(name, f"cannot be parsed as CSV ({error}); expected {_ALLOWED}") from None
    if len(frame) == 0:
        raise _fail(name, "has a header but no data rows; expected at least one row of values")
    if len(frame) > MAX_ROWS:
        raise _fail(name, f"has more than {MAX_ROWS} data rows; at most {MAX_ROWS} are allowed")
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
                frame[column]):
            frame[column] = frame[column].astype(np.float64)
    if delimiter != ",":
        notes.append(f"read with {_DELIMITER_NAMES[delimiter]} as the delimiter")
    return Table(name=name, frame=frame, notes=tuple(notes))


def read_path(path: str) -> Table:
    """Read a CSV file from disk for the command line (at most ``MAX_BYTES + 1`` bytes).

    Raises
    ------
    InputError
        With ``path`` as the field, when the file is missing, a directory or another non-regular file
        (a FIFO), unreadable, too large, or breaks a limit of :func:`read_table`.
    """
    path = str(path)
    if os.path.isdir(path):
        raise _fail(path, "is a directory; expected a CSV file")
    if not os.path.exists(path):
        raise _fail(path, "no such file; expected the path of a CSV file")
    if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or a device would block or never end
        raise _fail(path, "is not a regular file; expected a CSV file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise _fail(path, f"cannot be read ({error.strerror or error}); expected a readable "
                          "CSV file") from None
    return read_table(data, path)


def numeric_columns(table: Table) -> tuple[str, ...]:
    """The float64 columns of ``table``, in file order."""
    return tuple(str(c) for c in table.frame.columns
                 if pd.api.types.is_float_dtype(table.frame[c]))


def shared_numeric_columns(source: Table, target: Table, label: str | None = None) -> tuple[str, ...]:
    """The numeric columns of both tables other than ``label``, in the source's order: the default features."""
    shared = set(numeric_columns(target))
    return tuple(c for c in numeric_columns(source) if c in shared and c != label)


LABEL_NAMES = ("y", "label", "labels", "target", "class", "classes", "category", "outcome")


def detect_label(source: Table, target: Table) -> str | None:
    """The column of the source named like a label (:data:`LABEL_NAMES`, any case, spaces trimmed) that the
    target has too, or ``None``: the default label, so that such a column is never silently a feature."""
    shared = set(target.frame.columns)
    named = {str(c).strip().lower(): c for c in source.frame.columns if c in shared}
    return next((named[name] for name in LABEL_NAMES if name in named), None)


def _text(value: object) -> str:
    """A label or domain value as a string: whole floats without ``.0``."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def split_by_domain(table: Table, column: str) -> tuple[Table, Table, str, str]:
    """Split a table into source and target by a column with exactly two distinct values.

    The first value in file order is the source. The domain column is removed from both
    tables, so it can never be chosen as a feature.

    Returns
    -------
    tuple
        ``(source, target, source_value, target_value)``, the values as strings.

    Raises
    ------
    InputError
        When the column is missing, has missing cells, or does not hold exactly two values.
    """
    frame = table.frame
    if column not in frame.columns:
        raise _fail(table.name, f"has no domain column {column!r}; columns are "
                                f"{', '.join(map(repr, list(frame.columns)[:20]))}")
    values = frame[column]
    missing = int(values.isna().sum())
    if missing:
        raise _fail(table.name, f"domain column {column!r} is empty in {missing} rows; every "
                                "row needs a domain value")
    distinct = pd.unique(values)
    if len(distinct) != 2:
        shown = ", ".join(repr(_text(v)) for v in distinct[:5])
        raise _fail(table.name, f"domain column {column!r} has {len(distinct)} distinct values "
                                f"({shown}{', ...' if len(distinct) > 5 else ''}); expected "
                                "exactly two (source and target)")
    parts = []
    for value in distinct:
        part = frame.loc[values == value].drop(columns=[column]).reset_index(drop=True)
        parts.append(part)
    source_value, target_value = _text(distinct[0]), _text(distinct[1])
    note = (f"split by column {column!r}: source {source_value!r} ({len(parts[0])} rows), "
            f"target {target_value!r} ({len(parts[1])} rows)")
    notes = table.notes + (note,)
    source = Table(f"{table.name} [{column}={source_value}]", parts[0], notes)
    target = Table(f"{table.name} [{column}={target_value}]", parts[1], notes)
    return source, target, source_value, target_value


def _usable(table: Table, features: tuple[str, ...], label: str | None) -> np.ndarray:
    """A boolean mask of the rows with finite features and a present (finite) label."""
    x = table.frame.loc[:, list(features)].to_numpy(dtype=np.float64)
    keep = np.isfinite(x).all(axis=1)
    if label is not None:
        y = table.frame[label]
        keep &= y.notna().to_numpy()
        if pd.api.types.is_float_dtype(y):
            keep &= np.isfinite(y.to_numpy(dtype=np.float64))
    return keep


def select(source: Table, target: Table, features: Sequence[str] | None,
           label: str | None) -> Selection:
    """Choose numeric features (and a label) shared by both tables, as finite arrays.

    Parameters
    ----------
    source, target : Table
        The two domains.
    features : sequence of str or None
        The feature columns; None takes every numeric column both tables share, except the
        label, in the source's order.
    label : str or None
        The class column (strings or numbers), or None for no label.

    Returns
    -------
    Selection
        Rows with missing or non-finite values in the chosen columns are dropped (counted in
        the notes). Labels are coded jointly, sorted by value when all are numbers, else by
        their string form.

    Raises
    ------
    InputError
        On a missing or non-numeric feature, a missing label, no shared numeric columns, more
        than half of a table's rows dropped, fewer than 2 rows left, or a single class.
    """
    tables = (("source", source), ("target", target))
    if label is not None:
        for _, table in tables:
            if label not in table.frame.columns:
                raise _fail(table.name, f"has no label column {label!r}; the label must be a "
                                        "column of both files")
    if features is None:
        chosen = shared_numeric_columns(source, target, label)
        if not chosen:
            raise _fail("features", "no numeric columns shared by both files (other than the "
                                    "label); each feature must be a number column in both")
    else:
        if isinstance(features, str):
            features = [features]
        chosen = tuple(dict.fromkeys(str(f) for f in features))
        if not chosen:
            raise _fail("features", "no features chosen; choose at least one numeric column")
        if label is not None and label in chosen:
            raise _fail("features", f"the label {label!r} cannot also be a feature")
        for _, table in tables:
            numeric = set(numeric_columns(table))
            for feature in chosen:
                if feature not in table.frame.columns:
                    raise _fail(table.name, f"has no column {feature!r}; each feature must be a "
                                            "column of both files")
                if feature not in numeric:
                    column = table.frame[feature].dropna()
                    example = f" (e.g. {str(column.iloc[0])!r})" if len(column) else ""
                    raise _fail(table.name, f"column {feature!r} is not numeric{example}; "
                                            "features must be numbers")
    notes, kept = [], {}
    for role, table in tables:
        keep = _usable(table, chosen, label)
        n, dropped = len(keep), int((~keep).sum())
        if dropped * 2 > n:
            raise _fail(table.name, f"{dropped} of {n} {role} rows have missing or non-finite "
                                    "values in the chosen columns; at most half may be dropped")
        if n - dropped < 2:
            raise _fail(table.name, f"has {n - dropped} usable {role} row(s); need at least 2 "
                                    "rows")
        if dropped:
            notes.append(f"dropped {dropped} {role} rows with missing or non-finite values in "
                         "the chosen columns")
        kept[role] = table.frame.loc[keep].reset_index(drop=True)
    xs = [kept[role].loc[:, list(chosen)].to_numpy(dtype=np.float64) for role, _ in tables]
    source_y = target_y = None
    classes: tuple[str, ...] = ()
    if label is not None:
        raw = [kept[role][label] for role, _ in tables]
        values = pd.concat(raw, ignore_index=True)
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        distinct = pd.unique(values)
        if numeric:
            distinct = sorted(distinct, key=float)
        else:
            distinct = sorted(distinct, key=str)
        classes = tuple(dict.fromkeys(_text(v) for v in distinct))
        if len(classes) < 2:
            shown = f" ({classes[0]!r})" if classes else ""
            raise _fail(label, f"label column {label!r} has a single class{shown} across both "
                               "files; a label needs at least two classes")
        code = {name: k for k, name in enumerate(classes)}
        source_y, target_y = (np.array([code[_text(v)] for v in column], dtype=np.int64)
                              for column in raw)
    return Selection(features=chosen, source_x=xs[0], target_x=xs[1], source_y=source_y,
                     target_y=target_y, classes=classes, notes=tuple(notes))
