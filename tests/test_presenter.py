"""Presenter features: presenter mode, the talk scenes gallery, figure export and the safety net."""

import json
import logging
from pathlib import Path

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from core.figures import export, with_larger_fonts
from core.talk.presets import PRESETS, PRESETS_BY_NAME
from ui.presenter import CHART_FONT_SCALE
from ui.safety import FAILURE_MESSAGE

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TIMEOUT = 120

pytestmark = [pytest.mark.apptest, pytest.mark.usefixtures("one_torch_thread")]


def app_at(page: str, query: str = "") -> AppTest:
    """The router (app.py) on ``page`` with ``query`` in the URL, run once."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in (item.split("=", 1) for item in query.split("&") if item):
        at.query_params[key] = value
    at.run()
    return at.switch_page(page).run() if page != "pages/home.py" else at


def chart_fonts(at) -> list[float]:
    """The base font size of every chart (None: plotly's default)."""
    return [json.loads(chart.proto.spec)["layout"].get("font", {}).get("size") for chart in at.get("plotly_chart")]


def test_presenter_mode_from_the_link_enlarges_charts_and_stays_in_the_url():
    at = app_at("pages/domain_shift.py", "rotation=35&present=1")
    assert not at.exception
    assert at.toggle(key="presenter_mode").value is True
    assert chart_fonts(at) and all(size == pytest.approx(12 * CHART_FONT_SCALE) for size in chart_fonts(at))
    assert at.query_params["present"] == "1" and at.query_params["rotation"] == "35"
    at.slider(key="knob_rotation").set_value(40).run()  # the scenario's URL sync keeps the view setting
    assert at.query_params["present"] == "1" and at.query_params["rotation"] == "40"
    at.toggle(key="presenter_mode").set_value(False).run()
    assert "present" not in at.query_params
    assert chart_fonts(at) == [None] * 4


def test_presenter_fonts_are_a_copy_and_scale_explicit_sizes():
    figure = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    figure.update_layout(title=dict(text="t", font_size=20), legend_font_size=10)
    figure.add_annotation(text="a", font_size=14)
    larger = with_larger_fonts(figure, 1.5)
    assert (larger.layout.font.size, larger.layout.title.font.size, larger.layout.legend.font.size,
            larger.layout.annotations[0].font.size) == (18, 30, 15, 21)
    assert figure.layout.title.font.size == 20 and figure.layout.font.size is None  # the shared figure is untouched


def test_presenter_scales_markers_cell_text_and_colour_bars_but_not_data_sizes():
    figure = go.Figure([go.Scatter(x=[0, 1], y=[1, 0], marker_size=6),
                        go.Scatter(x=[0, 1], y=[0, 1], marker_size=[3, 9]),
                        go.Heatmap(z=[[1, 2]], texttemplate="%{z}", textfont_size=12,
                                   colorbar=dict(title=dict(text="gain", font_size=10), tickfont_size=8))])
    larger = with_larger_fonts(figure, 1.5)
    assert larger.data[0].marker.size == 9 and tuple(larger.data[1].marker.size) == (3, 9)
    heatmap = larger.data[2]
    assert (heatmap.textfont.size, heatmap.colorbar.title.font.size, heatmap.colorbar.tickfont.size) == (18, 15, 12)
    assert figure.data[0].marker.size == 6 and figure.data[2].textfont.size == 12



def test_presenter_fonts_move_a_legend_under_the_plot_down_with_the_axis_title():
    figure = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    figure.update_layout(legend=dict(y=-0.12, yanchor="top"), margin=dict(b=110))
    larger = with_larger_fonts(figure, 1.5)
    assert (larger.layout.legend.y, larger.layout.margin.b) == (pytest.approx(-0.18), 165)
    assert figure.layout.legend.y == -0.12
    above = go.Figure(figure).update_layout(legend_y=1.0)
    assert with_larger_fonts(above, 1.5).layout.legend.y == 1.0  # a legend above the plot stays

def test_the_gallery_lists_every_scene_with_its_link():
    at = app_at("pages/talk_scenes.py", "present=1")
    assert not at.exception and at.title[0].value == "Talk scenes"
    codes = [code.value for code in at.code]
    for preset in PRESETS:
        assert any(code.endswith(preset.link(presenter=True)) for code in codes), preset.name
    assert len(at.caption) >= len(PRESETS)  # each card says whether its results are stored
    captions = [c.value for c in at.caption]
    new_class = PRESETS_BY_NAME["New class in target"]
    assert any(f"`{new_class.scenario.link_query()}` · transfer setting: *inductive*" in c for c in captions)


def test_opening_a_scene_sets_its_scenario():
    """(The switch to the scene's page needs the router's registry: the browser tests follow it.)"""
    at = AppTest.from_file(str(ROOT / "pages" / "talk_scenes.py"), default_timeout=TIMEOUT).run()
    preset = PRESETS_BY_NAME["New class in target"]
    at.button(key=f"open_{preset.name}").click().run()
    assert not at.exception
    assert at.session_state["scenario"] == preset.scenario
    assert at.session_state["knob_label_space"] == "new_class"  # the sidebar's widgets follow on the next page


def test_every_chart_offers_an_export_named_after_it():
    at = app_at("pages/domain_shift.py", "rotation=35")
    names = {button.proto.label for button in at.get("download_button")}
    assert "Interactive HTML" in names
    keys = [chart.proto.id for chart in at.get("plotly_chart")]
    assert len(keys) == len(set(keys)) == 4
    assert len(at.get("popover")) == 4


def test_html_export_is_standalone_and_png_works_where_a_browser_renders():
    figure = go.Figure(go.Bar(x=["source", "target"], y=[0.5, 0.25]))
    html = export.figure_html(figure).decode()
    assert "<html>" in html[:100] and "Plotly.newPlot" in html and '"target"' in html
    assert '<script src="https://cdn' not in html  # plotly.js inlined: it opens offline
    assert export.file_stem("How the divergences grow with rotation (°)") == "how_the_divergences_grow_with_rotation"
    if export.png_renderer() is None:
        pytest.skip("no Chrome or Chromium for kaleido here: PNG export is offered only where one is found")
    png = export.figure_png(figure)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000


def test_an_error_in_a_page_is_one_line_for_the_audience_and_a_traceback_in_the_log():
    def page():
        from ui.safety import run_safely

        def broken():
            raise ZeroDivisionError("secret detail of the failure")

        run_safely(broken, "Broken page")

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("domain_shift_lab")
    logger.addHandler(handler)
    try:
        at = AppTest.from_function(page).run()
    finally:
        logger.removeHandler(handler)
    assert not at.exception
    assert [error.value for error in at.error] == [FAILURE_MESSAGE]
    assert records and "Broken page" in records[0].getMessage()
    assert records[0].exc_info[0] is ZeroDivisionError


def test_presenter_tables_are_html_tables_and_settings_fold_away():
    shown = app_at("pages/domain_shift.py", "rotation=35&present=1")
    assert not shown.exception
    assert len(shown.table) == 1 and not shown.dataframe  # the per-class MMD²: text that grows with the font
    assert any(e.label == "This page's settings" for e in shown.expander)  # the divergence sweep's knob, folded
    plain = app_at("pages/domain_shift.py", "rotation=35")
    assert len(plain.dataframe) == 1 and not plain.table
    assert not any(e.label == "This page's settings" for e in plain.expander)
