"""The MMD-vs-lambda page under AppTest (defaults, each setting at its extremes, lift3d), and the
sweep-with-models function against core.labs.sweeps.lambda_sweep.

Runs use a small scenario (200 points per split) and, except at the defaults, 100 steps.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.errors import InputError
from core.figures.sweeps import ORACLE_NAME, lambda_positions
from core.labs import sweeps
from core.labs.lambda_models import lambda_grid, summarise
from core.labs.sweeps import lambda_sweep_with_models
from core.scenario import Scenario
from core.training.train import TrainSettings
from tests.apptest_helpers import result_downloads

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages/lambda_sweep.py")
TIMEOUT = 300
SMALL = {"n_source": "200", "n_target": "200", "n_test": "200", "rotation": "40"}


pytestmark = [pytest.mark.apptest, pytest.mark.usefixtures("one_torch_thread")]  # tests/conftest.py: one torch thread


def run_page(query=None, **state):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for key, value in {**SMALL, **(query or {})}.items():
        at.query_params[key] = value
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def fast_page(query=None, **state):
    return run_page(query, **{"lambda_sweep_steps": 100, **state})


def assert_clean(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def specs(at):
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def trace_names(spec):
    return {t.get("name") for t in spec["data"]}


def assert_sweep_chart(spec, n_lambdas):
    layout = spec["layout"]
    assert layout["xaxis"]["type"] == "log"
    assert layout["xaxis"]["ticktext"][0] == "0"
    assert layout["yaxis2"]["title"]["text"].startswith("feature MMD²")
    assert {"target test accuracy", "source accuracy", "feature MMD² (right axis)", ORACLE_NAME} <= trace_names(spec)
    line = next(t for t in spec["data"] if t.get("name") == "target test accuracy")
    assert len(line["x"]["bdata"] if isinstance(line["x"], dict) else line["x"]) > 0
    best = next(t for t in spec["data"] if t.get("name") == ORACLE_NAME)
    assert best["text"][0].startswith("oracle best λ = ")
    assert "oracle best λ" in " ".join(a.get("text", "") for a in spec["layout"].get("annotations", []))
    picks = {t["name"] for t in spec["data"] if "pick (label-free)" in (t.get("name") or "")}
    assert picks == {"Source validation pick (label-free)", "IWV pick (label-free)", "DEV pick (label-free)"}
    estimates = [t for t in spec["data"] if "accuracy estimate" in (t.get("name") or "")]
    assert len(estimates) == 3 and all(t["visible"] == "legendonly" for t in estimates)


def assert_selection_table(at):
    """The oracle's λ first, labelled as such, then each label-free criterion's pick with its cost (oracle)."""
    assert any(h.value == "Choosing λ without target labels" for h in at.subheader)
    table = at.dataframe[0].value
    assert list(table["chosen by"]) == ["ORACLE: target test labels", "Source validation", "IWV (Sugiyama et al. 2007)",
                                        "DEV (You et al. 2019)"]
    assert list(table["uses target labels"]) == ["yes (oracle)", "no", "no", "no"]
    assert table["λ"].notna().all() and (table["cost vs oracle (oracle)"] >= -1e-12).all()
    assert {"target test acc. (oracle)", "criterion's accuracy estimate (1 − risk)"} <= set(table.columns)
    captions = " ".join(c.value for c in at.caption)
    assert "oracle best λ" in captions and "ORACLE" in captions and "held-out source points" in captions


def assert_animation(spec, n_lambdas):
    assert len(spec["frames"]) == n_lambdas
    assert spec["frames"][0]["name"] == "0"
    buttons = spec["layout"]["updatemenus"][0]["buttons"]
    assert buttons[0]["method"] == "animate" and "Play" in buttons[0]["label"]
    assert len(spec["layout"]["sliders"][0]["steps"]) == n_lambdas
    assert spec["layout"]["xaxis"]["range"] and spec["layout"]["yaxis"]["range"]
    assert {"source · class 0", "target test · class 1"} <= trace_names(spec)
    assert any(t["type"] == "heatmap" for t in spec["data"])


def test_defaults_show_the_sweep_and_the_animation():
    at = run_page()
    assert_clean(at)
    assert at.title[0].value == "MMD vs λ"
    chart, animation = specs(at)
    assert_sweep_chart(chart, 12)
    assert_animation(animation, 12)
    assert "coloraxis" in animation["layout"]  # two classes: p(class 1)
    assert len(result_downloads(at)) == 2  # the points (CSV) and the sweep (JSON)
    assert_selection_table(at)
    assert not at.get("progress")  # the bar is gone once training is done


def test_cached_rerun_replays_cleanly():
    at = fast_page()
    assert_clean(at)
    assert_selection_table(at)
    at.run()
    assert_clean(at)
    assert len(specs(at)) == 2 and not at.get("progress")


def test_dann():
    at = fast_page(lambda_sweep_method="dann")
    assert_clean(at)
    chart, animation = specs(at)
    assert chart["layout"]["title"]["text"].startswith("DANN")
    assert_animation(animation, 12)


@pytest.mark.parametrize("seeds", [1, 5])
def test_seed_extremes(seeds):
    at = fast_page(lambda_sweep_seeds=seeds, lambda_sweep_count=8)
    assert_clean(at)
    chart, _ = specs(at)
    bands = [t for t in chart["data"] if t.get("fill") == "tonexty"]
    assert len(bands) == (0 if seeds == 1 else 3)
    assert f"{8 * seeds} models trained" in " ".join(c.value for c in at.caption)


@pytest.mark.parametrize("count", [8, 16])
def test_grid_size_extremes(count):
    at = fast_page(lambda_sweep_count=count, lambda_sweep_seeds=1)
    assert_clean(at)
    chart, animation = specs(at)
    assert_sweep_chart(chart, count)
    assert_animation(animation, count)


def test_lift3d_has_no_animation_but_the_sweep():
    at = fast_page({"feature_map": "lift3d"}, lambda_sweep_count=8, lambda_sweep_seeds=1)
    assert_clean(at)
    assert len(specs(at)) == 1
    assert any("2-D inputs" in i.value for i in at.info)


@pytest.mark.slow
def test_digits_have_the_sweep_but_no_animation():
    at = fast_page({"dataset": "digits"}, lambda_sweep_count=8, lambda_sweep_seeds=1)
    assert_clean(at)
    (chart,) = specs(at)
    assert_sweep_chart(chart, 8)
    assert any("768 pixel features" in i.value for i in at.info)


def test_three_classes_draw_the_predicted_class():
    at = fast_page({"dataset": "blobs"}, lambda_sweep_count=8, lambda_sweep_seeds=1)
    assert_clean(at)
    _, animation = specs(at)
    assert "coloraxis" not in animation["layout"]
    assert len(animation["frames"]) == 8


def test_with_models_equals_lambda_sweep():
    scenario = Scenario(n_source=200, n_target=200, n_test=200, rotation=40)
    settings = TrainSettings(steps=60)
    lambdas = [0.0, 0.1, 3.0]
    expected = sweeps.lambda_sweep(scenario, "dann", lambdas, n_seeds=2, settings=settings)
    answer, trained = lambda_sweep_with_models(scenario, "dann", lambdas, n_seeds=2, settings=settings)
    expected.pop("train_seconds"), answer.pop("train_seconds")
    assert answer == expected
    assert [spec.lam for spec in trained.specs] == [0.0, 0.0, 0.1, 0.1, 3.0, 3.0]


def test_grid_summary_and_positions():
    grid = lambda_grid(12)
    assert grid[0] == 0.0 and grid[1] == 0.01 and grid[-1] == 10.0 and len(grid) == 12
    with pytest.raises(InputError):
        lambda_grid(2)
    np.testing.assert_allclose(lambda_positions(np.array([0.0, 0.01, 1.0])), [0.001, 0.01, 1.0])
    points = [{"align_weight": lam, "seed": s, "target_acc": acc + 0.01 * s, "source_acc": 1.0, "feature_mmd2": 0.1,
               "diverged": False} for lam, acc in [(0.0, 0.8), (0.1, 0.9), (1.0, 0.7)] for s in range(2)]
    points.append({"align_weight": 1.0, "seed": 2, "target_acc": None, "source_acc": None, "feature_mmd2": None,
                   "diverged": True})
    summary = summarise(points)
    assert summary.baseline == pytest.approx(0.805)
    assert summary.oracle_best == 1
    assert summary.negative.tolist() == [False, False, True]
    assert summary.diverged.tolist() == [0, 0, 1]
    assert summary.low["target_acc"][1] == pytest.approx(0.9) and summary.high["target_acc"][1] == pytest.approx(0.91)
