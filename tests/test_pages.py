"""Every page runs under AppTest, at defaults and at the extremes of every widget."""

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.scenario import KNOBS, KNOBS_BY_NAME, OPENING, Scenario
from core.talk.presets import PRESETS
from core.training.finetune import STRATEGIES
from ui.state import widget_key

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
HOME = str(ROOT / "pages/home.py")
DOMAIN_SHIFT = str(ROOT / "pages/domain_shift.py")
TIMEOUT = 120

pytestmark = [pytest.mark.apptest, pytest.mark.usefixtures("one_torch_thread")]  # tests/conftest.py: one torch thread


def run_page(path=DOMAIN_SHIFT, query=None):
    at = AppTest.from_file(path, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def assert_clean(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def plotly_specs(at):
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_router_and_home_page_run():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert_clean(at)
    assert "Domain Shift Lab" in at.title[0].value
    at = run_page(HOME)
    assert_clean(at)
    assert f"{len(STRATEGIES)} fine-tuning strategies" in " ".join(m.value for m in at.markdown)
    captions = [c.value for c in at.caption]
    assert any(c.endswith("· *transductive and inductive* on this scenario") for c in captions)  # Adaptation
    assert any(c.endswith("· *inductive* on this scenario") for c in captions)  # Fine-tuning


def test_domain_shift_defaults_show_charts_and_metrics():
    at = run_page()
    assert_clean(at)
    specs = plotly_specs(at)
    assert len(specs) == 4
    scatter = specs[0]
    assert scatter["layout"]["xaxis"]["title"]["text"] == "x0"
    names = [trace.get("name", "") for trace in scatter["data"]]
    assert "source · class 0" in names and "target · class 1" in names
    assert all(len(trace["x"]) > 0 for trace in scatter["data"])
    labels = [m.label for m in at.metric]
    assert {"MMD² (biased)", "MMD² (unbiased)", "Permutation p-value", "Proxy A-distance"} <= set(labels)


def test_a_label_swapping_rotation_is_named_under_the_metrics():
    swapped = run_page(query={"rotation": "180"})
    assert_clean(swapped)
    assert any("the labels moved while the inputs stayed" in w.value and "oracle" in w.value for w in swapped.warning)
    assert not any("labels moved" in w.value for w in run_page(query={"rotation": "35"}).warning)


def test_shared_url_restores_the_scenario():
    at = run_page(query={"rotation": "35", "dataset": "blobs", "prior": "0.5"})
    assert_clean(at)
    assert at.slider(key=widget_key("rotation")).value == 35
    assert at.selectbox(key=widget_key("dataset")).value == "blobs"
    assert at.session_state["scenario"] == Scenario(rotation=35, dataset="blobs", prior=0.5)
    assert at.query_params["rotation"] == "35"


def shown_text(elements) -> str:
    """What Markdown elements show, joined: a link's text arrives escaped (core.formatting.plain)."""
    return " ".join(re.sub(r"\\(.)", r"\1", element.value) for element in elements)


def test_bad_url_keys_are_reported_and_the_good_ones_kept():
    at = run_page(query={"rotation": "abc", "scale": "2", "wobble": "1"})
    assert not at.exception
    warnings = shown_text(at.warning)
    assert "rotation: expected a number" in warnings and "wobble: unknown key" in warnings
    assert at.session_state["scenario"] == OPENING.replace(scale=2)  # a key left out keeps the opening's value


def test_a_link_key_or_value_is_shown_as_text_never_as_a_link_or_an_image():
    at = run_page(query={"[Click here](http://127.0.0.1:9/phish)": "1", "rotation": "![px](http://127.0.0.1:9/p.png)"})
    assert not at.exception
    shown = " ".join(w.value for w in at.warning if "Ignored from the link" in w.value)
    assert "\\[Click here\\]\\(http" in shown and "\\!\\[px\\]\\(http" in shown
    assert "](" not in shown


def test_the_app_opens_shifted_and_no_shift_is_one_click_away():
    at = run_page()
    assert_clean(at)
    assert at.session_state["scenario"] == OPENING and at.query_params["rotation"] == "35"
    at.button[[b.label for b in at.button].index("No shift")].click().run()
    assert_clean(at)
    assert at.session_state["scenario"] == Scenario() and at.query_params["rotation"] == "0"
    assert at.slider(key=widget_key("rotation")).value == 0


def test_moving_a_slider_updates_the_url_and_the_numbers():
    at = run_page()
    before = at.metric[0].value
    at.slider(key=widget_key("rotation")).set_value(90).run()
    assert_clean(at)
    assert at.query_params["rotation"] == "90"
    assert at.metric[0].value != before


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS, ids=[p.name for p in PRESETS])
def test_every_preset_runs_and_sets_its_scenario(preset):
    at = run_page()
    at.selectbox(key="preset_choice").set_value(preset.name).run()
    assert_clean(at)
    assert at.session_state["scenario"] == preset.scenario


def _extremes(knob):
    if knob.kind is str:
        return list(knob.choices)
    return [knob.low, knob.high]


def sidebar_widget(at, name):
    """The sidebar widget of knob ``name``, or None when the sidebar does not show it."""
    knob = KNOBS_BY_NAME[name]
    kind = "selectbox" if knob.kind is str else ("number_input" if name == "seed" else "slider")
    return next((w for w in at.sidebar.get(kind) if w.key == widget_key(name)), None)


def n_charts(at):
    """Charts of the Domain shift page: scatter, proportions, feature map and sweep; digits: no feature map."""
    return 3 if at.session_state["scenario"].is_image else 4


@pytest.mark.slow
@pytest.mark.parametrize("knob", KNOBS, ids=[k.name for k in KNOBS])
def test_every_widget_at_its_extremes(knob):
    at = run_page(query=None if knob.applies("moons") else {"dataset": "digits"})
    for value in _extremes(knob):
        sidebar_widget(at, knob.name).set_value(knob.kind(value)).run()
        assert_clean(at)
        assert getattr(at.session_state["scenario"], knob.name) == knob.kind(value)
        assert len(plotly_specs(at)) == n_charts(at)


@pytest.mark.slow
def test_sidebar_shows_only_the_knobs_that_apply():
    at = run_page()
    assert sidebar_widget(at, "feature_map") is not None
    assert [name for name in ("invert", "blur", "background") if sidebar_widget(at, name)] == []
    at = run_page(query={"dataset": "digits"})
    assert_clean(at)
    assert sidebar_widget(at, "feature_map") is None
    assert all(sidebar_widget(at, name) is not None for name in ("invert", "blur", "background", "rotation"))


@pytest.mark.slow
def test_switching_the_dataset_back_and_forth_keeps_the_hidden_values():
    at = run_page(query={"feature_map": "polar", "rotation": "30"})
    sidebar_widget(at, "dataset").set_value("digits").run()
    assert_clean(at)
    assert at.session_state["scenario"] == Scenario(dataset="digits", rotation=30)  # polar parked, not an error
    sidebar_widget(at, "invert").set_value(0.5).run()
    assert_clean(at)
    sidebar_widget(at, "dataset").set_value("moons").run()
    assert_clean(at)
    assert at.session_state["scenario"] == Scenario(feature_map="polar", rotation=30)
    assert sidebar_widget(at, "feature_map").value == "polar" and sidebar_widget(at, "invert") is None
    assert at.query_params["feature_map"] == "polar" and "invert" not in at.query_params
    sidebar_widget(at, "dataset").set_value("digits").run()
    assert_clean(at)
    assert sidebar_widget(at, "invert").value == 0.5
    assert at.session_state["scenario"] == Scenario(dataset="digits", rotation=30, invert=0.5)


@pytest.mark.slow
def test_too_many_labels_for_digits_is_one_error_and_keeps_the_settings():
    at = run_page(query={"dataset": "digits", "rotation": "20"})
    sidebar_widget(at, "labels_per_class").set_value(50).run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "labels_per_class" in message and "[0, 20]" in message and "Target labels per class" in message
    assert "\n" not in message
    assert at.session_state["scenario"] == Scenario(dataset="digits", rotation=20)  # the last valid one
    assert sidebar_widget(at, "rotation").value == 20 and sidebar_widget(at, "labels_per_class").value == 50
    sidebar_widget(at, "labels_per_class").set_value(20).run()
    assert_clean(at)
    assert at.session_state["scenario"] == Scenario(dataset="digits", rotation=20, labels_per_class=20)


@pytest.mark.slow
def test_a_link_with_knobs_that_do_not_go_together_keeps_the_rest():
    at = run_page(query={"dataset": "digits", "feature_map": "polar", "labels_per_class": "50", "rotation": "10"})
    assert_clean(at)
    warnings = shown_text(at.warning)
    assert "feature_map: applies to the 2-D datasets only" in warnings and "labels_per_class" in warnings
    assert at.session_state["scenario"] == Scenario(dataset="digits", rotation=10)


@pytest.mark.slow
def test_digits_show_a_gallery_the_metrics_and_their_own_sweep_knobs():
    at = run_page(query={"dataset": "digits", "rotation": "45"})
    assert_clean(at)
    gallery, proportions, sweep = plotly_specs(at)
    assert gallery["data"][0]["type"] == "image"
    assert [bar["x"] for bar in proportions["data"]][0] == [str(k) for k in range(10)]
    assert {"MMD² (biased)", "Proxy A-distance", "CORAL distance"} <= {m.label for m in at.metric}
    assert float(at.metric[0].value) > 0.05
    choices = at.selectbox(key="domain_shift_knob").options
    assert {"Inverted share", "Blur (σ, px)", "Textured background", "Rotation (°)"} <= set(choices)
    at.selectbox(key="domain_shift_knob").set_value("blur").run()
    assert_clean(at)
    assert plotly_specs(at)[2]["layout"]["xaxis"]["title"]["text"] == KNOBS_BY_NAME["blur"].label
    assert any("pixels" in b.proto.label for b in at.get("download_button"))
    sidebar_widget(at, "dataset").set_value("moons").run()  # blur is no knob of moons: the sweep falls back
    assert_clean(at)
    assert "Blur (σ, px)" not in at.selectbox(key="domain_shift_knob").options


@pytest.mark.parametrize("knob", ["rotation", "concept", "scale"])
def test_sweep_knob_selector(knob):
    at = run_page()
    at.selectbox(key="domain_shift_knob").set_value(knob).run()
    assert_clean(at)
    sweep = plotly_specs(at)[3]
    assert sweep["layout"]["xaxis"]["title"]["text"] == next(k.label for k in KNOBS if k.name == knob)


def test_scenario_persists_across_pages():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(DOMAIN_SHIFT).run()
    at.slider(key=widget_key("rotation")).set_value(40).run()
    at.switch_page(HOME).run()
    assert_clean(at)
    at.switch_page(DOMAIN_SHIFT).run()
    assert_clean(at)
    assert at.slider(key=widget_key("rotation")).value == 40
    assert at.session_state["scenario"].rotation == 40


@pytest.mark.parametrize("n_points", [5, 13])
def test_sweep_points_at_their_extremes(n_points):
    at = run_page()
    at.slider(key="domain_shift_points").set_value(n_points).run()
    assert_clean(at)
    assert len(plotly_specs(at)[3]["data"][1]["x"]) == n_points


def test_a_sweep_over_the_work_budget_is_one_line_under_its_widgets_and_the_rest_of_the_page_stays():
    """5,000 + 5,000 points and 13 sweep points: the cards are drawn, the sweep is refused naming what to lower."""
    at = run_page(query={"n_source": "5000", "n_target": "5000", "points": "13", "rotation": "35"})
    assert not at.exception
    assert len(at.error) == 1
    assert " s a run may take; with the other settings as they are, at most " in at.error[0].value
    assert at.error[0].value.split(":")[0] in ("Source points", "Target pool points", "Points")
    assert len(plotly_specs(at)) == 3  # scatter, proportions, feature map: no sweep chart
    assert at.slider(key="domain_shift_points").value == 13
