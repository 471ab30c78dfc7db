"""The result store on disk, and the scenes' runs that ``python -m core warm`` stores for the pages."""

import os
import pickle
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from core.labs.adaptation import AdaptationPageSettings
from core.labs.negative_transfer import MAPS
from core.scenario import Scenario
from core.talk import result_store, scene_runs
from core.talk.presets import PRESETS, PRESETS_BY_NAME
from core.talk.result_store import ResultStore
from core.talk.safe_codec import loads
from ui.page_registry import PAGES_BY_PATH

pytestmark = pytest.mark.apptest

ROOT = Path(__file__).resolve().parent.parent


class Counter:
    """A compute function that counts its calls."""

    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def test_a_result_is_computed_once_then_read_back_equal(tmp_path):
    store, compute = ResultStore(tmp_path), Counter({"accuracy": [0.5, 0.75]})
    key = (Scenario(rotation=35), ("source_only", "mmd"), 3)
    assert store.fetch("run", key, compute) == {"accuracy": [0.5, 0.75]}
    assert store.fetch("run", key, compute) == {"accuracy": [0.5, 0.75]}
    assert compute.calls == 1 and store.contains("run", key)


def test_another_key_kind_or_code_version_is_another_result(tmp_path, monkeypatch):
    store, compute = ResultStore(tmp_path), Counter(1)
    store.fetch("run", (Scenario(rotation=35),), compute)
    store.fetch("run", (Scenario(rotation=36),), compute)
    store.fetch("other", (Scenario(rotation=35),), compute)
    assert compute.calls == 3
    monkeypatch.setattr(result_store, "code_version", lambda: "edited engine")
    assert not store.contains("run", (Scenario(rotation=35),))  # a change to core/ never serves a stale run


def test_the_code_version_covers_files_in_subpackages_of_core(tmp_path, monkeypatch):
    engine = tmp_path / "core"
    (engine / "labs").mkdir(parents=True)
    (engine / "labs" / "lab.py").write_text("A = 1\n")
    monkeypatch.setattr(result_store, "ENGINE", engine)
    result_store.code_version.cache_clear()
    try:
        before = result_store.code_version()
        result_store.code_version.cache_clear()
        (engine / "labs" / "lab.py").write_text("A = 2\n")  # an edit deep in the engine
        assert result_store.code_version() != before
    finally:
        result_store.code_version.cache_clear()


def test_a_damaged_file_is_recomputed_and_replaced(tmp_path):
    store, compute = ResultStore(tmp_path), Counter([1, 2, 3])
    store.fetch("run", ("k",), compute)
    store.path("run", ("k",)).write_bytes(b"\x80\x05truncated")
    assert store.fetch("run", ("k",), compute) == [1, 2, 3] and compute.calls == 2
    assert loads(store.path("run", ("k",)).read_bytes()) == [1, 2, 3]


