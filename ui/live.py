"""Live training on a page: the frames of a run drawn in place while it trains, in a container the page made.

The run itself goes through ``st.cache_data`` (one training per key, shared by every session). Streamlit records
every element a cached function draws and replays them on each cache hit; live frames must not be replayed (a hit
would resend every frame), so they are drawn with that recording paused (:func:`not_replayed`), and the
container is emptied when the run ends. A frame is drawn at most every :data:`FRAME_INTERVAL` seconds (the
first and the last always): each draw is also where Streamlit stops a run made obsolete by a newer widget change.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from streamlit.runtime.scriptrunner_utils.script_run_context import in_cached_function

from core.data.domains import DomainData
from core.figures import with_larger_fonts
from core.figures.replay import LiveBoundaries, live_accuracy_figure
from core.labs.replay import LiveFrame
from ui.presenter import CHART_FONT_SCALE
from ui.state import presenter_mode

FRAME_INTERVAL = 0.35  # seconds between drawn frames: about three a second, light enough for the browser
LIVE_CONTAINER = "adaptation_live"  # the container's key: the page's CSS class st-key-adaptation_live


@contextlib.contextmanager
def not_replayed() -> Iterator[None]:
    """Streamlit calls made inside are not recorded for ``st.cache_data``'s replay of the enclosing cached
    function (they draw once, now)."""
    token = in_cached_function.set(False)
    try:
        yield
    finally:
        in_cached_function.reset(token)


class LiveTraining:
    """The ``on_frame`` callback of a run: draws each :class:`~core.labs.replay.LiveFrame` in ``where``."""

    def __init__(self, where, data: DomainData):
        self.data = data
        with not_replayed():
            self.boundaries, self.accuracy, self.caption = where.empty(), where.empty(), where.empty()
        self.history: list[LiveFrame] = []
        self.live_boundaries: LiveBoundaries | None = None
        self.drawn_at = 0.0
        self.frames_drawn = 0

    def __call__(self, frame: LiveFrame) -> None:
        self.history.append(frame)
        last = frame.step == frame.total_steps
        if self.frames_drawn and not last and time.perf_counter() - self.drawn_at < FRAME_INTERVAL:
            return
        figures = [live_accuracy_figure(self.history)]
        if frame.xs is not None:
            if self.live_boundaries is None:
                self.live_boundaries = LiveBoundaries(frame, self.data)
            figures.insert(0, self.live_boundaries.update(frame))
        if presenter_mode():
            figures = [with_larger_fonts(f, CHART_FONT_SCALE) for f in figures]
        with not_replayed():
            if frame.xs is not None:
                self.boundaries.plotly_chart(figures[0], width="stretch", config={"displaylogo": False})
            self.accuracy.plotly_chart(figures[-1], width="stretch", config={"displaylogo": False})
            self.caption.caption(f"Training: step {frame.step} of {frame.total_steps}. The results below appear "
                                 "when it ends; moving a control stops this run and starts the new one.")
        self.frames_drawn += 1
        self.drawn_at = time.perf_counter()

    def clear(self) -> None:
        with not_replayed():
            for placeholder in (self.boundaries, self.accuracy, self.caption):
                placeholder.empty()
