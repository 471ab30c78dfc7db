"""The Fine-tuning, Negative transfer and Distillation pages under AppTest: defaults, every setting at
its extremes, invalid selections, the scenario in the URL, and what the charts and tables show.

Runs at the extremes use a small scenario (200 points per split) and few strategies or label
counts, so that the module stays near a minute on a 2-core machine.
"""

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import core.labs.distillation
import core.labs.finetune_runs
from core.errors import InputError
from core.labs.finetune_runs import DEFAULT_STRATEGIES
from core.labs.negative_transfer import RULE_TOLERANCE, SIMILAR_DROP, SMALL_LABELS
from core.scenario import Scenario
from core.training.finetune import STRATEGIES
from tests.apptest_helpers import result_downloads
from tests.test_pages import assert_clean
from tests.test_pages import plotly_specs as specs

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
HOME = str(ROOT / "pages/home.py")
FINETUNE = str(ROOT / "pages/finetune.py")
NEGATIVE = str(ROOT / "pages/negative_transfer.py")
DISTILLATION = str(ROOT / "pages/distillation.py")
TIMEOUT = 300
SMALL = {"n_source": "200", "n_target": "200", "n_test": "200"}
ALL = [s.name for s in STRATEGIES]
DEFAULT = list(DEFAULT_STRATEGIES)  # what the page trains unless told otherwise
LABELS = {s.name: s.label for s in STRATEGIES}


pytestmark = [pytest.mark.apptest, pytest.mark.usefixtures("one_torch_thread")]  # tests/conftest.py