class RunsAShellCommand:
    """What an attacker pickles: unpickling it runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_at_a_key_runs_nothing_and_is_replaced_by_the_real_result(tmp_path, caplog):
    store, compute, marker = ResultStore(tmp_path / "store"), Counter({"accuracy": 0.9}), tmp_path / "pwned"
    key = (Scenario(rotation=17),)
    store.path("shift_report", key).parent.mkdir(parents=True)
    store.path("shift_report", key).write_bytes(pickle.dumps(RunsAShellCommand(marker)))
    assert store.fetch("shift_report", key, compute) == {"accuracy": 0.9} and compute.calls == 1
    assert not marker.exists()  # the command never ran
    assert "deleted" in caplog.text and "not a stored shift_report" in caplog.text
    assert loads(store.path("shift_report", key).read_bytes()) == {"accuracy": 0.9}  # and the bad file is gone
    assert store.fetch("shift_report", key, compute) == {"accuracy": 0.9} and compute.calls == 1


def test_a_file_of_another_type_than_its_kind_is_recomputed(tmp_path):
    store = ResultStore(tmp_path)
    store.fetch("run", ("k",), Counter([1, 2]))  # a list where the kind expects a dict
    compute = Counter({"right": True})
    assert store.fetch("run", ("k",), compute, expected=dict) == {"right": True} and compute.calls == 1


def test_old_pickles_are_never_read_and_are_removed(tmp_path):
    (tmp_path / "run-0123.pkl").write_bytes(pickle.dumps([1]))
    ResultStore(tmp_path).fetch("run", ("k",), Counter(5))
    assert not list(tmp_path.glob("*.pkl")) and len(list(tmp_path.glob("*.npz"))) == 1


def test_the_store_keeps_only_the_newest_files(tmp_path):
    store = ResultStore(tmp_path, max_files=3)
    for i in range(5):
        store.fetch("run", (i,), Counter(i))
    assert len(list(tmp_path.glob("*.npz"))) == 3
    assert [store.contains("run", (i,)) for i in range(5)].count(True) == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_an_unwritable_folder_still_returns_the_result(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store, compute = ResultStore(blocker / "results"), Counter(7)
    assert store.fetch("run", ("k",), compute) == 7
    assert store.fetch("run", ("k",), compute) == 7 and compute.calls == 2
    assert "cannot write to" in store.unwritable() and ResultStore(tmp_path).unwritable() is None


def test_the_environment_chooses_the_folder_or_switches_the_store_off(tmp_path, monkeypatch):
    monkeypatch.setenv(result_store.STORE_ENV_VAR, "off")
    compute = Counter(1)
    result_store.default_store().fetch("run", ("k",), compute)
    result_store.default_store().fetch("run", ("k",), compute)
    assert compute.calls == 2
    monkeypatch.setenv(result_store.STORE_ENV_VAR, str(tmp_path))
    assert result_store.default_store().directory == tmp_path
    monkeypatch.delenv(result_store.STORE_ENV_VAR)
    assert result_store.default_store().directory == result_store.DEFAULT_DIRECTORY


def test_every_scene_has_runs_on_a_page_with_a_title_and_a_link():
    for preset in PRESETS:
        runs = scene_runs.scene_runs(preset)
        assert runs and preset.page in PAGES_BY_PATH
        assert all(hash(key) is not None for _, key in runs)
        assert preset.link().startswith(preset.page)
        assert Scenario.from_query(preset.link().partition("?")[2]) == preset.scenario
        assert Scenario.from_link(dict(parse_qsl(preset.link().partition("?")[2])))[0] == preset.scenario
        assert preset.link(presenter=True).endswith("present=1")
    assert len(PRESETS_BY_NAME) == len(PRESETS)  # names are unique


def test_the_negative_transfer_scene_has_one_run_per_map():
    runs = scene_runs.scene_runs(PRESETS_BY_NAME["When transfer turns negative"])
    assert [key[-2] for _, key in runs] == [knob for knob, _ in MAPS]


def test_adaptation_methods_skip_label_methods_without_target_labels():
    settings = AdaptationPageSettings()
    with_labels, skipped = settings.methods_to_train(Scenario(labels_per_class=5))
    assert not skipped and with_labels[0] == "source_only"
    without, skipped = settings.methods_to_train(Scenario(labels_per_class=0))
    assert skipped and not set(skipped) & set(without)


def test_warm_trains_a_scene_once_and_reports_it(tmp_path, monkeypatch):
    monkeypatch.setenv(result_store.STORE_ENV_VAR, str(tmp_path))
    preset = PRESETS_BY_NAME["Rotation 35°"]
    assert not scene_runs.is_warm(preset)
    first = scene_runs.warm([preset])
    assert [row["state"] for row in first] == ["trained and stored"] * 2
    assert scene_runs.is_warm(preset)
    second = scene_runs.warm([preset])
    assert [row["state"] for row in second] == ["already stored"] * 2
    report = scene_runs.stored_run(scene_runs.SHIFT_REPORT, (preset.scenario,))
    assert report.mmd_pvalue < 0.05  # the stored report is the real one: a 35° rotation is detected


@pytest.fixture
def empty_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


class RunStopped(Exception):
    """Raised by :class:`KeyRecorder` instead of training."""


class KeyRecorder(ResultStore):
    """A store that records what the pages fetch; it computes the cheap divergences and stops a page at its
    first training run."""

    CHEAP = {scene_runs.SHIFT_REPORT.name, scene_runs.DIVERGENCE_SWEEP.name}

    def __init__(self):
        super().__init__(None)
        self.fetched = []

    def fetch(self, kind, key, compute, expected=None):
        self.fetched.append((kind, key))
        if kind in self.CHEAP:
            return compute()
        raise RunStopped(kind)


@pytest.mark.parametrize("name", ["Prior shift", "Adaptation on rotated moons", "How much alignment?",
                                  "When transfer turns negative", "Rotated digits", "Which term of the bound grows",
                                  "Distilling a teacher into a small student", "Forgetting and its remedies"])
def test_a_page_at_its_defaults_fetches_the_runs_warm_stores(name, monkeypatch, empty_caches):
    """Warm is useless unless the page asks the store for the very keys warm stored."""
    from streamlit.testing.v1 import AppTest

    recorder = KeyRecorder()
    monkeypatch.setattr(scene_runs, "default_store", lambda: recorder)
    preset = PRESETS_BY_NAME[name]
    at = AppTest.from_file(str(ROOT / "pages" / f"{preset.page}.py"), default_timeout=120)
    for key, value in preset.scenario.link_params().items():
        at.query_params[key] = value
    at.run()
    expected = [(kind.name, key) for kind, key in scene_runs.scene_runs(preset)]
    assert recorder.fetched[: len(expected)] == expected[: len(recorder.fetched)]
    assert recorder.fetched[0] == expected[0]
