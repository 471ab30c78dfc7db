"""Real-browser checks: Chromium against ``streamlit run`` on localhost.

Every page of the router loads without an exception element; moving a sidebar slider reruns the script,
rewrites the URL and changes the chart's data; a form retrains only when submitted; the downloads give
the data shown; the sidebar navigation keeps the scenario; a shared URL restores it. Screenshots of each
page are saved in artifacts/ (to look at the app), and of every page of a failed test as
artifacts/FAILED_<test name>.png (tests/conftest.py, ``new_page``).
"""

from __future__ import annotations

import base64
import json
import re
import time
from io import StringIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import ARTIFACTS, serve_app, wait_until_settled
from ui.page_registry import PAGES as REGISTERED

pytestmark = pytest.mark.browser


QUERIES = {"image_domains": "?dataset=digits&rotation=45"}  # the image page is drawn for an image dataset
PAGES = {page.url_path: page.served_at + QUERIES.get(page.url_path, "") for page in REGISTERED}  # what app.py serves
CHARTS = {"domain_shift": 4, "adaptation": 6, "finetune": 3, "forgetting": 1, "negative_transfer": 4,
          "distillation": 2, "image_domains": 6}  # to wait for
APP = "[data-testid='stApp']"
EXCEPTION = "[data-testid='stException']"
SIDEBAR = "[data-testid='stSidebar']"


def wait_for_script(page):
    """Wait until the page's script has drawn its title (or an exception) and the page has settled."""
    page.wait_for_selector(f"[data-testid='stMain'] h1, {EXCEPTION}")
    wait_until_settled(page)


def wait_for_charts(page, count):
    """Wait until ``count`` plotly charts have mounted (they mount after the script ends) and drawn."""
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {count}")
    wait_until_settled(page)


def record_socket_frames(page):
    """Note (direction, time, size) of each websocket frame in ``page.socket_frames``, for failure messages."""
    page.socket_frames = []
    start = time.monotonic()

    def note(direction):
        return lambda frame: page.socket_frames.append((direction, round(time.monotonic() - start, 2), len(frame)))

    page.on("websocket", lambda socket: (socket.on("framesent", note("sent")),
                                         socket.on("framereceived", note("received"))))


def open_page(new_page, url, charts=0):
    """A new session (tests/conftest.py ``new_page``) on ``url``, once its script has finished."""
    page = new_page()
    record_socket_frames(page)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(APP)
    wait_for_script(page)
    assert_no_exception(page)
    if charts:
        wait_for_charts(page, charts)
    return page


# --- reruns -----------------------------------------------------------------------------------------

RECORD_SCRIPT_STATES = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    if (window.__dslObserver) window.__dslObserver.disconnect();
    window.__dslStates = [];
    window.__dslObserver = new MutationObserver(
        () => window.__dslStates.push(app.getAttribute('data-test-script-state')));
    window.__dslObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
RERAN = """() => window.__dslStates.includes('running')
    && document.querySelector("[data-testid='stApp']").getAttribute('data-test-script-state') === 'notRunning'"""


def record_script_states(page):
    """From now on, note every change of the script state (a rerun can start and end between two polls)."""
    page.evaluate(RECORD_SCRIPT_STATES)


def script_states(page) -> list[str]:
    return page.evaluate("() => window.__dslStates")


def wait_for_rerun(page):
    """After :func:`record_script_states` and an action: wait until a rerun started and the page settled."""
    page.wait_for_function(RERAN)
    wait_until_settled(page)


# --- charts -----------------------------------------------------------------------------------------

CHART_DATA = "() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => JSON.stringify(g.data))"
CHART_CHANGED = """({index, before}) => {
    const chart = document.querySelectorAll('.js-plotly-plot')[index];
    return chart !== undefined && JSON.stringify(chart.data) !== before;
}"""


def chart_data(page) -> list[str]:
    """Each plotly chart's ``data`` (its traces), as JSON, in page order."""
    return page.evaluate(CHART_DATA)


def chart_index(page, title: str) -> int:
    """The position on the page of the plotly chart whose title contains ``title``."""
    titles = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".map(g => (g.layout.title && g.layout.title.text) || '')")
    found = [i for i, text in enumerate(titles) if title in text]
    assert found, f"no chart titled {title!r} among {titles}"
    return found[0]


