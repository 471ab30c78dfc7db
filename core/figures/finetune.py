"""Plotly builders (and tables) of the Fine-tuning and Negative transfer pages: results in, figures out.

Conventions as in :mod:`core.figures` and :mod:`core.figures.adaptation`: every axis and chart
titled, legends beside or above the plot, never over it. Each strategy keeps one colour (the
Okabe-Ito palette) and one marker on every chart; scratch training, the reference, is black
and dashed. The gain over scratch runs from orange (transfer hurts) through white (no
difference) to blue (transfer helps), safe for colour-blind viewers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sequential
from plotly.subplots import make_subplots

from core.figures import BASE_LAYOUT
from core.figures.parts import STRATEGY_COLOURS, STRATEGY_MARKERS, band, grid_shape, pale, vertical_spacing
from core.labs.efficiency import StrategyCurves, labels_to_match
from core.labs.negative_transfer import SMALL_LABELS, GainMap, RuleCheck, rule_holds
from core.metrics.paired import ALPHA
from core.scenario import KNOBS_BY_NAME
from core.training.finetune import STRATEGIES_BY_NAME, FinetuneSettings, layer_rate_schedule

FROZEN_GREY = "#DDDDDD"
HURTS, HELPS = "#D55E00", "#0072B2"
GAIN_SCALE = [[0.0, HURTS], [0.25, pale(HURTS, 0.5)], [0.5, "#FFFFFF"], [0.75, pale(HELPS, 0.5)], [1.0, HELPS]]
SIDE_LEGEND = dict(orientation="v", x=1.02, xanchor="left", y=1.0, yanchor="top", font=dict(size=12))


def strategy_label(strategy: str) -> str:
    """The human name of a strategy."""
    return STRATEGIES_BY_NAME[strategy].label


def strategy_name(strategy: str, trained: dict[str, int]) -> str:
    """The human name with the parameters one network trains, e.g. ``"Adapters (942)"``, when ``trained`` has it."""
    count = trained.get(strategy)
    return strategy_label(strategy) + (f" ({count:,})" if count is not None else "")


def _legend(trained: dict[str, int], **legend) -> dict:
    """A legend whose title says what the numbers after the names are (when there are any)."""
    return {**legend, "title": dict(text="strategy (parameters trained)")} if trained else legend


def _knob_value(knob: str, value: float) -> str:
    return f"{value:g}°" if knob == "rotation" else f"{value:g}"


# --- the learning-rate schedule --------------------------------------------------------------------
def _rate_ticks(rates: np.ndarray) -> list[float]:
    """Colour-bar ticks at round rates: the 1-2-5 steps inside the rates' range (a graded schedule's rates such
    as 0.00115 make unreadable ticks), or its ends to two significant figures when fewer than two fit."""
    low, high = float(rates.min()), float(rates.max())
    steps = [m * 10.0 ** e for e in range(-8, 2) for m in (1, 2, 5)]
    inside = [s for s in steps if low * (1 - 1e-9) <= s <= high * (1 + 1e-9)]
    return inside if len(inside) >= 2 else sorted({float(f"{low:.2g}"), float(f"{high:.2g}")})


def schedule_figure(settings: FinetuneSettings, strategies: Sequence[str]) -> go.Figure:
    """One small heatmap per strategy: the learning rate of every layer (rows, input at the bottom)
    at every fine-tuning epoch (columns), on one log colour scale; frozen layers (rate 0) light grey."""
    adapters = any(STRATEGIES_BY_NAME[s].adapters for s in strategies)
    schedules = {s: layer_rate_schedule(s, settings, adapter_column=adapters) for s in strategies}
    every = np.concatenate([r.ravel() for r in schedules.values()])
    positive = every[every > 0]
    low, high = (np.log10(positive.min()), np.log10(positive.max())) if positive.size else (-3.0, -2.0)
    span = max(high - low, 1.0)
    frozen_at, top = low - 0.3 * span, max(high, low + 0.05)
    grey_to = (low - 0.15 * span - frozen_at) / (top - frozen_at)
    viridis = sequential.Viridis
    scale = [[0.0, FROZEN_GREY], [grey_to, FROZEN_GREY]] + [
        [grey_to + (1 - grey_to) * i / (len(viridis) - 1), c] for i, c in enumerate(viridis)]
    scale[2][0] = grey_to + 1e-9
    ticks = _rate_ticks(positive) if positive.size else []
    n_rows, n_cols = grid_shape(len(strategies))
    height = 130 + 230 * n_rows
    fig = make_subplots(rows=n_rows, cols=n_cols, shared_yaxes=True, horizontal_spacing=0.025,
                        vertical_spacing=vertical_spacing(n_rows, height, 100),
                        subplot_titles=[strategy_label(s) for s in strategies])
    n_layers = settings.n_layers
    names = [f"layer {i + 1}" + (" (input)" if i == 0 else " (head)" if i == n_layers - 1 else "")
             for i in range(n_layers)] + (["adapters"] if adapters else [])
    epochs = np.arange(1, settings.epochs + 1)
    for i, strategy in enumerate(strategies):
        row, col = divmod(i, n_cols)
        rates = schedules[strategy].T  # [layers, epochs]
        z = np.where(rates > 0, np.log10(np.where(rates > 0, rates, 1.0)), frozen_at)
        text = np.where(rates > 0, np.char.mod("%.3g", rates), "0 (frozen)")
        fig.add_trace(go.Heatmap(
            x=epochs, y=names, z=z, customdata=text, coloraxis="coloraxis", name=strategy_label(strategy),
            hovertemplate=f"{strategy_label(strategy)}<br>%{{y}}, epoch %{{x}}<br>rate %{{customdata}}<extra></extra>"),
            row=row + 1, col=col + 1)
        fig.update_xaxes(title_text="fine-tuning epoch", title_standoff=4, row=row + 1, col=col + 1)
        fig.update_yaxes(title_text="layer" if col == 0 else None, row=row + 1, col=col + 1)
    fig.update_layout(
        title="Learning rate of each layer at each epoch (grey: frozen)", height=height,
        coloraxis=dict(cmin=frozen_at, cmax=top, colorscale=scale, colorbar=dict(
            title=dict(text="learning rate", side="right"), thickness=14, len=0.9,
            tickvals=[frozen_at] + [float(np.log10(t)) for t in ticks],
            ticktext=["0 (frozen)"] + [f"{t:g}" for t in ticks])),
        **{**BASE_LAYOUT, "margin": dict(l=60, r=30, t=90, b=60)})
    fig.update_annotations(font_size=13)
    return fig


# --- sample efficiency and forgetting --------------------------------------------------------------
def _label_axis(labels: np.ndarray) -> dict:
    """A log axis with a tick at each label count and a little room at both ends."""
    logs = np.log10(labels.astype(float))
    pad = 0.06 * max(logs.max() - logs.min(), 1.0)
    return dict(type="log", title="labelled target samples per class (log scale)", tickvals=labels.tolist(),
                ticktext=[str(n) for n in labels], range=[logs.min() - pad, logs.max() + pad])


def _curves_figure(curves: StrategyCurves, metric: str, title: str, y_title: str) -> go.Figure:
    """Mean over seeds (line) and min-max (band) of ``metric`` against labels per class, per strategy,
    with the pretrained network's value as a dotted line."""
    labels = curves.labels
    x = labels.astype(float)
    seeds = f"{curves.n_seeds} seeds" if curves.n_seeds > 1 else "1 seed"
    fig = go.Figure()
    for i, strategy in enumerate(curves.strategies):
        name, colour = strategy_name(strategy, curves.trained_parameters), STRATEGY_COLOURS[strategy]
        mean, low, high = curves.mean[metric][i], curves.low[metric][i], curves.high[metric][i]
        if curves.n_seeds > 1:
            fig.add_traces(band(x, low, high, colour, name))
        fig.add_trace(go.Scatter(
            x=x, y=mean, mode="lines+markers", name=name, legendgroup=name,
            line=dict(color=colour, width=2.5, dash="dash" if strategy == "scratch" else "solid"),
            marker=dict(symbol=STRATEGY_MARKERS[strategy], size=8, color=colour, line=dict(color="#333333", width=0.8)),
            customdata=np.column_stack([low, high]),
            hovertemplate=f"{name}<br>%{{x}} labels per class: %{{y:.1%}}<br>min-max over {seeds}: "
                          "%{customdata[0]:.1%} – %{customdata[1]:.1%}<extra></extra>"))
    value, reference = curves.pretrained[metric], "pretrained network, before fine-tuning"
    axis = _label_axis(labels)
    fig.add_trace(go.Scatter(x=[10 ** v for v in axis["range"]], y=[value, value], mode="lines",
                             name=f"{reference}: {value:.1%}",
                             line=dict(color="#555555", width=2, dash="dot"),
                             hovertemplate=f"{reference}: {value:.1%}<extra></extra>"))
    fig.update_layout(title=title, height=460, xaxis=axis,
                      yaxis=dict(title=y_title, tickformat=".0%"), hovermode="closest",
                      **{**BASE_LAYOUT, "legend": _legend(curves.trained_parameters, **SIDE_LEGEND),
                         "margin": dict(l=60, r=20, t=60, b=60)})
    return fig


