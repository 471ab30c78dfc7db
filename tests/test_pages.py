"""Every page runs under AppTest, at defaults and at the extremes of every widget."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.presets import PRESETS
from core.scenario import KNOBS, Scenario
from ui.state import widget_key

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
HOME = str(ROOT / "pages/home.py")
DOMAIN_SHIFT = str(ROOT / "pages/domain_shift.py")
TIMEOUT = 120


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


def test_shared_url_restores_the_scenario():
    at = run_page(query={"rotation": "35", "dataset": "blobs", "prior": "0.5"})
    assert_clean(at)
    assert at.slider(key=widget_key("rotation")).value == 35
    assert at.selectbox(key=widget_key("dataset")).value == "blobs"
    assert at.session_state["scenario"] == Scenario(rotation=35, dataset="blobs", prior=0.5)
    assert at.query_params["rotation"] == "35"


def test_bad_url_keys_are_reported_and_the_good_ones_kept():
    at = run_page(query={"rotation": "abc", "scale": "2", "wobble": "1"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "rotation: expected a number" in warnings and "wobble: unknown key" in warnings
    assert at.session_state["scenario"] == Scenario(scale=2)


def test_moving_a_slider_updates_the_url_and_the_numbers():
    at = run_page()
    before = at.metric[0].value
    at.slider(key=widget_key("rotation")).set_value(90).run()
    assert_clean(at)
    assert at.query_params["rotation"] == "90"
    assert at.metric[0].value != before


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


@pytest.mark.parametrize("knob", KNOBS, ids=[k.name for k in KNOBS])
def test_every_widget_at_its_extremes(knob):
    at = run_page()
    for value in _extremes(knob):
        widget = at.sidebar.get("selectbox" if knob.kind is str else
                                ("number_input" if knob.name == "seed" else "slider"))
        widget = next(w for w in widget if w.key == widget_key(knob.name))
        widget.set_value(knob.kind(value)).run()
        assert_clean(at)
        assert getattr(at.session_state["scenario"], knob.name) == knob.kind(value)
        assert len(plotly_specs(at)) == 4


@pytest.mark.parametrize("knob", ["rotation", "concept", "scale"])
def test_sweep_knob_selector(knob):
    at = run_page()
    at.selectbox(key="sweep_knob").set_value(knob).run()
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
    at.slider(key="sweep_points").set_value(n_points).run()
    assert_clean(at)
    assert len(plotly_specs(at)[3]["data"][1]["x"]) == n_points