def wait_until_chart_changes(page, index, before):
    """Wait until chart ``index``'s data differs from ``before[index]`` (charts redraw just after the script ends)."""
    page.wait_for_function(CHART_CHANGED, arg={"index": index, "before": before[index]})
    wait_until_settled(page)


def decode(array):
    """A plotly data array as numpy: a plain list, or plotly's typed array ``{dtype, bdata[, shape]}``."""
    if isinstance(array, dict) and "bdata" in array:
        values = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]).newbyteorder("<"))
        if "shape" in array:
            values = values.reshape([int(n) for n in str(array["shape"]).split(",")])
        return values
    return np.asarray(array)


def traces_of_chart_with(page, trace_name) -> dict[str, np.ndarray]:
    """{trace name: points [n, 2]} of the chart (read from the DOM) that has a trace called ``trace_name``."""
    charts = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".map(g => g.data.map(t => ({name: t.name, x: t.x, y: t.y})))")
    chart = next(traces for traces in charts if any(t["name"] == trace_name for t in traces))
    return {t["name"]: np.column_stack([decode(t["x"]), decode(t["y"])]) for t in chart if t["name"]}


def query(page) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(page.url).query).items()}


def slider(scope, label):
    """The thumb of the slider labelled ``label`` (its ``input[type=range]``: focus it and press keys)."""
    return scope.locator(f"input[type='range'][aria-label='{label}']")


def sidebar_slider(page, label):
    return slider(page.locator(SIDEBAR), label)


def assert_no_exception(page):
    shown = page.locator(EXCEPTION)
    assert shown.count() == 0, (f"{page.url} shows an exception (details in the server log, artifacts/*.log): "
                                f"{shown.all_inner_texts()}")


# --- every page --------------------------------------------------------------------------------------


def test_the_router_pages_are_found():
    assert PAGES["home"] == "" and set(CHARTS) | {"your_data", "bound", "lambda_sweep"} <= set(PAGES)


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_exception_and_screenshot(new_page, app_url, name):
    page = open_page(new_page, f"{app_url}/{PAGES[name]}")
    try:
        assert_no_exception(page)
        if name in CHARTS:  # charts mount after the script ends: wait for them
            wait_for_charts(page, CHARTS[name])
            assert page.locator(".js-plotly-plot").count() == CHARTS[name]
    finally:
        page.screenshot(path=str(ARTIFACTS / f"page_{name}.png"), full_page=True)


def test_shared_url_restores_the_scenario_in_the_browser(new_page, app_url):
    page = open_page(new_page, f"{app_url}/domain_shift?rotation=35&dataset=blobs", charts=CHARTS["domain_shift"])
    try:
        assert "rotation=35" in page.url and "dataset=blobs" in page.url
        assert sidebar_slider(page, "Rotation (°)").get_attribute("aria-valuetext") == "35"
        assert page.locator(".legendtext", has_text="source · class 2").count() == 1  # blobs: 3 classes
        assert_no_exception(page)
    finally:
        page.screenshot(path=str(ARTIFACTS / "page_shared_url.png"), full_page=True)


@pytest.fixture
def fresh_app_url():
    """A server of its own, never visited (a fixture, so that failure screenshots are taken while it runs)."""
    with serve_app("streamlit_fresh.log") as url:
        yield url


def test_a_first_visit_straight_to_a_page_still_goes_through_the_router(fresh_app_url, new_page):
    """On a fresh server Streamlit's old pages/ mode would serve the file without app.py."""
    page = open_page(new_page, f"{fresh_app_url}/domain_shift?rotation=20")
    try:
        navigation = " ".join(page.locator("[data-testid='stSidebarNav']").all_inner_texts())
        assert "Domain shift" in navigation and "Adaptation" in navigation  # the router's titles
        assert page.title() == "Domain Shift Lab"  # app.py's set_page_config ran
        assert "rotation=20" in page.url
    finally:
        page.screenshot(path=str(ARTIFACTS / "page_fresh_server.png"))


# --- sliders and forms -------------------------------------------------------------------------------