def run_page(path, query=None, **state):
    """``path`` with ``query`` in its URL and widget values preset in the session."""
    at = AppTest.from_file(path, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def title(spec):
    return spec["layout"]["title"]["text"]


def axis_title(spec, axis):
    return spec["layout"][axis]["title"]["text"]


def values(array):
    """A trace's data array as a list (plotly may send numbers as typed binary)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def named(spec, name):
    return [t for t in spec["data"] if t.get("name") == name]


def without_count(name: str) -> str:
    """A legend name without the parameters trained after it: ``"Scratch (2,274)"`` → ``"Scratch"``."""
    return re.sub(r" \([\d,]+\)$", "", name)


def captions(at):
    return " ".join(c.value for c in at.caption)


def assert_curves_chart(spec, strategies, y_title):
    assert axis_title(spec, "xaxis") == "labelled target samples per class (log scale)"
    assert spec["layout"]["xaxis"]["type"] == "log"
    assert axis_title(spec, "yaxis") == y_title
    assert spec["layout"]["legend"]["title"]["text"] == "strategy (parameters trained)"
    for strategy in strategies:  # each name followed by the parameters one of its networks trains
        (line,) = [t for t in spec["data"] if re.fullmatch(re.escape(LABELS[strategy]) + r" \([\d,]+\)",
                                                            t.get("name", ""))]
        assert values(line["y"]) and line["line"]["dash"] == ("dash" if strategy == "scratch" else "solid")
    reference = [t for t in spec["data"] if t.get("name", "").startswith("pretrained network, before fine-tuning: ")]
    assert len(reference) == 1 and reference[0]["line"]["dash"] == "dot"


# --- Fine-tuning ----------------------------------------------------------------------------------------


def test_finetune_defaults_show_the_schedule_the_curves_and_the_read_out():
    at = run_page(FINETUNE)
    assert_clean(at)
    assert at.title[0].value == "Fine-tuning"
    schedule, efficiency, forgetting = specs(at)
    assert title(schedule) == "Learning rate of each layer at each epoch (grey: frozen)"
    heatmaps = [t for t in schedule["data"] if t["type"] == "heatmap"]
    assert [t["name"] for t in heatmaps] == [LABELS[s] for s in DEFAULT]
    assert heatmaps[0]["y"] == ["layer 1 (input)", "layer 2", "layer 3", "layer 4 (head)", "adapters"]
    assert axis_title(schedule, "xaxis") == "fine-tuning epoch" and axis_title(schedule, "yaxis") == "layer"
    assert schedule["layout"]["coloraxis"]["colorbar"]["ticktext"][0] == "0 (frozen)"
    assert title(efficiency).startswith("Sample efficiency") and title(forgetting).startswith("Forgetting")
    assert_curves_chart(efficiency, DEFAULT, "target test accuracy")
    assert_curves_chart(forgetting, DEFAULT, "source accuracy")
    frame = at.dataframe[0].value
    assert list(frame["strategy"]) == [LABELS[s] for s in DEFAULT if s != "scratch"]
    assert list(frame.columns) == ["strategy", "1", "2", "5", "10", "20", "50"]
    cells = frame.drop(columns="strategy").values.ravel()
    assert all(re.fullmatch(r"(≈ [\d.]+|≤ \d+|> \d+)", cell) for cell in cells)
    assert len(at.latex) == len(DEFAULT)
    assert len(result_downloads(at)) == 2
    assert f"{len(DEFAULT) * 6 * 3} models trained as one batch" in captions(at)  # strategies × label counts × seeds
    assert not at.get("progress")


def test_finetune_cached_rerun_replays_cleanly():
    at = run_page(FINETUNE)
    at.run()
    assert_clean(at)
    assert len(specs(at)) == 3 and not at.get("progress")


EXTREMES = [
    dict(finetune_strategies=["progressive", "partial", "l2sp", "adapt_finetune", "distill", "adapter",
                              "self_supervised"], finetune_labels=[1, 100],
         finetune_seeds=1, finetune_epochs=50, finetune_partial_layers=4, finetune_unfreeze_every=100,
         finetune_discriminative_decay=5.0, finetune_l2sp_weight=1000.0, finetune_adapt_method="ot",
         finetune_distill_weight=1.0, finetune_adapter_width=32),
    dict(finetune_strategies=["scratch", "discriminative", "progressive"], finetune_labels=[2], finetune_seeds=5,
         finetune_epochs=500, finetune_partial_layers=1, finetune_unfreeze_every=5, finetune_discriminative_decay=1.0,
         finetune_l2sp_weight=0.0, finetune_adapt_method="coral"),
]


@pytest.mark.parametrize("state", EXTREMES, ids=["low", "high"])
def test_finetune_settings_at_their_extremes_and_the_scenario_url(state):
    at = run_page(FINETUNE, {**SMALL, "rotation": "35"}, **state)
    assert_clean(at)
    assert at.session_state["scenario"] == Scenario(rotation=35, n_source=200, n_target=200, n_test=200)
    assert at.query_params["rotation"] == "35"
    trained = ["scratch"] + [s for s in ALL if s in state["finetune_strategies"] and s != "scratch"]
    schedule, efficiency, forgetting = specs(at)
    heatmaps = [t for t in schedule["data"] if t["type"] == "heatmap"]
    assert [t["name"] for t in heatmaps] == [LABELS[s] for s in trained]
    assert len(values(heatmaps[0]["x"])) == state["finetune_epochs"]
    assert_curves_chart(efficiency, trained, "target test accuracy")
    frame = at.dataframe[0].value
    assert list(frame.columns) == ["strategy"] + [str(n) for n in state["finetune_labels"]]
    models = len(trained) * len(state["finetune_labels"]) * state["finetune_seeds"]
    assert f"{models} models trained as one batch" in captions(at)
    assert at.session_state["finetune_saved_settings"]["epochs"] == state["finetune_epochs"]
    unsupervised = "self-supervised pretraining: **unsupervised**, then **inductive**"
    assert (unsupervised in " ".join(c.value for c in at.caption)) == ("self_supervised" in trained)


def test_finetune_progressive_staircase_and_discriminative_grades():
    at = run_page(FINETUNE, SMALL, finetune_strategies=["progressive", "discriminative"], finetune_labels=[5],
                  finetune_seeds=1, finetune_epochs=100)
    assert_clean(at)
    progressive, discriminative = [t for t in specs(at)[0]["data"] if t.get("name") in
                                   (LABELS["progressive"], LABELS["discriminative"])]
    frozen = [[cell == "0 (frozen)" for cell in row] for row in progressive["customdata"]]
    assert [row.index(False) for row in frozen] == [75, 50, 25, 0]  # layer 1 waits longest
    assert [row[-1] for row in discriminative["customdata"]] == ["0.000171", "0.000444", "0.00115", "0.003"]


@pytest.mark.parametrize("state, message", [
    (dict(finetune_strategies=[]), "Strategies: expected at least 1 value, each one of scratch,"),
    (dict(finetune_labels=[]), "Labelled target samples per class: expected at least 1 value, each an integer in "
                               "[1, 100]"),
])
def test_finetune_an_invalid_selection_is_one_message(state, message):
    at = run_page(FINETUNE, **state)
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith(message)
    assert not specs(at) and at.title[0].value == "Fine-tuning"


def test_finetune_only_scratch_has_no_read_out_but_says_why():
    at = run_page(FINETUNE, SMALL, finetune_strategies=["scratch"], finetune_labels=[1, 5], finetune_seeds=1,
                  finetune_epochs=50)
    assert_clean(at)
    assert not at.dataframe and any("besides scratch" in i.value for i in at.info)


def test_finetune_diverged_models_are_a_warning_not_a_traceback(monkeypatch):
    real = core.labs.finetune_runs.run_finetuning

    def one_diverges(*args, **kwargs):
        run = real(*args, **kwargs)
        point = next(p for p in run.points if p["strategy"] == "partial")
        point.update(target_acc=None, source_acc=None,
                     diverged="partial (seed 0, 1 labels per class) diverged at step 7")
        return run

    monkeypatch.setattr(core.labs.finetune_runs, "run_finetuning", one_diverges)
    at = run_page(FINETUNE, {**SMALL, "seed": "4244"}, finetune_strategies=["partial"], finetune_labels=[1],
                  finetune_seeds=2, finetune_epochs=50)  # a scenario no other test trains: a cache miss
    assert_clean(at)
    assert [w.value for w in at.warning] == [
        "1 model(s) diverged and are left out of the means: partial (seed 0, 1 labels per class) diverged at step 7"]
    assert len(specs(at)) == 3


def test_an_input_error_from_the_engine_is_one_message(monkeypatch):
    def refuse(*args, **kwargs):
        raise InputError("temperature", "expected a number in [1, 20], got 30.0")

    monkeypatch.setattr(core.labs.distillation, "run_distillation", refuse)
    at = run_page(DISTILLATION, {"seed": "4245"})
    assert not at.exception
    assert [e.value for e in at.error] == ["temperature: expected a number in [1, 20], got 30.0"]
    assert at.title[0].value == "Distillation" and not specs(at)


# --- Negative transfer ----------------------------------------------------------------------------------


def gain_cells(spec):
    (heatmap,) = [t for t in spec["data"] if t["type"] == "heatmap"]
    return heatmap


def negative_marks(spec):
    return [t for t in spec["data"] if t.get("name", "").startswith("negative transfer")]


def inconclusive_marks(spec):
    return [t for t in spec["data"] if t.get("name", "").startswith("?:")]


def test_negative_transfer_defaults_show_both_maps_the_marks_and_the_rules():
    at = run_page(NEGATIVE)
    assert_clean(at)
    assert at.title[0].value == "Negative transfer"
    rotation_gain, rotation_best, concept_gain, concept_best = specs(at)
    for gain, knob, rows in ((rotation_gain, "Rotation (°)", 7), (concept_gain, "Concept shift", 5)):
        assert title(gain) == ("Full fine-tuning: gain over scratch<br><sup>points of target test accuracy; 2,274 "
                               "parameters trained per network</sup>")
        assert axis_title(gain, "xaxis") == "labelled target samples per class" and axis_title(gain, "yaxis") == knob
        assert gain["layout"]["xaxis"]["ticktext"] == ["1", "2", "5", "10", "20", "50"]
        assert len(gain["layout"]["yaxis"]["ticktext"]) == rows
        heatmap = gain_cells(gain)
        assert heatmap["zmin"] == -heatmap["zmax"]  # centred at 0
        assert "scratch" in heatmap["hovertemplate"] and "per seed" in heatmap["hovertemplate"]
    marks = [m for gain in (rotation_gain, concept_gain) for m in negative_marks(gain) + inconclusive_marks(gain)]
    assert marks and values(marks[0]["x"])  # transfer hurts, or may hurt, somewhere on the maps
    text = captions(at)
    for gain, cells in ((rotation_gain, 42), (concept_gain, 30)):
        outlined = sum(s["type"] == "rect" for s in gain["layout"].get("shapes", []))
        assert f"negative in {outlined} of {cells} cells" in text
        unsure = inconclusive_marks(gain)
        assert f"in {len(values(unsure[0]['x'])) if unsure else 0} more the drop is as large" in text
        assert len(values(negative_marks(gain)[0]["x"])) == outlined if outlined else not negative_marks(gain)
    for best in (rotation_best, concept_best):
        assert title(best).startswith("Best strategy per cell")
        assert {without_count(t["name"]) for t in best["data"] if t["type"] == "scatter"} == {
            "Scratch", "Feature extraction", "Full fine-tuning"}
        marks = {cell for row in gain_cells(best)["text"] for cell in row}
        assert marks <= {"✓", "✗", ""} and marks & {"✓", "✗"}
        assert any(a["text"].startswith(f"small (≤ {SMALL_LABELS})") for a in best["layout"]["annotations"])
    markdown = " ".join(m.value for m in at.markdown)
    assert f"at most {SMALL_LABELS} labels per class" in markdown
    assert f"at most {100 * SIMILAR_DROP:g} points" in markdown
    assert f"within {100 * RULE_TOLERANCE:g} point(s)" in markdown
    for table in at.dataframe:
        frame = table.value
        assert list(frame.columns) == ["quadrant", "advice", "checked with", "cells", "holds"]
        assert len(frame) == 4
    assert len(result_downloads(at)) == 4


@pytest.mark.slow
@pytest.mark.parametrize("state", [
    dict(negative_transfer_strategies=[s.name for s in STRATEGIES if s.name != "scratch"],
         negative_transfer_mapped="l2sp", negative_transfer_labels=[1, 100],
         negative_transfer_seeds=1, negative_transfer_epochs=100),  # 200 epochs: over the work budget
    dict(negative_transfer_strategies=[], negative_transfer_mapped="feature_extraction",
         negative_transfer_labels=[2], negative_transfer_seeds=5),
], ids=["every-strategy", "mapped-only"])
def test_negative_transfer_settings_at_their_extremes(state):
    at = run_page(NEGATIVE, {**SMALL, "dataset": "blobs"}, **state)
    assert_clean(at)
    gain = specs(at)[0]
    assert title(gain).startswith(LABELS[state["negative_transfer_mapped"]])
    assert gain["layout"]["xaxis"]["ticktext"] == [str(n) for n in state["negative_transfer_labels"]]
    best = specs(at)[1]
    trained = {"scratch", state["negative_transfer_mapped"], *state["negative_transfer_strategies"]}
    assert {without_count(t["name"]) for t in best["data"] if t["type"] == "scatter"} == {LABELS[s] for s in trained}
    assert at.query_params["dataset"] == "blobs"


def test_negative_transfer_without_labels_is_one_message():
    at = run_page(NEGATIVE, negative_transfer_labels=[])
    assert not at.exception
    assert len(at.error) == 1
    assert at.error[0].value.startswith("Labelled target samples per class (columns): expected at least 1 value")
    assert not specs(at)


# --- Distillation ---------------------------------------------------------------------------------------


def assert_distillation(at, temperature, alpha, seeds):
    assert_clean(at)
    assert at.title[0].value == "Distillation"
    bars, curve = specs(at)
    assert title(bars) == (f"Teacher and students (T = {temperature:g}, α = {alpha:g}): mean ± sd over "
                           + (f"{seeds} seeds" if seeds > 1 else "1 seed"))
    assert axis_title(bars, "yaxis") == "accuracy" and axis_title(bars, "xaxis").startswith("network (each student: ")
    assert {t["name"] for t in bars["data"]} == {"target test accuracy", "source accuracy"}
    assert "parameters" in values(bars["data"][0]["x"])[0]
    assert len(values(bars["data"][0]["x"])) == 5  # teacher, the two headline students, the two of the contrast
    verdicts = [m.value for m in (*at.success, *at.info)]
    assert any(v.startswith("Students with the few target labels only: ") for v in verdicts)
    assert any(v.startswith("Contrast, students with the target labels and the labelled source") for v in verdicts)
    assert axis_title(curve, "xaxis") == "temperature T (log₂ scale)" and curve["layout"]["xaxis"]["type"] == "log"
    names = [t.get("name", "") for t in curve["data"]]
    assert f"chosen T = {temperature:g}" in names
    for reference in ("Teacher: ", "Student from hard labels: "):
        assert any(n.startswith(reference) for n in names)
    assert [m.label.split(" (")[0] for m in at.metric] == ["Teacher", "Student from soft targets",
                                                           "Student from hard labels"]
    assert all(re.fullmatch(r"\d+\.\d% ± \d+\.\d", m.value) for m in at.metric)
    assert len(at.latex) == 1 and f"{alpha:g}" in at.latex[0].value
    assert len(result_downloads(at)) == 1


def test_distillation_defaults():
    at = run_page(DISTILLATION)
    assert_distillation(at, 4.0, 0.9, 3)


@pytest.mark.parametrize("temperature, alpha, seeds", [(1.0, 0.0, 1), (20.0, 1.0, 5)])
def test_distillation_settings_at_their_extremes(temperature, alpha, seeds):
    at = run_page(DISTILLATION, {**SMALL, "rotation": "35"}, distillation_temperature=temperature,
                  distillation_alpha=alpha, distillation_seeds=seeds)
    assert_distillation(at, temperature, alpha, seeds)
    assert at.query_params["rotation"] == "35"


# --- the router ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_router_serves_the_pages_and_their_settings_survive_a_page_switch():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in SMALL.items():
        at.query_params[key] = value
    at.run()
    at.session_state["distillation_seeds"] = 1
    at.switch_page(DISTILLATION).run()
    assert_clean(at)
    at.slider(key="distillation_alpha").set_value(0.5)
    next(b for b in at.button if b.label == "Distil").click()
    at.run()
    at.switch_page(HOME).run()
    assert_clean(at)
    assert {"Fine-tuning", "Negative transfer", "Distillation"} <= {link.label for link in at.get("page_link")}
    at.switch_page(DISTILLATION).run()
    assert_clean(at)
    assert at.slider(key="distillation_alpha").value == 0.5
    assert specs(at)[0]["layout"]["title"]["text"].startswith("Teacher and students (T = 4, α = 0.5)")


@pytest.mark.parametrize("path", [FINETUNE, NEGATIVE, DISTILLATION])
def test_digits_get_one_note_and_the_page_stops_with_the_sidebar_kept(path):
    at = run_page(path, {"dataset": "digits"})
    assert not at.exception and not at.error
    assert len(at.info) == 1 and "works on the 2-D datasets" in at.info[0].value
    assert "Image domains" in at.info[0].value
    assert not at.get("plotly_chart") and not at.get("progress") and at.sidebar.get("slider")