def efficiency_figure(curves: StrategyCurves) -> go.Figure:
    """Target test accuracy against labels per class (log axis), a line and seed band per strategy, and
    the pretrained source network's target accuracy without fine-tuning as a dotted reference."""
    return _curves_figure(curves, "target_acc", "Sample efficiency: target test accuracy against labels per class",
                          "target test accuracy")


def forgetting_figure(curves: StrategyCurves) -> go.Figure:
    """Source accuracy after fine-tuning against labels per class per strategy; the pretrained
    network's source accuracy as the dotted reference."""
    return _curves_figure(curves, "source_acc", "Forgetting: source accuracy after fine-tuning",
                          "source accuracy")


def labels_needed_frame(curves: StrategyCurves) -> pd.DataFrame:
    """Rows: transfer strategies; columns: their label count; cells: labels per class scratch needs to match."""
    rows = []
    for strategy in curves.strategies:
        if strategy == "scratch":
            continue
        row = {"strategy": strategy_label(strategy)}
        row.update({f"{answer.labels}": answer.text() for answer in labels_to_match(curves, strategy)})
        rows.append(row)
    columns = ["strategy"] + [str(n) for n in curves.labels]
    return pd.DataFrame(rows, columns=columns).fillna("—")


# --- the gain map and the best strategy ------------------------------------------------------------
def _grid_axes(fig: go.Figure, grid: GainMap) -> None:
    """Equally spaced cells: labels per class along x, the knob's values along y."""
    fig.update_xaxes(title="labelled target samples per class", tickvals=list(range(len(grid.labels))),
                     ticktext=[str(n) for n in grid.labels], showgrid=False, zeroline=False,
                     range=[-0.5, len(grid.labels) - 0.5])
    fig.update_yaxes(title=KNOBS_BY_NAME[grid.knob].label, tickvals=list(range(len(grid.values))),
                     ticktext=[_knob_value(grid.knob, v) for v in grid.values], showgrid=False, zeroline=False,
                     range=[-0.5, len(grid.values) - 0.5])