def rotation_matrix(degrees):
    angle = np.radians(degrees)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def test_moving_the_rotation_slider_reruns_and_rotates_the_target_in_the_chart(new_page, app_url):
    page = open_page(new_page, f"{app_url}/domain_shift", charts=CHARTS["domain_shift"])
    before = traces_of_chart_with(page, "target · class 0")
    charts_before = chart_data(page)
    scatter = chart_index(page, "Source (filled) and target (hollow)")
    thumb = sidebar_slider(page, "Rotation (°)")
    # the opening scene (core.scenario.OPENING), its rotation written in the address bar
    assert thumb.get_attribute("aria-valuetext") == "35" and query(page) == {"rotation": "35"}

    record_script_states(page)
    thumb.focus()
    for _ in range(5):  # five steps of 1°, as a presenter taps the arrow key
        thumb.press("ArrowRight")
    page.wait_for_url(re.compile(r"[?&]rotation=40(&|$)"))  # written by the run that sees 40
    wait_for_rerun(page)
    wait_until_chart_changes(page, scatter, charts_before)

    assert "running" in script_states(page) and query(page) == {"rotation": "40"}
    assert thumb.get_attribute("aria-valuetext") == "40"
    assert_no_exception(page)
    after = traces_of_chart_with(page, "target · class 0")
    assert after.keys() == before.keys()
    for name in before:
        if name.startswith("source"):  # the source does not move
            np.testing.assert_array_equal(after[name], before[name])
        else:  # the target's points are rotated by 5° anticlockwise about some centre: differences rotate by 5°
            assert after[name].shape == before[name].shape and not np.allclose(after[name], before[name])
            moved = (before[name] - before[name][0]) @ rotation_matrix(5).T
            np.testing.assert_allclose(after[name] - after[name][0], moved, atol=1e-9)


def models_trained(page) -> int:
    text = page.locator("[data-testid='stMain']").inner_text()
    return int(re.search(r"(\d+) models trained", text).group(1))


def test_adaptation_retrains_on_the_form_submit_only_and_on_the_sidebar_slider(new_page, app_url):
    page = open_page(new_page, f"{app_url}/adaptation", charts=CHARTS["adaptation"])
    default_models = models_trained(page)
    form = page.get_by_test_id("stForm")
    seeds = slider(form, "Seeds")
    assert seeds.get_attribute("aria-valuetext") == "3"

    charts = chart_data(page)
    curves, boundaries = chart_index(page, "Training curves"), chart_index(page, "Decision boundaries")
    record_script_states(page)
    seeds.focus()
    seeds.press("Home")  # one seed per method: nothing happens until "Train"
    page.wait_for_timeout(1500)  # an observation window (nothing may rerun in it), not a deadline
    assert seeds.get_attribute("aria-valuetext") == "1"
    assert script_states(page) == [] and chart_data(page) == charts

    form.get_by_role("button", name="Train", exact=True).click()
    wait_for_rerun(page)
    wait_until_chart_changes(page, curves, charts)  # means over one seed, not three
    assert models_trained(page) * 3 == default_models
    assert_no_exception(page)

    charts = chart_data(page)
    record_script_states(page)
    thumb = sidebar_slider(page, "Rotation (°)")
    thumb.focus()
    thumb.press("End")  # rotate the target by 180°: every model retrains
    page.wait_for_url(re.compile(r"[?&]rotation=180(&|$)"))
    wait_for_rerun(page)
    wait_until_chart_changes(page, boundaries, charts)
    assert chart_data(page)[curves] != charts[curves]
    assert models_trained(page) * 3 == default_models  # the form's settings stay
    assert "running" in script_states(page) and query(page) == {"rotation": "180", "seeds": "1"}
    assert_no_exception(page)


REPLAY_STEP = r"""(step) => {
    const label = document.querySelector('.st-key-chart_replay_boundaries .slider-label');
    return label !== null && label.textContent.replace(/\s+/g, ' ').trim() === 'step ' + step;
}"""


def test_the_replay_plays_in_the_browser_without_a_rerun(new_page, app_url):
    page = open_page(new_page, f"{app_url}/adaptation?rotation=35&steps=100", charts=CHARTS["adaptation"])
    chart = page.locator(".st-key-chart_replay_boundaries .js-plotly-plot")
    chart.scroll_into_view_if_needed()
    page.wait_for_function(REPLAY_STEP, arg=0, timeout=30_000)
    first = chart.evaluate("g => JSON.stringify(g.data.map(t => t.z))")
    record_script_states(page)
    chart.locator(".updatemenu-button", has_text="Play").click()
    page.wait_for_function(REPLAY_STEP, arg=100, timeout=30_000)  # played to the last snapshot
    assert chart.evaluate("g => JSON.stringify(g.data.map(t => t.z))") != first  # the boundaries moved
    assert script_states(page) == []  # played in the browser: the script never reran
    assert_no_exception(page)


