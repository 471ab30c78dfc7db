"""Plotly builder and table of the Forgetting page: a :class:`~core.labs.forgetting.TradeOff` in, figure out.

Conventions as in :mod:`core.figures.finetune`: each strategy keeps its colour and marker
(:data:`~core.figures.parts.STRATEGY_COLOURS`, :data:`~core.figures.parts.STRATEGY_MARKERS`), the legend above
the plot, never over it. Every point is a mean over seeds with min-max error bars on both axes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures import BASE_LAYOUT
from core.figures.parts import STRATEGY_COLOURS, STRATEGY_MARKERS, grid_shape, rgba, vertical_spacing
from core.formatting import signed
from core.labs.finetune_runs import strategy_label
from core.labs.forgetting import FREE_MARGIN, REFERENCE, REMEDIES, Spread, TradeOff, TradeOffPoint
from core.metrics.paired import format_p

PRETRAINED = "pretrained network, before fine-tuning (gain 0)"
GUIDES = "dotted: through full fine-tuning"
X_TITLE = "target accuracy gained over the pretrained network (points)"
Y_TITLE = "source accuracy after fine-tuning"
PANEL_HEIGHT, TOP, BOTTOM = 250, 130, 70  # pixels: each row of panels, the title and legend above, the axis below
CHART_WIDTH = 1100  # pixels: about what a page gives a chart; the label placement's scale
# where a strength's label may go, in order of preference: (plotly's textposition, its side along x and along y)
LABEL_SIDES = (("top right", 1, 1), ("bottom left", -1, -1), ("top left", -1, 1), ("bottom right", 1, -1),
               ("middle right", 1, 0), ("middle left", -1, 0), ("top center", 0, 1), ("bottom center", 0, -1))
CHAR_PX, LINE_PX, MARKER_PX = 7.0, 14.0, 7.0  # a label's character width and height, a marker's half width


def _errors(spread: list[Spread], colour: str) -> dict:
    """Pale asymmetric error bars from the means to the min and max."""
    mean = np.array([s.mean for s in spread], dtype=float)
    return dict(type="data", symmetric=False, thickness=1, width=0, color=rgba(colour, 0.4),
                array=np.array([s.high for s in spread], dtype=float) - mean,
                arrayminus=mean - np.array([s.low for s in spread], dtype=float))


def _hover(points: list[TradeOffPoint]) -> tuple[np.ndarray, str]:
    """Per point: its name, the min-max of both axes, its seeds and its exchange with full fine-tuning."""
    rows = []
    for p in points:
        exchange = p.exchange
        versus = "" if exchange is None else (
            f"<br>vs full fine-tuning: source {exchange.kept:+.1f} pts, target {-exchange.given_up:+.1f} pts"
            + ("" if exchange.p_value is None else f" ({format_p(exchange.p_value)})"))
        rows.append([p.name, p.gained.low, p.gained.high, 100 * p.source.low, 100 * p.source.high, p.seeds, versus])
    template = ("%{customdata[0]}<br>target gained %{x:.1f} pts (min-max %{customdata[1]:.1f} to %{customdata[2]:.1f})"
                "<br>source %{y:.1%} (min-max %{customdata[3]:.1f}% to %{customdata[4]:.1f}%)<br>"
                "%{customdata[5]} seeds%{customdata[6]}<extra></extra>")
    return np.array(rows, dtype=object), template


def _overlap(a: tuple, b: tuple) -> float:
    """Area shared by two boxes ``(x0, y0, x1, y1)``."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def label_sides(xy: np.ndarray, texts: list[str], obstacles: np.ndarray, size: tuple[float, float]) -> list[str]:
    """A textposition per label so that labels cover few markers and each other: greedily, each label takes the
    first side of :data:`LABEL_SIDES` with the least overlap with the markers (``xy`` and ``obstacles``, in pixels)
    and the labels placed before it, and the least that falls outside the panel of ``size`` pixels."""
    markers = [(x - MARKER_PX, y - MARKER_PX, x + MARKER_PX, y + MARKER_PX) for x, y in np.vstack([xy, obstacles])]
    panel, placed, sides = (0.0, 0.0, *size), [], []
    for (x, y), text in zip(xy, texts):
        width = CHAR_PX * len(text)
        costs = []
        for _, sx, sy in LABEL_SIDES:
            cx, cy = x + sx * (width / 2 + MARKER_PX), y + sy * (LINE_PX / 2 + MARKER_PX)
            box = (cx - width / 2, cy - LINE_PX / 2, cx + width / 2, cy + LINE_PX / 2)
            outside = width * LINE_PX - _overlap(box, panel)
            costs.append((sum(_overlap(box, other) for other in markers + placed) + 2 * outside, box))
        best = min(range(len(costs)), key=lambda k: costs[k][0])
        placed.append(costs[best][1])
        sides.append(LABEL_SIDES[best][0])
    return sides