def gain_map_figure(grid: GainMap, strategy: str) -> go.Figure:
    """Heatmap of ``strategy``'s gain over scratch (points of mean target test accuracy) per knob value
    (rows) and label count (columns), centred at 0; negative cells outlined and crossed."""
    gain = np.round(100 * grid.gain[strategy], 1) + 0.0  # drawn to 0.1 point; + 0.0 turns -0.0 into 0.0
    reach = float(np.nanmax(np.abs(gain))) if np.isfinite(gain).any() else 1.0
    reach = max(reach, 1.0)
    name = strategy_label(strategy)
    count = grid.trained_parameters.get(strategy)
    knob = KNOBS_BY_NAME[grid.knob].label.split(" (")[0].lower()
    where = [[f"{knob} {_knob_value(grid.knob, v)}, {n} labels per class" for n in grid.labels] for v in grid.values]
    cells = np.dstack([where] + [np.char.mod(form, 100 * values) for form, values in (
        ("%.1f", grid.accuracy[strategy]), ("%.1f", grid.accuracy["scratch"]), ("%+.1f", grid.gain_low[strategy]),
        ("%+.1f", grid.gain_high[strategy]))])
    fig = go.Figure(go.Heatmap(
        x=np.arange(len(grid.labels)), y=np.arange(len(grid.values)), z=gain, zmin=-reach, zmax=reach,
        colorscale=GAIN_SCALE, customdata=cells, texttemplate="%{z:+.1f}", textfont=dict(size=12),
        colorbar=dict(title=dict(text="gain over scratch (points)", side="right"), thickness=14),
        hovertemplate=f"%{{customdata[0]}}<br>{name}: %{{customdata[1]}}% · scratch: %{{customdata[2]}}%<br>"
                      "gain %{z:+.1f} points (per seed %{customdata[3]} to %{customdata[4]})<extra></extra>",
        name="gain"))
    rows, cols = np.nonzero(grid.negative(strategy))
    for v, j in zip(rows, cols):
        fig.add_shape(type="rect", x0=j - 0.48, x1=j + 0.48, y0=v - 0.48, y1=v + 0.48,
                      line=dict(color="#000000", width=2.5))
    if len(rows):
        fig.add_trace(go.Scatter(
            x=cols + 0.33, y=rows + 0.27, mode="markers", hoverinfo="skip",
            name=f"negative transfer: more than {100 * grid.margin:g} pt below scratch, paired test p < {ALPHA:g}",
            marker=dict(symbol="x-thin-open", size=9, color="#000000", line=dict(width=2.5, color="#000000"))))
    unsure_rows, unsure_cols = np.nonzero(grid.inconclusive(strategy))
    if len(unsure_rows):
        fig.add_trace(go.Scatter(
            x=unsure_cols + 0.33, y=unsure_rows + 0.27, mode="text", text=["?"] * len(unsure_rows), hoverinfo="skip",
            textfont=dict(size=15, color="#000000"), name="?: a drop the paired test cannot tell from seed noise"))
    _grid_axes(fig, grid)
    trains = f"; {count:,} parameters trained per network" if count is not None else ""
    fig.update_layout(title=f"{name}: gain over scratch<br><sup>points of target test accuracy{trains}</sup>",
                      height=470, showlegend=True,
                      **{**BASE_LAYOUT, "legend": dict(orientation="h", x=0.0, y=-0.17, yanchor="top"),
                         "margin": dict(l=70, r=20, t=70, b=110)})
    return fig


