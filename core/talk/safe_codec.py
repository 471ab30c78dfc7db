"""Results to and from bytes that cannot run code when read: a JSON tree plus numpy arrays in one ``.npz``.

Pickle runs whatever a file tells it to, so a file slipped into the result store could run commands as
the server's user. This codec writes only data: ``None``, booleans, integers, strings, floats (NaN and
infinities by name), lists, tuples, dicts (keys of any of these kinds), numpy arrays of numbers, booleans
or strings (``np.load(allow_pickle=False)`` reads them back), torch tensors (as arrays), and dataclasses
defined in the engine (a module under ``core.``), rebuilt by calling the class with the fields the file
names, which must be exactly the class's fields, so a class's own checks run again on load. Anything else
is an :class:`CodecError`, when writing and when reading.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import math
from typing import Any

import numpy as np
import torch

ENGINE_PACKAGE = "core"
TREE = "__tree__"  # the npz entry holding the JSON tree (UTF-8 bytes)
MAX_DEPTH = 64  # nesting deeper than this is not a result of ours
_ARRAY, _TENSOR, _TUPLE, _DICT, _FLOAT, _DATACLASS = "__array__", "__tensor__", "__tuple__", "__dict__", \
    "__float__", "__dataclass__"
_TAGS = (_ARRAY, _TENSOR, _TUPLE, _DICT, _FLOAT, _DATACLASS)


class CodecError(ValueError):
    """A value the codec does not write, or a file that is not one it wrote."""


# --- writing ------------------------------------------------------------------------------------------

def dumps(value: Any) -> bytes:
    """``value`` as the bytes of an ``.npz`` file (raises :class:`CodecError` for anything it cannot write)."""
    arrays: list[np.ndarray] = []
    tree = _encode(value, arrays, 0)
    buffer = io.BytesIO()
    entries = {f"a{i}": array for i, array in enumerate(arrays)}
    np.savez(buffer, **{TREE: np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8)}, **entries)
    return buffer.getvalue()


def _encode(value: Any, arrays: list[np.ndarray], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise CodecError(f"nested deeper than {MAX_DEPTH} levels")
    deeper = depth + 1
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else {_FLOAT: repr(float(value))}
    if isinstance(value, torch.Tensor):
        return {_TENSOR: _add_array(value.detach().cpu().numpy(), arrays)}
    if isinstance(value, np.ndarray):
        return {_ARRAY: _add_array(value, arrays)}
    if isinstance(value, list):
        return [_encode(item, arrays, deeper) for item in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {_TUPLE: [_encode(item, arrays, deeper) for item in value]}
    if isinstance(value, dict):
        return {_DICT: [[_encode(k, arrays, deeper), _encode(v, arrays, deeper)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith(ENGINE_PACKAGE + "."):
            raise CodecError(f"{cls.__module__}.{cls.__qualname__} is not a dataclass of the engine")
        fields = {f.name: _encode(getattr(value, f.name), arrays, deeper) for f in dataclasses.fields(value)}
        return {_DATACLASS: f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    raise CodecError(f"cannot store a {type(value).__module__}.{type(value).__qualname__}")


def _add_array(array: np.ndarray, arrays: list[np.ndarray]) -> int:
    if array.dtype.hasobject:
        raise CodecError("cannot store an array of Python objects")
    arrays.append(np.ascontiguousarray(array))
    return len(arrays) - 1


# --- reading ------------------------------------------------------------------------------------------

def loads(data: bytes) -> Any:
    """The value :func:`dumps` wrote (raises :class:`CodecError` for any other bytes)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            entries = {name: archive[name] for name in archive.files}
        tree = json.loads(entries.pop(TREE).tobytes().decode())
    except CodecError:
        raise
    except Exception as error:  # not an npz, no tree, an object array, bad JSON: not a file of ours
        raise CodecError(f"not a stored result ({type(error).__name__})") from None
    return _decode(tree, entries, 0)


def _decode(node: Any, arrays: dict[str, np.ndarray], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise CodecError(f"nested deeper than {MAX_DEPTH} levels")
    deeper = depth + 1
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(item, arrays, deeper) for item in node]
    if not isinstance(node, dict) or len([tag for tag in _TAGS if tag in node]) != 1:
        raise CodecError("an unknown entry")
    if _ARRAY in node or _TENSOR in node:
        array = _array(node.get(_ARRAY, node.get(_TENSOR)), arrays)
        return array if _ARRAY in node else torch.from_numpy(array.copy())
    if _FLOAT in node:
        if node[_FLOAT] not in ("nan", "inf", "-inf"):
            raise CodecError("an unknown float")
        return float(node[_FLOAT])
    if _TUPLE in node:
        return tuple(_decode(item, arrays, deeper) for item in _list(node[_TUPLE]))
    if _DICT in node:
        pairs = [_list(pair) for pair in _list(node[_DICT])]
        if any(len(pair) != 2 for pair in pairs):
            raise CodecError("a dict entry that is not a key and a value")
        return {_hashable(_decode(k, arrays, deeper)): _decode(v, arrays, deeper) for k, v in pairs}
    return _dataclass(node, arrays, deeper)


def _array(index: Any, arrays: dict[str, np.ndarray]) -> np.ndarray:
    name = f"a{index}" if isinstance(index, int) and not isinstance(index, bool) else None
    if name not in arrays:
        raise CodecError("a missing array")
    return arrays[name]


def _list(node: Any) -> list:
    if not isinstance(node, list):
        raise CodecError("a list was expected")
    return node


def _hashable(key: Any) -> Any:
    try:
        hash(key)
    except TypeError:
        raise CodecError("an unhashable dict key") from None
    return key


def _dataclass(node: dict, arrays: dict[str, np.ndarray], depth: int) -> Any:
    name, fields = node.get(_DATACLASS), node.get("fields")
    if not isinstance(name, str) or not isinstance(fields, dict) or set(node) != {_DATACLASS, "fields"}:
        raise CodecError("a malformed dataclass entry")
    module_name, _, qualname = name.partition(":")
    if not module_name.startswith(ENGINE_PACKAGE + ".") or not qualname.isidentifier():
        raise CodecError(f"{name} is not a dataclass of the engine")
    try:
        cls = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError):
        raise CodecError(f"no class {name}") from None
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise CodecError(f"{name} is not a dataclass")
    declared = dataclasses.fields(cls)
    if set(fields) != {f.name for f in declared}:
        raise CodecError(f"the fields of {name} do not match the class's")
    values = {key: _decode(value, arrays, depth) for key, value in fields.items()}
    try:
        instance = cls(**{f.name: values[f.name] for f in declared if f.init})
    except Exception as error:  # the class's own checks refused the values
        raise CodecError(f"{name} refused its stored fields ({type(error).__name__})") from None
    for f in declared:
        if not f.init:
            object.__setattr__(instance, f.name, values[f.name])
    return instance