def test_a_copied_link_reproduces_the_changed_setting_and_the_same_numbers_in_a_new_session(new_page, app_url):
    page = open_page(new_page, f"{app_url}/adaptation?rotation=35", charts=CHARTS["adaptation"])
    form = page.get_by_test_id("stForm")
    steps = slider(form, "Steps")
    charts = chart_data(page)
    curves, boundaries = chart_index(page, "Training curves"), chart_index(page, "Decision boundaries")
    record_script_states(page)
    steps.focus()
    for _ in range(10):  # 300 -> 200 steps, ten taps of the arrow key
        steps.press("ArrowLeft")
    form.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_url(re.compile(r"[?&]steps=200(&|$)"))
    wait_for_rerun(page)
    wait_until_chart_changes(page, curves, charts)
    assert query(page) == {"rotation": "35", "steps": "200"}
    shown = chart_data(page)

    copy = open_page(new_page, page.url, charts=CHARTS["adaptation"])  # a new context: another session
    assert slider(copy.get_by_test_id("stForm"), "Steps").get_attribute("aria-valuetext") == "200"
    assert query(copy) == query(page)
    copied = chart_data(copy)
    assert copied[curves] == shown[curves] and copied[boundaries] == shown[boundaries]  # the same numbers
    assert copied[curves] != charts[curves]  # and not the default run's
    assert_no_exception(copy)


# --- downloads ---------------------------------------------------------------------------------------


def download(page, button_name):
    """Click a download button; return (suggested file name, bytes)."""
    frames = len(page.socket_frames)
    try:
        with page.expect_download() as info:
            page.get_by_role("button", name=button_name, exact=True).click()
    except Exception as error:  # say what the server answered (a deferred download is a websocket round trip)
        raise AssertionError(f"no download from {button_name!r} ({error}); script state "
                             f"{page.get_attribute(APP, 'data-test-script-state')}; websocket frames since the click "
                             f"(direction, seconds, bytes): {page.socket_frames[frames:]}") from error
    result = info.value
    assert result.failure() is None, result.failure()
    return result.suggested_filename, Path(result.path()).read_bytes()


def test_the_domain_shift_csv_holds_the_points_shown(new_page, app_url):
    page = open_page(new_page, f"{app_url}/domain_shift?n_source=200&rotation=30", charts=CHARTS["domain_shift"])
    name, data = download(page, "Download the points (CSV)")
    frame = pd.read_csv(StringIO(data.decode()))

    assert name == "domain_shift_points.csv"
    assert list(frame.columns) == ["x0", "x1", "y", "domain", "split"]
    assert frame.groupby(["domain", "split"]).size().to_dict() == {
        ("source", "train"): 200, ("target", "pool"): 500, ("target", "labelled"): 10, ("target", "test"): 1000}
    shown = traces_of_chart_with(page, "source · class 0")
    for (domain, split, label), trace in [(("source", "train", 0), "source · class 0"),
                                          (("target", "pool", 1), "target · class 1")]:
        rows = frame[(frame.domain == domain) & (frame.split == split) & (frame.y == label)]
        np.testing.assert_allclose(rows[["x0", "x1"]].to_numpy(), shown[trace])


def test_the_adaptation_downloads_carry_the_scenario_and_every_model(new_page, app_url):
    page = open_page(new_page, f"{app_url}/adaptation", charts=CHARTS["adaptation"])
    name, data = download(page, "Download the run (JSON)")
    run = json.loads(data)
    assert name == "adaptation_run.json"
    assert run["scenario"]["dataset"] == "moons" and run["scenario"]["rotation"] == 35  # the opening scene
    assert run["results"]

    name, data = download(page, "Download the results per model (CSV)")
    rows = pd.read_csv(StringIO(data.decode()))
    assert name == "adaptation_results.csv" and len(rows) == models_trained(page)
    assert {"method", "seed", "target_acc"} <= set(rows.columns) and rows["target_acc"].between(0, 1).all()


