"""Real-browser robustness: an uncaught error never shows its traceback to the audience (it goes to the
server's log), and a failing browser test leaves its screenshot in artifacts/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import ARTIFACTS, BROWSER_TIMEOUT_MS, ROOT, serve_app, wait_until_settled

pytestmark = pytest.mark.browser

SECRET = "secret-7f3a9c: the audience must not read this"
ERROR_SCRIPT = f'''
import streamlit as st

st.title("A page that fails")


def deep_inside_the_engine():
    raise RuntimeError("{SECRET}")


deep_inside_the_engine()
'''
ERROR_LOG = "streamlit_error_script.log"


@pytest.fixture
def failing_app(tmp_path):
    """``streamlit run`` of a script that raises, under a copy of the project's .streamlit/config.toml; yields
    (URL, server log path)."""
    (tmp_path / ".streamlit").mkdir()
    shutil.copy(ROOT / ".streamlit" / "config.toml", tmp_path / ".streamlit" / "config.toml")
    (tmp_path / "failing_page.py").write_text(ERROR_SCRIPT)
    with serve_app(ERROR_LOG, script="failing_page.py", cwd=tmp_path) as url:
        yield url, ARTIFACTS / ERROR_LOG


def test_an_uncaught_error_shows_no_traceback_and_is_logged_on_the_server(failing_app, new_page):
    url, log_path = failing_app
    page = new_page()
    frames = []  # everything the server sends to the browser
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(frame)))
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stMain'] h1")
    wait_until_settled(page)
    page.screenshot(path=str(ARTIFACTS / "page_uncaught_error.png"), full_page=True)

    shown = page.locator("body").inner_text() + page.content()
    for leak in (SECRET, "secret-7f3a9c", "Traceback", "RuntimeError", "deep_inside_the_engine", "failing_page.py",
                 'File "'):
        assert leak not in shown, f"{leak!r} reached the page"
    sent = b"".join(frame if isinstance(frame, bytes) else frame.encode() for frame in frames)
    assert frames and b"secret-7f3a9c" not in sent and b"Traceback" not in sent  # not even over the wire
    assert page.get_by_text("A page that fails").count() == 1  # the script ran up to its error
    assert "error" in page.locator("[data-testid='stException']").inner_text().lower()  # a notice without details

    deadline = time.monotonic() + BROWSER_TIMEOUT_MS / 1000
    while SECRET not in (log := log_path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert SECRET in log and "Traceback (most recent call last)" in log
    assert 'failing_page.py", line' in log and "deep_inside_the_engine" in log


INNER_CONFTEST = ("from tests.conftest import *  # noqa: F401,F403\n"
                  "from tests.conftest import pytest_runtest_makereport  # noqa: F401\n")
INNER_TESTS = '''
def test_fails_on_purpose(new_page):
    first, second = new_page(), new_page()
    first.set_content("<h1 style='color: red'>first page of a failing test</h1>")
    second.set_content("<h1>second page</h1>")
    assert first.locator("h1").inner_text() == "something else"


def test_passes(new_page):
    page = new_page()
    page.set_content("<h1>fine</h1>")
    assert page.locator("h1").inner_text() == "fine"
'''


def test_a_failing_browser_test_leaves_a_full_page_screenshot_per_page(tmp_path, browser):
    """Runs a deliberately failing browser test in a pytest of its own, with artifacts in a temporary folder."""
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST)
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    artifacts = tmp_path / "artifacts"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                   "DSL_ARTIFACTS": str(artifacts)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                             str(tmp_path)], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)

    assert result.returncode == 1 and "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    saved = sorted(path.name for path in artifacts.glob("*.png"))
    assert saved == ["FAILED_test_fails_on_purpose.png", "FAILED_test_fails_on_purpose_2.png"]
    for name in saved:
        image = (artifacts / name).read_bytes()
        assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 1000
