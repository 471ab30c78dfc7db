"""Shared fixtures: a served app on localhost for the real-browser tests, and their failure screenshots."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import warnings
from pathlib import Path

import pytest

from benchmarks.served_app import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, served_app

ROOT = Path(__file__).resolve().parent.parent
# Tests train for real: no result store on disk (tests that need one give it a tmp folder). The
# served app of the browser tests inherits it.
os.environ.setdefault("DSL_RESULT_STORE", "off")
# Screenshots and server logs; DSL_ARTIFACTS moves them (the screenshot-on-failure self-test uses a temporary one).
ARTIFACTS = Path(os.environ.get("DSL_ARTIFACTS", ROOT / "artifacts"))
# The one limit of every browser wait, action and navigation. Tests wait on Streamlit's own state (the
# script's "running"/"notRunning", stale elements, drawn charts), never on fixed delays, so a busy machine
# only makes them slower; this limit is for a page that never settles, and generous for a shared 2-core machine.
BROWSER_TIMEOUT_MS = 300_000
SETTLED = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    return app !== null && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector("[data-stale='true']") === null
        && Array.from(document.querySelectorAll('.js-plotly-plot')).every(chart => chart._fullLayout !== undefined);
}"""


def wait_until_settled(page):
    """Wait until the script has finished, no element of an earlier run is left stale and every plotly chart
    on the page has drawn."""
    page.wait_for_function(SETTLED)


@contextlib.contextmanager
def serve_app(log_name: str = "streamlit.log", script: str = "app.py", cwd: Path = ROOT):
    """Serve ``script`` from ``cwd`` on a free loopback port (``benchmarks.served_app``); yield its URL once
    ``/_stcore/health`` answers; stop it. Its stdout and stderr go to artifacts/<log_name>."""
    with contextlib.ExitStack() as stack:
        try:
            url, _ = stack.enter_context(served_app(ARTIFACTS / log_name, script, cwd, limit=BROWSER_TIMEOUT_MS / 1000))
        except RuntimeError as error:
            pytest.fail(str(error))
        yield url


# Every test of this suite carries exactly one tier (pyproject.toml registers them with "slow", which any
# tier may add): `make test` runs them all, `make test-fast` leaves out browser, load and slow.
TIERS = ("unit", "cli", "apptest", "browser", "load")


def pytest_collection_modifyitems(config, items):
    """Refuse to run a test of tests/ that has no tier, or more than one."""
    own = [item for item in items if Path(str(item.path)).parent == ROOT / "tests"]
    wrong = [f"{item.nodeid}: {[t for t in TIERS if item.get_closest_marker(t)] or 'no tier'}" for item in own
             if sum(item.get_closest_marker(tier) is not None for tier in TIERS) != 1]
    if wrong:
        raise pytest.UsageError(f"each test needs exactly one tier marker of {TIERS}: " + "; ".join(wrong[:5]))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Train on one thread for a module: on a shared 2-core machine torch's spinning OpenMP threads
    make tiny batches 10-100x slower when another process holds a core."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def app_url():
    """One served app for the browser tests of a session."""
    with serve_app() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; skipped locally when it is missing, required on CI."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (``item.rep_setup``, ``rep_call``, ``rep_teardown``), so that
    fixtures can see in their teardown whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def failure_screenshot_path(test_name: str, index: int = 0) -> Path:
    """artifacts/FAILED_<test name>.png for a failed test's first page (``_2``, ``_3``... for its others)."""
    safe = re.sub(r"[^\w.-]+", "_", test_name).strip("_")
    return ARTIFACTS / f"FAILED_{safe}{'' if index == 0 else f'_{index + 1}'}.png"


@pytest.fixture
def new_page(request, browser):
    """A factory of Chromium pages (each in its own context: a new Streamlit session) for one test.

    When the test fails, each page it opened is saved as a full-page screenshot
    (:func:`failure_screenshot_path`) before the pages are closed.
    """
    pages = []

    def open_new(viewport: dict | None = None):
        page = browser.new_page(viewport=viewport or VIEWPORT, accept_downloads=True)
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        page.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
        pages.append(page)
        return page

    yield open_new
    failed = any(getattr(request.node, f"rep_{when}", None) is not None and getattr(request.node, f"rep_{when}").failed
                 for when in ("setup", "call"))
    for index, page in enumerate(pages):
        if failed:
            path = failure_screenshot_path(request.node.name, index)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=True, timeout=30_000)
            except Exception as error:  # a crashed page: keep the test's own failure as the message
                warnings.warn(f"no failure screenshot {path.name}: {error}", stacklevel=1)
        with contextlib.suppress(Exception):
            page.context.close()