def _pixels(x: list[float], y: list[float], ranges: tuple[list[float], list[float]], size: tuple[float, float]
            ) -> np.ndarray:
    (x0, x1), (y0, y1) = ranges
    return np.column_stack([(np.asarray(x) - x0) / (x1 - x0) * size[0], (np.asarray(y) - y0) / (y1 - y0) * size[1]])


def _trace(points: list[TradeOffPoint], strategy: str, name: str, reference: bool = False,
           sides: list[str] | None = None) -> go.Scatter:
    """One strategy's points: markers with min-max error bars, joined in strength order and labelled by strength."""
    colour, marker = STRATEGY_COLOURS[strategy], STRATEGY_MARKERS[strategy]
    customdata, template = _hover(points)
    return go.Scatter(
        x=[p.gained.mean for p in points], y=[p.source.mean for p in points], name=name, legendgroup=strategy,
        mode="markers" if reference else "lines+markers+text", text=[p.strength_text for p in points],
        textposition=sides or "top right", textfont=dict(size=12, color=colour),
        cliponaxis=False, line=dict(color=colour, width=1.2), showlegend=reference,
        error_x=_errors([p.gained for p in points], colour), error_y=_errors([p.source for p in points], colour),
        marker=dict(symbol=marker, size=15 if reference else 11, color=colour, line=dict(color="#333333", width=0.8)),
        customdata=customdata, hovertemplate=template)


def _extent(summary: TradeOff) -> tuple[list[float], list[float]]:
    """Axis ranges that hold every point with its error bars, and 0 (the pretrained network)."""
    shown = [p for p in summary.points if p.seeds]
    xs = [v for p in shown for v in (p.gained.low, p.gained.high)] + [0.0]
    ys = [v for p in shown for v in (p.source.low, p.source.high)]
    ys += [summary.pretrained_source.low, summary.pretrained_source.high]
    x_pad, y_pad = 0.05 * max(max(xs) - min(xs), 1.0), 0.06 * max(max(ys) - min(ys), 0.01)
    return [min(xs) - x_pad, max(xs) + x_pad], [min(ys) - y_pad, max(ys) + y_pad]