def best_strategy_figure(grid: GainMap) -> go.Figure:
    """The most accurate strategy per cell (its colour), ✓ where the rule of thumb's pick is within the
    tolerance of it and ✗ where not, with lines between small and large label counts and between
    similar and different domains."""
    strategies = list(grid.strategies)
    index = np.vectorize(strategies.index)(grid.best).astype(float)
    holds = rule_holds(grid)
    marks = np.where(holds == True, "✓", np.where(holds == False, "✗", ""))  # noqa: E712 (object array)
    verdict = np.where(holds == True, "holds", np.where(holds == False, "fails", "not checked"))  # noqa: E712
    best_acc = np.max(np.stack([grid.accuracy[s] for s in strategies]), axis=0)
    n = len(strategies)
    scale = []
    for k, strategy in enumerate(strategies):
        scale += [[k / n, STRATEGY_COLOURS[strategy]], [(k + 1) / n, STRATEGY_COLOURS[strategy]]]
    labels = np.vectorize(strategy_label)(grid.best)
    fig = go.Figure(go.Heatmap(
        x=np.arange(len(grid.labels)), y=np.arange(len(grid.values)), z=index, zmin=-0.5, zmax=n - 0.5,
        colorscale=scale, showscale=False, text=marks, texttemplate="%{text}", textfont=dict(size=18),
        customdata=np.dstack([labels, np.char.mod("%.1f", 100 * best_acc), verdict]), xgap=1, ygap=1,
        hovertemplate="best: %{customdata[0]} (%{customdata[1]}%)<br>rule of thumb: %{customdata[2]}<extra></extra>",
        name="best strategy"))
    for strategy in strategies:  # legend entries: one square per strategy
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=strategy_name(strategy,
                                                                                      grid.trained_parameters),
                                 marker=dict(symbol="square", size=13, color=STRATEGY_COLOURS[strategy],
                                             line=dict(color="#333333", width=0.5))))
    small = int(np.sum(grid.labels <= SMALL_LABELS))
    if 0 < small < len(grid.labels):  # white under black: visible on every strategy's colour
        fig.add_vline(x=small - 0.5, line=dict(color="#FFFFFF", width=6))
        fig.add_vline(x=small - 0.5, line=dict(color="#000000", width=2.5))
        fig.add_annotation(x=small - 0.5, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                           text=f"small (≤ {SMALL_LABELS}) | large", font=dict(size=11))
    for v in range(len(grid.values) - 1):
        if grid.similar[v] != grid.similar[v + 1]:
            fig.add_hline(y=v + 0.5, line=dict(color="#FFFFFF", width=6))
            fig.add_hline(y=v + 0.5, line=dict(color="#000000", width=2.5, dash="dash"))
    for v, similar in enumerate(grid.similar):
        fig.add_annotation(x=1.0, xref="paper", xanchor="left", y=v, showarrow=False, font=dict(size=11),
                           text="similar" if similar else "different")
    _grid_axes(fig, grid)
    fig.update_layout(title="Best strategy per cell; ✓ / ✗: the rule of thumb holds / fails", height=470,
                      **{**BASE_LAYOUT, "legend": _legend(grid.trained_parameters, orientation="h", x=0.0, y=-0.17,
                                                          yanchor="top"),
                         "margin": dict(l=70, r=80, t=60, b=110)})
    return fig


def rule_checks_frame(checks: Sequence[RuleCheck], strategies: Sequence[str]) -> pd.DataFrame:
    """One row per quadrant of the rules of thumb: its advice, how many cells fall in it, how often it holds."""
    rows = []
    for check in checks:
        trained = [strategy_label(s) for s in check.recommended if s in strategies]
        if not check.cells:
            holds = "no cells"
        elif not check.checked:
            holds = "not checked: train " + " or ".join(strategy_label(s) for s in check.recommended)
        else:
            holds = f"{check.holds} of {check.cells} ({check.share:.0%})"
        rows.append({"quadrant": check.quadrant, "advice": check.advice, "checked with": ", ".join(trained) or "—",
                     "cells": check.cells, "holds": holds})
    return pd.DataFrame(rows)