def test_your_data_checks_two_uploaded_tables_and_downloads_the_report(new_page, app_url):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    high = frame["alcohol"] > frame["alcohol"].median()
    page = open_page(new_page, f"{app_url}/your_data")
    for label, file_name, part in [("Source CSV", "old.csv", frame[~high]), ("Target CSV", "new.csv", frame[high])]:
        uploader = page.get_by_test_id("stFileUploader").filter(has_text=label)
        record_script_states(page)
        uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
            {"name": file_name, "mimeType": "text/csv", "buffer": part.to_csv(index=False).encode()})
        uploader.get_by_text(file_name).wait_for()
        # each upload reruns the page; the next file goes in after it. A rerun that started and ended before the
        # observer could note it (seen once under load in a full run) is no failure: the report below checks that
        # both files were read, so after a minute without a noted rerun a settled page is enough.
        try:
            page.wait_for_function(RERAN, timeout=60_000)
        except PlaywrightTimeout:
            pass
        wait_until_settled(page)
    report_button = page.get_by_role("button", name="Download the report (Markdown)", exact=True)
    report_button.wait_for()
    wait_for_script(page)
    assert_no_exception(page)

    name, data = download(page, "Download the report (Markdown)")
    report = data.decode()
    assert name == "transferability_check.md" and report.startswith("# Transferability check")
    assert f"Source: {(~high).sum()} rows; target: {high.sum()} rows" in report
    assert "| alcohol |" in report and "## Verdict" in report


# --- navigation --------------------------------------------------------------------------------------


def assert_scenario(page, expected: dict[str, str], rotation: str):
    assert query(page) == expected, page.url
    assert sidebar_slider(page, "Rotation (°)").get_attribute("aria-valuetext") == rotation
    assert sidebar_slider(page, "Noise").get_attribute("aria-valuetext") == "0.20"
    assert page.locator(f"{SIDEBAR} input[role='combobox'][aria-label='Dataset']").input_value() == "blobs"


NEW_TITLE = """(before) => {
    const title = document.querySelector("[data-testid='stMain'] h1");
    return title !== null && title.textContent !== before;
}"""


def navigate(page, title, path):
    """Click a page's link in the sidebar navigation; wait until ``path`` is open, its script has drawn a
    title other than the last page's and the page has settled. (Not :func:`wait_for_rerun`: a click that
    lands while the last page's script still runs never shows the state "running" as a change.)"""
    before = page.locator("[data-testid='stMain'] h1").first.text_content()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.wait_for_url(re.compile(rf"/{path}(\?|$)"))
    page.wait_for_function(NEW_TITLE, arg=before)
    wait_for_script(page)


def test_every_page_is_listed_in_the_sidebar_without_a_fold(new_page, app_url):
    page = open_page(new_page, f"{app_url}/domain_shift")  # a page whose sidebar holds the scenario's widgets
    nav = page.get_by_test_id("stSidebarNav")
    for entry in REGISTERED:
        assert nav.get_by_role("link", name=entry.title, exact=True).is_visible(), entry.title
    assert page.get_by_test_id("stSidebarNavViewButton").count() == 0


def test_the_sidebar_navigation_keeps_the_scenario(new_page, app_url):
    page = open_page(new_page, f"{app_url}/domain_shift?dataset=blobs&rotation=35&noise=0.2")
    scenario = {"dataset": "blobs", "rotation": "35", "noise": "0.2"}
    assert_scenario(page, scenario, "35")

    navigate(page, "Distillation", "distillation")  # a scenario that came from the URL
    assert_scenario(page, scenario, "35")
    assert_no_exception(page)

    thumb = sidebar_slider(page, "Rotation (°)")
    record_script_states(page)
    thumb.focus()
    thumb.press("ArrowRight")  # a scenario moved with a slider on another page
    page.wait_for_url(re.compile(r"[?&]rotation=36(&|$)"))
    wait_for_rerun(page)

    navigate(page, "Domain shift", "domain_shift")
    assert_scenario(page, {**scenario, "rotation": "36"}, "36")
    wait_for_charts(page, CHARTS["domain_shift"])
    assert page.locator(".legendtext", has_text="source · class 2").count() == 1  # still blobs
    assert_no_exception(page)
