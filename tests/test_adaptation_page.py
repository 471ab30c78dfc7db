"""The Adaptation page under AppTest: defaults, every method setting at its extremes, the
scenarios that change what the page can draw, and the results table's builder.

Most runs use a small scenario (200 points per split), 100 steps and four methods, so that
the module stays quick; one test runs the page at its true defaults.
"""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

import core.labs.adaptation
from core.errors import InputError
from core.figures.adaptation import results_frame, results_table
from core.labs.replay import REPLAY_FRAMES
from core.metrics.paired import TransferVerdict
from core.scenario import Scenario
from core.training.methods import METHODS
from core.training.train import DivergedModel
from tests.apptest_helpers import result_downloads

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
HOME = str(ROOT / "pages/home.py")
ADAPTATION = str(ROOT / "pages/adaptation.py")
TIMEOUT = 300
SMALL = {"n_source": "200", "n_target": "200", "n_test": "200"}
FAST = {"adaptation_steps": 100, "adaptation_methods": ["source_only", "mmd", "dann", "ot"]}
ALL_METHODS = [m.name for m in METHODS]
DEFAULT_METHODS = [m for m in METHODS if m.on_page_by_default]


pytestmark = [pytest.mark.apptest, pytest.mark.usefixtures("one_torch_thread")]  # tests/conftest.py: one torch thread


def run_page(query=None, small=True, **state):
    """The page with ``query`` in its URL and widget values preset in the session."""
    at = AppTest.from_file(ADAPTATION, default_timeout=TIMEOUT)
    for key, value in {**(SMALL if small else {}), **(query or {})}.items():
        at.query_params[key] = value
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def fast_page(query=None, **state):
    return run_page(query, **{**FAST, **state})


