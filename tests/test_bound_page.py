"""The Ben-David bound page under AppTest: defaults, widget extremes, a 3-D scenario."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.apptest

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "bound.py")
SMALL = {"n_source": "200", "n_target": "200", "n_test": "200"}


def run_page(query=None, widgets=None):
    at = AppTest.from_file(PAGE, default_timeout=300)
    for key, value in {**SMALL, **(query or {})}.items():
        at.query_params[key] = value
    at.run()
    for key, value in (widgets or {}).items():
        at.session_state[key] = value
    if widgets:
        at.run()
    return at


def assert_clean(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def bound_spec(at):
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_defaults_show_the_stacked_terms_the_bound_and_the_measured_error():
    at = run_page()
    assert_clean(at)
    spec = bound_spec(at)
    names = [trace.get("name", "") for trace in spec["data"]]
    assert any(name.startswith("ε_S(h)") for name in names)
    assert any(name.startswith("λ*") and "oracle" in name for name in names)
    assert any(name.startswith("bound") for name in names)
    assert any("measured ε_T(h), source-only" in name for name in names)
    assert any("DANN" in name for name in names)
    stacked = [trace for trace in spec["data"] if trace.get("stackgroup") == "terms"]
    assert len(stacked) == 3 and len(stacked[0]["x"]) == 7
    assert spec["layout"]["xaxis"]["title"]["text"] == "Rotation (°)"
    assert "oracle" in " ".join(m.value for m in at.markdown)
    assert at.latex


def test_a_point_with_one_seed_below_its_error_is_flagged_with_its_count_and_why(monkeypatch):
    import streamlit as st

    from core.labs import sweeps

    def stub_sweep(scenario, knob, values, n_seeds, adapted, progress):
        """Bound 0.1 in every seed; at the last value one seed's error (0.15) exceeds it, the mean (0.083) not."""
        return [sweeps.BoundPoint(v, (0.0,) * n_seeds, (0.1,) * n_seeds, (0.0,) * n_seeds,
                                  (0.05, 0.15, 0.05) if v == values[-1] else (0.05,) * n_seeds, None) for v in values]

    monkeypatch.setattr(sweeps, "ben_david_sweep", stub_sweep)
    try:
        at = run_page(query={"seed": "123"}, widgets={"bound_points": 3, "bound_seeds": 3, "bound_adapted": None})
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
    assert_clean(at)
    assert len(at.warning) == 1
    warning = at.warning[0].value
    assert "At rotation = 90 (1 of 3 seeds), a seed" in warning
    assert "training error" in warning and "not d_HΔH" in warning and "finite samples" in warning
    crosses = [trace for trace in bound_spec(at)["data"] if trace.get("name", "").startswith("✕")]
    assert len(crosses) == 1 and crosses[0]["x"] == [90] and crosses[0]["text"] == ["1 of 3 seeds"]


@pytest.mark.slow
@pytest.mark.parametrize("widgets", [
    {"bound_points": 3, "bound_seeds": 1, "bound_adapted": None},
    {"bound_points": 9, "bound_seeds": 5, "bound_knob": "concept", "bound_adapted": "ot"},
    {"bound_knob": "shift_x", "bound_points": 3, "bound_seeds": 1},
])
def test_widget_extremes(widgets):
    at = run_page(widgets=widgets)
    assert_clean(at)
    spec = bound_spec(at)
    stacked = [trace for trace in spec["data"] if trace.get("stackgroup") == "terms"]
    assert len(stacked[0]["x"]) == widgets.get("bound_points", 7)


@pytest.mark.slow
def test_a_three_feature_scenario_runs():
    at = run_page(query={"feature_map": "lift3d"}, widgets={"bound_points": 3, "bound_seeds": 1})
    assert_clean(at)


def test_digits_get_one_note_and_the_page_stops_with_the_sidebar_kept():
    at = run_page({"dataset": "digits"})
    assert_clean(at)
    assert len(at.info) == 1 and "works on the 2-D datasets" in at.info[0].value
    assert "Image domains" in at.info[0].value
    assert not at.get("plotly_chart") and at.sidebar.get("slider")
