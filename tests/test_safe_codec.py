"""The result store's format: data in, the same data out, and nothing else either way."""

import dataclasses
import io
import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from core.labs.adaptation import run_adaptation
from core.labs.distillation import DistillSettings, run_distillation
from core.metrics.shift_report import shift_report
from core.scenario import Scenario
from core.talk.safe_codec import TREE, CodecError, dumps, loads
from core.training.train import TrainSettings

pytestmark = pytest.mark.unit


def test_plain_data_nested_comes_back_equal_and_of_the_same_types():
    value = {"scenario": Scenario(rotation=35, dataset="blobs"), ("a", 1): [1, 2.5, None, True, "x"],
             3: (np.arange(6, dtype=np.int64).reshape(2, 3), np.array([0.5, np.nan]), np.array([True, False])),
             "special": [math.inf, -math.inf], "names": np.array(["mmd", "dann"])}
    back = loads(dumps(value))
    assert back["scenario"] == Scenario(rotation=35, dataset="blobs") and back[("a", 1)] == [1, 2.5, None, True, "x"]
    ints, floats, flags = back[3]
    assert ints.dtype == np.int64 and ints.tolist() == [[0, 1, 2], [3, 4, 5]] and math.isnan(floats[1])
    assert flags.dtype == bool and back["special"] == [math.inf, -math.inf] and list(back["names"]) == ["mmd", "dann"]
    tensor = loads(dumps(torch.tensor([[1.0, 2.0]])))
    assert isinstance(tensor, torch.Tensor) and tensor.tolist() == [[1.0, 2.0]]


def assert_same(a, b, path="result"):
    """``a`` and ``b`` are equal value by value, of the same types all the way down (NaN equals NaN)."""
    assert type(a) is type(b), path
    if dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            assert_same(getattr(a, field.name), getattr(b, field.name), f"{path}.{field.name}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            assert_same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), path
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), path
    elif not (isinstance(a, float) and math.isnan(a) and math.isnan(b)):
        assert a == b, path


def test_real_results_round_trip():
    small = Scenario(rotation=30, n_source=100, n_target=100, n_test=100)
    run = run_distillation(small, n_seeds=1, settings=DistillSettings(steps=20, teacher_hidden=(8,)), device="cpu")
    assert_same(loads(dumps(run)), run)
    assert_same(loads(dumps(shift_report(small))), shift_report(small))
    adapted = run_adaptation(small, ("source_only", "mmd"), 1, TrainSettings(steps=20), device="cpu")
    assert_same(loads(dumps(adapted)), adapted)  # trained networks, replay frames and all


@dataclass
class NotOfTheEngine:
    value: int


@pytest.mark.parametrize("value", [NotOfTheEngine(1), object(), {1, 2}, np.array([object()]), print])
def test_anything_else_is_refused_when_writing(value):
    with pytest.raises(CodecError):
        dumps(value)


def crafted(tree, **arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{TREE: np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8)}, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("tree", [
    {"__dataclass__": "os:system", "fields": {}},  # not the engine's
    {"__dataclass__": "builtins:eval", "fields": {}},
    {"__dataclass__": "core.scenario:KNOBS", "fields": {}},  # of the engine, but not a dataclass
    {"__dataclass__": "core.scenario:Scenario", "fields": {"rotation": 35}},  # fields that do not match
    {"__dataclass__": "core.scenario:Scenario", "fields": {**{k: None for k in Scenario().to_dict()}}},  # refused
    {"__array__": 7},  # a missing array
    {"__float__": "__import__('os')"},
    {"__tuple__": [1], "__dict__": []},  # two tags
    {"unknown": 1},
])
def test_a_crafted_file_is_refused_with_a_codec_error(tree):
    with pytest.raises(CodecError):
        loads(crafted(tree))


def test_an_object_array_or_a_pickle_is_refused_without_unpickling():
    with pytest.raises(CodecError):
        loads(crafted({"__array__": 0}, a0=np.array([{"x": 1}], dtype=object)))
    with pytest.raises(CodecError):
        loads(b"\x80\x05K\x01.")  # a pickle of the number 1
