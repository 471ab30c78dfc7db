"""Plotly builders of training as it happens: the live frame drawn while a run trains, and the replays (plotly
frames with play / pause and a step slider, played in the browser without a rerun).

Conventions as in :mod:`core.figures`: source points filled, target points hollow, colour is the class; axes stay
fixed from frame to frame, so what moves is the model, not the view.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.data.domains import DomainData, plane_ranges, subsample
from core.figures import BASE_LAYOUT, class_colour
from core.figures.parts import (
    grid_shape,
    method_label,
    pale,
    plane_axes,
    scatter_points,
    surface_traces,
    vertical_spacing,
)
from core.labs.replay import PROBABILITY_LEVELS, LiveFrame, Replay
from core.training.methods import METHODS_BY_NAME

LIVE_POINTS = 60  # per domain and panel in the live frame: it is redrawn several times a second
PANEL_HEIGHT = 300
LIVE_PANEL_HEIGHT = 230
FRAME_MS = 350  # one replay frame per this many milliseconds when playing


def _colour_axis(n_classes: int, top: float = 1.0) -> dict:
    """p(class 1) from 0 to ``top`` in the class colours, white at the middle (two classes only)."""
    if n_classes != 2:
        return {}
    return dict(coloraxis=dict(cmin=0, cmax=top, colorscale=[[0, pale(class_colour(0), 0.6)], [0.5, "#FFFFFF"],
                                                           [1, pale(class_colour(1), 0.6)]], showscale=False))


class _Grid:
    """The ``xs`` / ``ys`` that :func:`~core.figures.parts.surface_traces` reads."""

    def __init__(self, xs: np.ndarray, ys: np.ndarray):
        self.xs, self.ys = xs, ys


def _points(x: np.ndarray, labels: np.ndarray, domain: np.ndarray, legend: bool) -> list:
    source, target = domain == 0, domain == 1
    return (scatter_points(x[source], labels[source], "source", False, legend=legend)
            + scatter_points(x[target], labels[target], "target test", True, legend=legend))


def _accuracy_text(accuracy: float | None) -> str:
    return "—" if accuracy is None else f"{accuracy:.0%}"


# --- the live frame ---------------------------------------------------------------------------------------
def _live_titles(frame: LiveFrame) -> list[str]:
    return [f"<b>{method_label(m)}</b><br>seed {frame.seeds[m]}: target {_accuracy_text(frame.accuracy[m])}"
            if frame.seeds[m] is not None else f"<b>{method_label(m)}</b><br>stopped" for m in frame.probabilities]


def _live_title(frame: LiveFrame) -> str:
    return (f"Training live: step {frame.step} of {frame.total_steps} (each method's median seed by its accuracy on "
            "a target test subsample, an oracle used for display only)")


def _as_bytes(probabilities: np.ndarray) -> np.ndarray:
    return np.round(probabilities * PROBABILITY_LEVELS).astype(np.uint8)


def _live_surface(probabilities: np.ndarray, grid: _Grid) -> list:
    return surface_traces(_as_bytes(probabilities), grid, top=PROBABILITY_LEVELS)


class LiveBoundaries:
    """The live frame: the decision boundary of each method's shown model on fixed axes, with a subsample of
    source (filled) and target test (hollow) points. Built once (:attr:`figure`), then :meth:`update` d in place
    frame after frame: only the surfaces and the titles change, so a frame is cheap to make and to send."""

    def __init__(self, frame: LiveFrame, data: DomainData):
        methods = list(frame.probabilities)
        n_rows, n_cols = grid_shape(len(methods))
        height = 100 + LIVE_PANEL_HEIGHT * n_rows
        fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=_live_titles(frame), horizontal_spacing=0.04,
                            vertical_spacing=vertical_spacing(n_rows, height, 70))
        seed = data.scenario.seed
        source = subsample(len(data.source_x), LIVE_POINTS, seed)
        target = subsample(len(data.target_test_x), LIVE_POINTS, seed + 1)
        x = np.concatenate([data.source_x[source], data.target_test_x[target]])
        labels = np.concatenate([data.source_y[source], data.target_test_y[target]])
        domain = np.repeat([0, 1], [len(source), len(target)])
        self.grid = _Grid(frame.xs, frame.ys)
        self.slots: dict[str, list[int]] = {}
        n_classes = 2
        for i, method in enumerate(methods):
            surface = frame.probabilities[method]
            traces = [] if surface is None else _live_surface(surface, self.grid)
            n_classes = n_classes if surface is None else surface.shape[-1]
            self.slots[method] = list(range(len(fig.data), len(fig.data) + len(traces)))
            row, col = divmod(i, n_cols)
            for trace in traces + _points(x, labels, domain, legend=i == 0):
                fig.add_trace(trace, row=row + 1, col=col + 1)
        plane_axes(fig, len(methods), n_cols, *plane_ranges(data))
        fig.update_layout(title=_live_title(frame), height=height, showlegend=False, **BASE_LAYOUT)
        fig.update_layout(margin=dict(t=100, b=40), **_colour_axis(n_classes, PROBABILITY_LEVELS))
        fig.update_annotations(font_size=12)
        self.figure = fig

    def update(self, frame: LiveFrame) -> go.Figure:
        """The figure at ``frame`` (a method whose shown model stopped keeps its last surface)."""
        with self.figure.batch_update():
            for method, slots in self.slots.items():
                surface = frame.probabilities.get(method)
                if surface is None or not slots:
                    continue
                for slot, trace in zip(slots, _live_surface(surface, self.grid)):
                    self.figure.data[slot].z = trace.z
            for annotation, text in zip(self.figure.layout.annotations, _live_titles(frame)):
                annotation.text = text
            self.figure.layout.title.text = _live_title(frame)
        return self.figure


# --- the replays -----------------------------------------------------------------------------------------
REPLAY_MARGINS = dict(t=110, b=190)  # the bottom margin holds the axis titles, the controls and the legend


def _animation_controls(steps: np.ndarray, names: Sequence[str], plot_px: float) -> dict:
    """Play / pause buttons and a step slider for frames called ``names``, below the axis titles of a plot area
    ``plot_px`` pixels high, and the legend below them."""
    below = -75 / plot_px
    def go_to(targets, duration: int) -> list:
        return [targets, {"frame": {"duration": duration, "redraw": True}, "mode": "immediate",
                          "transition": {"duration": 0}, "fromcurrent": True}]

    return dict(
        legend=dict(orientation="h", y=-150 / plot_px, yanchor="top", x=0.0, xanchor="left"),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=below, xanchor="left", yanchor="top",
                          pad=dict(t=0, r=10), showactive=False, buttons=[
                              dict(label="▶ Play", method="animate", args=go_to(None, FRAME_MS)),
                              dict(label="❚❚ Pause", method="animate", args=go_to([None], 0))])],
        sliders=[dict(active=0, x=0.16, len=0.84, y=below + 0.05, yanchor="top", pad=dict(t=0),
                      currentvalue=dict(prefix="step ", font=dict(size=14)),
                      steps=[dict(label=str(int(step)), method="animate", args=go_to([name], 0))
                             for step, name in zip(steps, names)])])


def _titles(replay: Replay, methods: Sequence[str], frame: int) -> list[str]:
    return [f"<b>{method_label(m)}</b> (seed {replay.seeds[m]})<br>step {int(replay.steps[frame])}: target "
            f"{_accuracy_text(float(replay.accuracy[m][frame]))}" for m in methods]


def _with_titles(fig: go.Figure, titles: Sequence[str]) -> list:
    """The figure's subplot-title annotations with new texts (a frame replaces every annotation)."""
    annotations = [a.to_plotly_json() for a in fig.layout.annotations]
    for annotation, text in zip(annotations, titles):
        annotation["text"] = text
    return annotations


