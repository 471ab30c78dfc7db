"""The load test's headless client (benchmarks/streamlit_session.py) against a served app."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.bench_load import Settings, listening_pid, load_test
from tests.conftest import ARTIFACTS, serve_app

pytestmark = pytest.mark.load

LOG = "load_client.log"


def run_in_own_thread(coroutine):
    """Run a coroutine to completion on a fresh event loop in a worker thread.

    Playwright's sync API (the browser tests, same pytest process) leaves an event loop
    marked as running in the main thread, where asyncio.run() refuses to start.
    """
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def test_two_sessions_move_sliders_through_preset_scenes_without_errors():
    settings = Settings(sessions=2, duration=10, pages=("domain_shift",), think=(0.2, 0.5), ramp=0, timeout=45)
    with serve_app(LOG) as url:
        result = run_in_own_thread(load_test(url, listening_pid(url), settings, ARTIFACTS / LOG))

    assert result["errors"]["total"] == 0, result["errors"]["details"]
    assert result["warmup"]["n"] >= 2 and result["first_load"]["n"] == 2
    assert result["rerun"]["n"] >= 4
    assert all(run["seconds"] > 0 and run["kb"] > 0 for run in result["runs"])
    assert len({run["change"] for run in result["runs"] if run["phase"] == "rerun"}) >= 2  # the scenes change
    memory = result["memory_mb"]
    assert memory is not None and len(memory["samples"]) >= 5
    assert memory["peak"] >= memory["load_start"] > memory["at_start"] > 0  # the app's imports and caches show
