"""The result store on disk, and the scenes' runs that ``python -m core warm`` stores for the pages."""

import pickle
from pathlib import Path

import pytest

from core.labs.adaptation import AdaptationPageSettings
from core.labs.negative_transfer import MAPS
from core.scenario import Scenario
from core.talk import result_store, scene_runs
from core.talk.presets import PRESETS, PRESETS_BY_NAME
from core.talk.result_store import ResultStore
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
    assert pickle.loads(store.path("run", ("k",)).read_bytes()) == [1, 2, 3]


def test_the_store_keeps_only_the_newest_files(tmp_path):
    store = ResultStore(tmp_path, max_files=3)
    for i in range(5):
        store.fetch("run", (i,), Counter(i))
    assert len(list(tmp_path.glob("*.pkl"))) == 3
    assert [store.contains("run", (i,)) for i in range(5)].count(True) == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_an_unwritable_folder_still_returns_the_result(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store, compute = ResultStore(blocker / "results"), Counter(7)
    assert store.fetch("run", ("k",), compute) == 7
    assert store.fetch("run", ("k",), compute) == 7 and compute.calls == 2


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

    def fetch(self, kind, key, compute):
        self.fetched.append((kind, key))
        if kind in self.CHEAP:
            return compute()
        raise RunStopped(kind)


@pytest.mark.parametrize("name", ["Prior shift", "Adaptation on rotated moons", "How much alignment?",
                                  "When transfer turns negative", "Rotated digits"])
def test_a_page_at_its_defaults_fetches_the_runs_warm_stores(name, monkeypatch, empty_caches):
    """Warm is useless unless the page asks the store for the very keys warm stored."""
    from streamlit.testing.v1 import AppTest

    recorder = KeyRecorder()
    monkeypatch.setattr(scene_runs, "default_store", lambda: recorder)
    preset = PRESETS_BY_NAME[name]
    at = AppTest.from_file(str(ROOT / "pages" / f"{preset.page}.py"), default_timeout=120)
    for key, value in preset.scenario.to_params().items():
        at.query_params[key] = value
    at.run()
    expected = [(kind.name, key) for kind, key in scene_runs.scene_runs(preset)]
    assert recorder.fetched[: len(expected)] == expected[: len(recorder.fetched)]
    assert recorder.fetched[0] == expected[0]