def boundary_replay_figure(replay: Replay, data: DomainData, methods: Sequence[str]) -> go.Figure:
    """The decision boundaries of ``methods`` (each its median seed) side by side over the training steps."""
    methods = [m for m in methods if m in replay.methods and replay.probabilities.get(m) is not None]
    if not methods:
        raise ValueError("no method of the replay has a decision surface")
    fig = make_subplots(rows=1, cols=len(methods), subplot_titles=_titles(replay, methods, 0),
                        horizontal_spacing=0.03)
    points = replay.points
    surface_slots = []
    for i, method in enumerate(methods, start=1):
        for trace in surface_traces(replay.probabilities[method][0], replay, top=PROBABILITY_LEVELS):
            surface_slots.append(len(fig.data))
            fig.add_trace(trace, row=1, col=i)
        for trace in _points(points.x, points.labels, points.domain, legend=i == 1):
            fig.add_trace(trace, row=1, col=i)
    fig.update_annotations(font_size=12)
    names = [f"step {int(s)}" for s in replay.steps]
    frames = []
    for f, name in enumerate(names):
        traces = [t.update(x=None, y=None)  # a frame's trace merges into the figure's: the axes are there
                  for m in methods for t in surface_traces(replay.probabilities[m][f], replay, top=PROBABILITY_LEVELS)]
        frames.append(go.Frame(name=name, data=traces, traces=surface_slots,
                               layout=dict(annotations=_with_titles(fig, _titles(replay, methods, f)))))
    fig.frames = frames
    n_classes = replay.probabilities[methods[0]].shape[-1]
    plane_axes(fig, len(methods), len(methods), *plane_ranges(data))
    fig.update_layout(title="Replay: decision boundaries while training (accuracy on a target test subsample, "
                            "an oracle)", height=PANEL_HEIGHT + sum(REPLAY_MARGINS.values()), **BASE_LAYOUT)
    fig.update_layout(margin=REPLAY_MARGINS, **_colour_axis(n_classes, PROBABILITY_LEVELS),
                      **_animation_controls(replay.steps, names, PANEL_HEIGHT))
    return fig