def trade_off_figure(summary: TradeOff) -> go.Figure:
    """Source accuracy after fine-tuning against target accuracy gained over the pretrained network, one panel per
    remedy on shared axes: one marker per strength (mean over seeds, min-max error bars), joined in strength order
    and labelled; full fine-tuning and the pretrained network (gain 0) as references in every panel, with dotted
    guides through full fine-tuning."""
    remedies = [r for r in REMEDIES if any(p.seeds for p in summary.remedy_points(r))]
    n_rows, n_cols = grid_shape(max(1, len(remedies)), max_cols=2)
    height = TOP + BOTTOM + PANEL_HEIGHT * n_rows
    fig = make_subplots(rows=n_rows, cols=n_cols, shared_xaxes="all", shared_yaxes="all", horizontal_spacing=0.06,
                        vertical_spacing=vertical_spacing(n_rows, height, 60, TOP + BOTTOM),
                        subplot_titles=[strategy_label(r) for r in remedies])
    x_range, y_range = _extent(summary)
    reference, before = summary.reference, summary.pretrained_source
    for i, remedy in enumerate(remedies or [None]):
        cell = dict(row=i // n_cols + 1, col=i % n_cols + 1)
        if reference is not None and reference.seeds:
            x, y = reference.gained.mean, reference.source.mean
            fig.add_trace(go.Scatter(x=[x, x, None, *x_range], y=[*y_range, None, y, y], mode="lines", name=GUIDES,
                                     legendgroup="guides", showlegend=i == 0, hoverinfo="skip",
                                     line=dict(color="#888888", width=1.2, dash="dot")), **cell)
            fig.add_trace(_trace([reference], REFERENCE, f"{strategy_label(REFERENCE)} (the reference)",
                                 reference=True).update(showlegend=i == 0), **cell)
        fig.add_trace(go.Scatter(
            x=[0.0], y=[before.mean], mode="markers", name=PRETRAINED, legendgroup="pretrained", showlegend=i == 0,
            error_y=_errors([before], "#000000"), marker=dict(symbol="circle-open", size=13, color="#000000",
                                                               line=dict(width=2.5)),
            hovertemplate=f"{PRETRAINED}<br>source %{{y:.1%}} (min-max {before.low:.1%} to {before.high:.1%})"
                          "<extra></extra>"), **cell)
        if remedy is not None:
            points = [p for p in summary.remedy_points(remedy) if p.seeds]
            size = (CHART_WIDTH / n_cols, PANEL_HEIGHT * 0.8)
            others = [(0.0, before.mean)]
            if reference is not None and reference.seeds:
                others.append((reference.gained.mean, reference.source.mean))
            sides = label_sides(_pixels([p.gained.mean for p in points], [p.source.mean for p in points],
                                        (x_range, y_range), size), [p.strength_text for p in points],
                                _pixels(*zip(*others), (x_range, y_range), size), size)
            fig.add_trace(_trace(points, remedy, strategy_label(remedy), sides=sides), **cell)
    fig.update_xaxes(range=x_range, zeroline=True, zerolinecolor="#BBBBBB")
    fig.update_yaxes(range=y_range, tickformat=".1~%")
    for col in range(1, n_cols + 1):
        fig.update_xaxes(title_text=X_TITLE, row=n_rows, col=col)
    for row in range(1, n_rows + 1):
        fig.update_yaxes(title_text=Y_TITLE if n_rows == 1 else "source accuracy", row=row, col=1)
    seeds = f"{summary.n_seeds} seeds" if summary.n_seeds != 1 else "1 seed"
    title = f"What each remedy keeps and gives up ({summary.labels} labels per class, mean and min-max over {seeds})"
    plot_height = height - TOP - BOTTOM
    fig.update_layout(
        title=dict(text=title, y=1.0, yref="container", yanchor="top", pad=dict(t=12)),
        height=height, hovermode="closest",
        **{**BASE_LAYOUT, "margin": dict(l=70, r=20, t=TOP, b=BOTTOM),
           "legend": dict(orientation="h", x=0.0, xanchor="left", y=1 + 40 / plot_height, yanchor="bottom")})
    fig.update_annotations(font_size=14)
    return fig


def _cell(value: float | None, text) -> str:
    """``text(value)``, or a dash where there is no value."""
    return "—" if value is None else text(value)


def trade_off_frame(summary: TradeOff) -> pd.DataFrame:
    """One row per strategy and strength, as text: target gained, source after, and the exchange with full
    fine-tuning (a dash where it has none)."""
    rows = []
    for p in summary.points:
        exchange = p.exchange
        if exchange is None:
            per_point = "reference" if p.strategy == REFERENCE else "—"
        elif exchange.free:
            per_point = f"gives up none (≤ {FREE_MARGIN:g} pt)"
        else:
            per_point = f"{exchange.per_point:.2f}"
        rows.append({"strategy": strategy_label(p.strategy), "strength": p.strength_text or "—", "seeds": p.seeds,
                     "target gained (pts)": _cell(p.gained.mean, signed),
                     "source after (%)": _cell(p.source.mean, lambda v: f"{100 * v:.1f}"),
                     "source kept (pts)": _cell(exchange and exchange.kept, signed),
                     "target given up (pts)": _cell(exchange and exchange.given_up, signed),
                     "kept per point given up": per_point,
                     "p (source kept)": _cell(exchange and exchange.p_value,
                                              lambda v: "< 0.001" if v < 0.001 else f"{v:.3f}")})
    return pd.DataFrame(rows)