def assert_clean(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def specs(at):
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def titles(at):
    return [spec["layout"]["title"]["text"] for spec in specs(at)]


def chart(at, title_start):
    """The spec of the chart whose title starts with ``title_start``."""
    return next(spec for spec in specs(at) if spec["layout"]["title"]["text"].startswith(title_start))


def table(at):
    return at.dataframe[0].value


def submit(at, **values):
    """Set form widgets and press "Train"."""
    for key, value in values.items():
        widget = next(w for kind in ("slider", "select_slider", "multiselect") for w in at.main.get(kind)
                      if w.key == key)
        widget.set_value(value)
    next(b for b in at.button if b.label == "Train").click()
    return at.run()


def boundary_panels(spec):
    """Filled p(y | x) traces of the decision-boundary figure, one per method."""
    return [t for t in spec["data"] if t["type"] == "heatmap"]


def test_defaults_show_the_table_and_every_chart():
    at = run_page(small=False)
    assert_clean(at)
    assert at.title[0].value == "Adaptation"
    assert [t.split(":")[0] for t in titles(at)] == [
        "Decision boundaries (median seed of each method)", "Replay", "Replay", "Training curves",
        "Feature layer before and after adaptation (PCA of the last hidden layer, median seed)",
        "Confusion matrices on the target test set (counts summed over seeds)"]
    frame = table(at)
    assert list(frame["method"]) == [m.label for m in DEFAULT_METHODS]
    assert set(frame["seeds"]) == {"3 of 3"}
    assert {"target test acc.", "source acc.", "Δ vs source only", "transfer"} <= set(frame.columns)
    boundaries, replay_boundaries, replay_features, curves, features, confusion = specs(at)
    assert len(boundary_panels(boundaries)) == len(DEFAULT_METHODS)
    assert len(replay_boundaries["frames"]) == len(replay_features["frames"]) == REPLAY_FRAMES
    ranges = {json.dumps(value["range"]) for key, value in boundaries["layout"].items() if key.startswith("xaxis")}
    assert len(ranges) == 1  # one shared, fixed x range
    names = {t.get("name") for t in boundaries["data"]}
    assert {"source · class 0", "target test · class 1", "transported source · class 0"} <= names
    assert curves["layout"]["xaxis"]["title"]["text"] == "training step"
    assert curves["layout"]["yaxis3"]["title"]["text"] == "domain-classifier accuracy"
    assert {t["name"] for t in curves["data"] if t.get("showlegend") is not False} == {m.label for m in DEFAULT_METHODS}
    assert features["layout"]["xaxis"]["title"]["text"].startswith("PC 1")
    assert sum(t["type"] == "heatmap" for t in confusion["data"]) == len(DEFAULT_METHODS)
    assert confusion["layout"]["xaxis"]["title"]["text"] == "predicted class"
    assert confusion["layout"]["yaxis"]["title"]["text"] == "true class"
    assert len(result_downloads(at)) == 2
    assert not at.get("progress")  # the bar is gone once training is done
    assert not at.warning  # no seed diverged at the defaults


def test_cached_rerun_replays_without_error_or_stale_progress():
    at = fast_page()
    assert_clean(at)
    before = titles(at)
    at.run()  # every cache hits: the progress bar's replay must not fail or linger
    assert_clean(at)
    assert titles(at) == before
    assert not at.get("progress")


def test_training_is_drawn_live_once_and_never_replayed_from_the_cache(monkeypatch):
    import ui.live

    drawn = []
    original = ui.live.LiveTraining.__call__

    def counting(self, frame):
        drawn.append((frame.step, self.frames_drawn))
        original(self, frame)

    monkeypatch.setattr(ui.live.LiveTraining, "__call__", counting)
    at = fast_page(adaptation_lr=0.003)  # a key no other test trains
    assert_clean(at)
    steps = [step for step, _ in drawn]
    assert steps[0] == 0 and steps[-1] == 100 and len(steps) == REPLAY_FRAMES  # every snapshot reaches the view
    assert titles(at)[0].startswith("Decision boundaries")  # no live frame is left above the results
    drawn.clear()
    at.run()  # a cache hit: nothing trains, nothing is drawn live
    assert_clean(at)
    assert drawn == []


def test_each_method_has_its_loss_in_latex_and_its_weight():
    at = fast_page(adaptation_lam=0.3)
    assert_clean(at)
    formulas = [latex.value for latex in at.latex]
    assert len(formulas) == len(FAST["adaptation_methods"])
    assert any(r"\mathrm{MMD}" in f for f in formulas)
    text = " ".join(m.value for m in at.markdown)
    assert "**MMD (DAN)** — here λ = 0.3" in text and "**Source only** — no λ" in text


@pytest.mark.parametrize("key, value", [("adaptation_seeds", 1), ("adaptation_seeds", 10), ("adaptation_lam", 0.0),
                                        ("adaptation_lam", 10.0), ("adaptation_steps", 10),
                                        pytest.param("adaptation_steps", 3000, marks=pytest.mark.slow)])
def test_every_method_setting_at_its_extremes(key, value):
    at = fast_page(adaptation_methods=["source_only", "dann"])
    submit(at, **{key: value})
    assert_clean(at)
    assert at.session_state["adaptation_saved_settings"][key.removeprefix("adaptation_")] == value
    assert len(specs(at)) == 6  # boundaries, the two replays, curves, features, confusion
    seeds = at.session_state["adaptation_saved_settings"]["seeds"]
    assert set(table(at)["seeds"]) == {f"{seeds} of {seeds}"}


def test_methods_and_their_order_follow_the_form_with_the_baseline_always_in():
    at = fast_page(adaptation_methods=["ot", "coral"])
    assert_clean(at)
    assert list(table(at)["method"]) == ["Source only", "Deep CORAL", "OT + similarity map"]
    submit(at, adaptation_methods=[])
    assert_clean(at)
    assert list(table(at)["method"]) == ["Source only"]
    assert any("besides source only" in i.value for i in at.info)


def test_no_target_labels_skips_the_methods_that_need_them():
    at = fast_page({"labels_per_class": "0"}, adaptation_methods=ALL_METHODS)
    assert_clean(at)
    assert "Skipped Target only, Fine-tune" in at.info[0].value
    methods = list(table(at)["method"])
    assert "Target only" not in methods and "Fine-tune" not in methods and "DANN" in methods


def test_lift3d_has_no_boundaries_but_everything_else():
    at = fast_page({"feature_map": "lift3d"})
    assert_clean(at)
    assert any("only for 2-D inputs" in i.value for i in at.info)
    assert [t.split(" ")[0] for t in titles(at)] == ["Replay:", "Training", "Feature", "Confusion"]
    assert "feature layer" in titles(at)[0]  # the features replay; no boundaries to replay


@pytest.mark.slow
def test_digits_have_no_boundaries_but_ten_class_features_and_confusion_matrices():
    at = fast_page({"dataset": "digits", "rotation": "30"})
    assert_clean(at)
    assert any("768 pixel features" in i.value for i in at.info)
    curves, features, confusion = (chart(at, title) for title in ("Training curves", "Feature layer", "Confusion"))
    names = {t.get("name") for t in features["data"]}
    assert {"source · class 0", "target · class 9"} <= names
    colours = {t["marker"]["color"] for t in features["data"] if t.get("name", "").startswith("source · class")}
    assert len(colours) == 10  # ten distinguishable class colours
    heatmaps = [t for t in confusion["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == len(FAST["adaptation_methods"])
    assert heatmaps[0]["x"] == heatmaps[0]["y"] == [str(k) for k in range(10)]
    assert list(table(at)["method"])[0] == "Source only"


def test_a_shared_url_restores_the_scenario():
    at = fast_page({"rotation": "35"})
    assert_clean(at)
    assert at.session_state["scenario"] == Scenario(rotation=35, n_source=200, n_target=200, n_test=200)
    assert at.query_params["rotation"] == "35"
    assert len(specs(at)) == 6


def test_three_classes_draw_the_predicted_class():
    at = fast_page({"dataset": "blobs", "label_space": "new_class"})
    assert_clean(at)
    boundaries = specs(at)[0]
    assert "predicted class" in boundaries["layout"]["title"]["text"]
    assert sum(t["type"] == "heatmap" for t in boundaries["data"]) == len(FAST["adaptation_methods"])


def test_boundary_axes_do_not_depend_on_the_methods():
    first = specs(fast_page({"rotation": "60"}, adaptation_methods=["source_only"]))[0]["layout"]
    second = specs(fast_page({"rotation": "60"}, adaptation_methods=["source_only", "coral",
                                                                     "self_training"]))[0]["layout"]
    assert first["xaxis"]["range"] == second["xaxis"]["range"] and first["yaxis"]["range"] == second["yaxis"]["range"]


@pytest.mark.parametrize("projection", ["pca", "tsne"])
def test_feature_embedding_projections_and_methods(projection):
    at = fast_page()
    at.radio(key="adapt_projection").set_value(projection)
    at.selectbox(key="adapt_embed_method").set_value("ot").run()
    assert_clean(at)
    layout = chart(at, "Feature layer before and after")["layout"]
    assert layout["xaxis"]["title"]["text"].startswith("PC 1" if projection == "pca" else "t-SNE 1")
    assert layout["annotations"][1]["text"] == "OT + similarity map · by domain"


def test_downloads_hold_the_rows_and_the_json():
    at = fast_page({"seed": "7"})
    assert_clean(at)
    labels = [b.proto.label for b in result_downloads(at)]
    assert labels == ["Download the results per model (CSV)", "Download the run (JSON)"]


def test_diverged_seeds_are_warnings_not_tracebacks(monkeypatch):
    real = core.labs.adaptation.run_adaptation

    def one_seed_diverges(*args, **kwargs):
        run = real(*args, **kwargs)
        m = next(i for i, spec in enumerate(run.trained.specs) if spec.method == "dann")
        spec = run.trained.specs[m]
        diverged = DivergedModel(spec.method, spec.seed, 42, m)
        run.trained.diverged_models = run.trained.diverged_models + (diverged,)
        run.rows[m].update(target_acc=None, source_acc=None, diverged=diverged.message(seed_label=m % run.n_seeds))
        return run

    monkeypatch.setattr(core.labs.adaptation, "run_adaptation", one_seed_diverges)
    at = fast_page({"seed": "4242"})  # a scenario no other test trains: a cache miss
    assert_clean(at)
    assert any("dann" in w.value and "diverged at step 42" in w.value for w in at.warning)
    frame = table(at)
    assert frame.loc[frame["method"] == "DANN", "seeds"].item() == "2 of 3 (1 diverged)"


def test_an_input_error_is_one_message_and_the_page_survives(monkeypatch):
    def refuse(*args, **kwargs):
        raise InputError("labels_per_class", "finetune trains on target labels: set labels_per_class ≥ 1")

    monkeypatch.setattr(core.labs.adaptation, "run_adaptation", refuse)
    at = fast_page({"seed": "4243"})
    assert not at.exception
    assert [e.value for e in at.error] == ["labels_per_class: finetune trains on target labels: set "
                                           "labels_per_class ≥ 1"]
    assert at.title[0].value == "Adaptation" and at.sidebar.get("slider")
    assert not at.get("progress")  # no bar left behind by the failed run


@pytest.mark.slow
def test_the_router_serves_the_page_and_its_settings_survive_a_page_switch():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in SMALL.items():
        at.query_params[key] = value
    at.run()
    at.session_state["adaptation_methods"] = ["source_only"]
    at.session_state["adaptation_steps"] = 100
    at.switch_page(ADAPTATION).run()
    assert_clean(at)
    submit(at, adaptation_seeds=2)
    at.switch_page(HOME).run()
    at.switch_page(ADAPTATION).run()
    assert_clean(at)
    assert at.slider(key="adaptation_seeds").value == 2
    assert set(table(at)["seeds"]) == {"2 of 2"}


def _fake_run(summaries, n_seeds=3):
    return SimpleNamespace(summary=lambda: summaries, n_seeds=n_seeds)


def _summary(method, label, target, delta, verdict=None, diverged=0):
    return {"method": method, "label": label, "target_acc_mean": target, "target_acc_sd": 0.01,
            "source_acc_mean": 1.0, "source_acc_sd": 0.0, "delta_vs_source_only": delta,
            "negative_transfer": verdict is not None and verdict.negative,
            "transfer_test": None if verdict is None else verdict.to_json(),
            "seeds_trained": 3 - diverged, "seeds_diverged": diverged}


def test_results_table_flags_and_highlights_negative_transfer_and_names_an_inconclusive_drop():
    run = _fake_run([_summary("source_only", "Source only", 0.8, 0.0),
                     _summary("coral", "Deep CORAL", 0.7, -0.1, TransferVerdict("negative", -0.1, 0.004, 3)),
                     _summary("dann", "DANN", 0.9, 0.1, TransferVerdict("no drop", 0.1, 0.99, 2), diverged=1),
                     _summary("mmd", "MMD", 0.75, -0.05, TransferVerdict("inconclusive", -0.05, 0.2, 3))])
    frame = results_frame(run)
    assert list(frame["transfer"]) == ["", "⚠️ negative transfer (p = 0.004, 3 seeds)", "",
                                       "inconclusive drop (p = 0.200, 3 seeds)"]
    assert list(frame["Δ vs source only"]) == ["—", "-10.0 pts", "+10.0 pts", "-5.0 pts"]
    assert frame["target test acc."][0] == "80.0% ± 1.0"
    assert frame["seeds"][2] == "2 of 3 (1 diverged)"
    html = results_table(run).to_html()
    css = html[html.index("<style"):html.index("</style>")]
    assert "background-color: rgba(213, 94, 0, 0.18)" in css
    assert "_row1_col0" in css and not any(f"_row{r}_col0" in css for r in (0, 2, 3))  # the negative row only


def test_a_link_over_the_work_budget_is_refused_before_training_and_keeps_its_settings():
    """The attack case at the widgets' maxima: one line naming the widget to lower and its largest value."""
    at = run_page({"steps": "3000", "seeds": "10", "n_source": "5000", "n_target": "5000"}, small=False)
    assert not at.exception
    assert [e.value for e in at.error] and at.error[0].value.startswith("Steps: this run would take about ")
    assert "at most" in at.error[0].value and "(now 3000)" in at.error[0].value
    assert not at.get("plotly_chart") and not at.dataframe  # nothing trained
    assert at.session_state["adaptation_steps"] == 3000 and at.query_params["steps"] == "3000"
    submit(at, adaptation_steps=100)
    assert_clean(at)
    assert table(at)["seeds"].iloc[0] == "10 of 10"


def test_a_long_run_says_how_long_it_will_take_before_it_starts():
    at = fast_page(adaptation_steps=1000)
    assert_clean(at)
    timers = [c.value for c in at.caption if "Estimated time of this run: about" in c.value]
    assert len(timers) == 1 and "on 2 CPU cores" in timers[0]
    at = fast_page()
    assert not [c.value for c in at.caption if "Estimated time" in c.value]