def feature_replay_figure(replay: Replay, methods: Sequence[str]) -> go.Figure:
    """The feature layer of ``methods`` (each its median seed) over the training steps: one PCA per method,
    fitted on every step's features together, so the points move within fixed axes."""
    methods = [m for m in methods if m in replay.methods]
    fig = make_subplots(rows=1, cols=len(methods), subplot_titles=_titles(replay, methods, 0),
                        horizontal_spacing=0.06)
    points = replay.points
    slots: dict[str, list[int]] = {}
    for i, method in enumerate(methods, start=1):
        first = len(fig.data)
        for trace in _points(replay.features[method][0].astype(np.float32), points.labels, points.domain,
                             legend=i == 1):
            fig.add_trace(trace, row=1, col=i)
        slots[method] = list(range(first, len(fig.data)))
        everything = replay.features[method].astype(np.float32).reshape(-1, 2)
        low, high = everything.min(axis=0), everything.max(axis=0)
        pad = 0.05 * np.maximum(high - low, 1e-6)
        suffix = "" if i == 1 else str(i)
        ratios = replay.explained[method]
        fig.layout[f"xaxis{suffix}"].update(range=[low[0] - pad[0], high[0] + pad[0]], zeroline=False,
                                            title=f"PC 1 ({ratios[0]:.0%})")
        fig.layout[f"yaxis{suffix}"].update(range=[low[1] - pad[1], high[1] + pad[1]], zeroline=False,
                                            title=f"PC 2 ({ratios[1]:.0%})")
    fig.update_annotations(font_size=12)
    names = [f"step {int(s)}" for s in replay.steps]
    frames = []
    for f, name in enumerate(names):
        traces = [t for i, m in enumerate(methods) for t in _points(replay.features[m][f].astype(np.float32),
                                                                     points.labels, points.domain, legend=i == 0)]
        frames.append(go.Frame(name=name, data=traces, traces=[s for m in methods for s in slots[m]],
                               layout=dict(annotations=_with_titles(fig, _titles(replay, methods, f)))))
    fig.frames = frames
    fig.update_layout(title="Replay: the feature layer while training (PCA fitted on all steps together; source "
                            "filled, target test hollow)", height=PANEL_HEIGHT + sum(REPLAY_MARGINS.values()),
                      **BASE_LAYOUT)
    fig.update_layout(margin=REPLAY_MARGINS, **_animation_controls(replay.steps, names, PANEL_HEIGHT))
    return fig


def live_accuracy_figure(history: Sequence[LiveFrame]) -> go.Figure:
    """Each method's shown model's accuracy on the target test subsample (an oracle) over the steps so far, on
    axes that already span the whole run."""
    fig = go.Figure()
    last = history[-1]
    for method in last.accuracy:
        steps = [f.step for f in history if f.accuracy.get(method) is not None]
        values = [f.accuracy[method] for f in history if f.accuracy.get(method) is not None]
        colour = METHODS_BY_NAME[method].colour if method in METHODS_BY_NAME else "#333333"
        fig.add_trace(go.Scatter(x=steps, y=values, mode="lines+markers", name=method_label(method),
                                 line=dict(color=colour, width=2), marker=dict(size=5)))
    fig.update_layout(title="Target test accuracy while training (subsample, oracle: display only)",
                      height=320, **BASE_LAYOUT)
    fig.update_xaxes(title_text="training step", range=[0, last.total_steps])
    fig.update_yaxes(title_text="target accuracy", range=[0, 1.02], tickformat=".0%")
    fig.update_layout(legend=dict(y=-0.25, yanchor="top"), margin=dict(t=60, b=90))
    return fig
