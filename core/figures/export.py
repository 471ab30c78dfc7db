"""Figures as files: PNG where a headless Chrome can render them here, self-contained HTML everywhere.

PNG goes through plotly's ``to_image`` with kaleido, which drives a Chrome or Chromium found on
the machine (``$BROWSER_PATH`` or the usual names on ``PATH``; nothing is downloaded). Where none
is found the figure is still exported as HTML with plotly.js inlined, so it opens offline, in a
talk room without a network, and stays interactive.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache

import plotly.graph_objects as go
import plotly.io as pio

PNG_SCALE = 2  # pixels per layout pixel: sharp on a projector


@lru_cache(maxsize=1)
def png_renderer() -> str | None:
    """Path of the browser kaleido renders PNG with, or None where PNG export does not work here."""
    if importlib.util.find_spec("kaleido") is None:
        return None
    try:
        from choreographer.browsers.chromium import Chromium

        return Chromium.find_browser(skip_local=False)
    except Exception:  # a choreographer without this lookup: no PNG, HTML still works
        return None


def figure_png(figure: go.Figure, scale: float = PNG_SCALE) -> bytes:
    """The figure as a PNG image (needs :func:`png_renderer`)."""
    return pio.to_image(figure, format="png", scale=scale)


def figure_html(figure: go.Figure) -> bytes:
    """The figure as a standalone, interactive HTML page with plotly.js inlined (about 5 MB)."""
    return pio.to_html(figure, include_plotlyjs=True, full_html=True).encode()


def file_stem(title: str) -> str:
    """A safe file name stem from a chart's title: lower case, words joined by underscores."""
    stem = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
    return stem[:60] or "figure"
