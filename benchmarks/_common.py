"""What every benchmark script shares: the import path, the thread set-up, and median timing."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DSL_TORCH_THREADS", "2")  # the app's own set-up, at 2 threads

import torch  # noqa: E402

from core.device import configure_threads, pick_device  # noqa: E402


def setup() -> str:
    """Configure threads as the app does; return a one-line description of the machine."""
    threads = configure_threads()
    return f"torch {torch.__version__}, {threads} torch threads, numpy BLAS 1 thread, device {pick_device()}"


def median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``fn()`` over ``repeats`` calls after one warm-up; and its last value."""
    value = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def page_seconds(page: str, repeats: int, query: dict[str, str] | None = None) -> tuple[float, float]:
    """``pages/<page>.py``'s first (uncached) run and its cached rerun via AppTest: medians over
    ``repeats`` data seeds (each a fresh scenario, so each first run trains) and over ``repeats`` reruns;
    ``query`` adds scenario keys to the page's URL.

    A page for another data seed runs first, so that imports and lazy initialisation, which a
    served app has done long before, are not counted as the page's work.
    """
    from streamlit.testing.v1 import AppTest

    path = str(ROOT / "pages" / f"{page}.py")
    firsts, app = [], None
    for seed in range(1, repeats + 2):
        app = AppTest.from_file(path, default_timeout=600)
        for key, value in (query or {}).items():
            app.query_params[key] = value
        app.query_params["seed"] = str(seed)
        start = time.perf_counter()
        app.run()
        if seed > 1:  # seed 1 warms up
            firsts.append(time.perf_counter() - start)
        if app.exception:
            raise RuntimeError(f"{page}: {app.exception[0].value}")
    return statistics.median(firsts), median_seconds(app.run, repeats)[0]
