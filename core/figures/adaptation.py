"""Plotly builders (and the results table) of the Adaptation page: results in, figures out.

Conventions as in :mod:`core.figures`: source points filled, target points hollow, colour is
the class (Okabe-Ito), every axis labelled. Each method keeps one colour on every chart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.data.domains import DomainData, plane_ranges, subsample
from core.figures import BASE_LAYOUT, SOURCE_GREY, TARGET_COLOUR, class_colour
from core.figures.parts import (
    confusion_grid,
    grid_shape,
    mean_sd_percent,
    method_label,
    pale,
    plane_axes,
    rgba,
    scatter_points,
    surface_traces,
    vertical_spacing,
)
from core.formatting import signed
from core.labs.adaptation import AdaptationRun
from core.labs.embedding import PROJECTIONS, DecisionSurfaces, FeatureEmbedding
from core.metrics.paired import NEGATIVE_LABEL, TransferVerdict
from core.training.methods import METHODS_BY_NAME

BOUNDARY_POINTS = 150  # per domain and subplot: enough to see the shape, light to draw
NEGATIVE_ROW_STYLE = "background-color: rgba(213, 94, 0, 0.18)"


# --- results table -----------------------------------------------------------------------
def results_frame(run: AdaptationRun) -> pd.DataFrame:
    """One row per method: accuracies (mean ± sd over seeds, in %), the change against source
    only (percentage points), a negative-transfer flag and the seeds that trained."""
    rows = []
    for s in run.summary():
        delta = s["delta_vs_source_only"]
        diverged = f" ({s['seeds_diverged']} diverged)" if s["seeds_diverged"] else ""
        rows.append({
            "method": s["label"],
            "target test acc.": mean_sd_percent(s["target_acc_mean"], s["target_acc_sd"]),
            "source acc.": mean_sd_percent(s["source_acc_mean"], s["source_acc_sd"]),
            "Δ vs source only": "—" if delta is None or s["method"] == "source_only"
            else f"{signed(100 * delta)} pts",
            "transfer": "" if s["transfer_test"] is None else TransferVerdict.from_json(s["transfer_test"]).text(),
            "seeds": f"{s['seeds_trained']} of {run.n_seeds}{diverged}",
        })
    return pd.DataFrame(rows)


def results_table(run: AdaptationRun):
    """:func:`results_frame` as a pandas Styler with the negative-transfer rows highlighted."""
    frame = results_frame(run)
    return frame.style.apply(
        lambda row: [NEGATIVE_ROW_STYLE if row["transfer"].startswith(NEGATIVE_LABEL) else ""] * len(row), axis=1)


# --- decision boundaries -------------------------------------------------------------------
def decision_boundary_figure(run: AdaptationRun, data: DomainData, surfaces: DecisionSurfaces,
                             max_points: int = BOUNDARY_POINTS, median: bool = True) -> go.Figure:
    """One small panel per method on shared, fixed axes: p(y | x) of the model in ``surfaces`` (its median
    seed when ``median``), a subsample of source points (filled) and target test points (hollow); for ``ot``
    also its transported source points (crosses). Each title names the seed and its target accuracy."""
    methods = run.methods
    n_rows, n_cols = grid_shape(len(methods))
    titles = []
    for method in methods:
        m = surfaces.models[method]
        if m is None:
            shown = "every seed diverged" if median else "this seed diverged"
        else:
            row = run.rows[m]
            shown = f"seed {row['seed']}{' (median)' if median else ''}: target acc. {row['target_acc']:.1%}"
        titles.append(f"<b>{method_label(method)}</b><br>{shown}")
    height = 120 + 280 * n_rows
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=titles, horizontal_spacing=0.05,
                        vertical_spacing=vertical_spacing(n_rows, height, 95))
    seed = data.scenario.seed
    source = subsample(len(data.source_x), max_points, seed)
    target = subsample(len(data.target_test_x), max_points, seed + 1)
    x_range, y_range = plane_ranges(data)
    for i, method in enumerate(methods):
        row, col = divmod(i, n_cols)
        traces = [] if surfaces.probabilities[method] is None else \
            surface_traces(surfaces.probabilities[method], surfaces)
        traces += scatter_points(data.source_x[source], data.source_y[source], "source", False, legend=i == 0)
        traces += scatter_points(data.target_test_x[target], data.target_test_y[target], "target test", True,
                          legend=i == 0)
        if method == "ot" and run.trained.source_transport is not None:
            traces += scatter_points(run.trained.source_transport[source], data.source_y[source], "transported source",
                              True, legend=True, symbol="x-thin-open", size=6)
        for trace in traces:
            fig.add_trace(trace, row=row + 1, col=col + 1)
    plane_axes(fig, len(methods), n_cols, x_range, y_range)
    two_classes = run.trained.n_classes == 2
    which = "median seed of each method" if median else "one seed"
    fig.update_layout(
        title=f"Decision boundaries ({which}): " + ("colour = p(class 1), line = 0.5" if two_classes else
                                                     "colour = predicted class, paler = less confident"),
        height=height, **BASE_LAYOUT)
    fig.update_annotations(font_size=12)
    fig.update_layout(
        coloraxis=dict(cmin=0, cmax=1, colorscale=[[0, pale(class_colour(0), 0.6)], [0.5, "#FFFFFF"],
                                                   [1, pale(class_colour(1), 0.6)]],
                       colorbar=dict(title=dict(text="p(class 1)", side="right"), len=0.8, thickness=12)),
        legend=dict(orientation="h", y=-60 / (height - 180), yanchor="top", font=dict(size=11)),
        margin=dict(t=100, b=80))
    return fig


# --- training curves --------------------------------------------------------------------------
CURVES = (("task_loss", "Task loss (cross-entropy)", "task loss"),
          ("alignment_loss", "Alignment term", "alignment loss"),
          ("domain_accuracy", "Domain classifier (DANN)", "domain-classifier accuracy"))


def _curve_methods(run: AdaptationRun, name: str) -> list[str]:
    """Methods that have this curve: all for the task loss; the others where it is ever non-zero."""
    if name == "task_loss":
        return list(run.methods)
    values = run.trained.curves[name]
    return [method for method in run.methods
            if np.any(np.nan_to_num(values[:, [m for m, s in enumerate(run.trained.specs)
                                               if s.method == method]]) != 0)]


def training_curves_figure(run: AdaptationRun) -> go.Figure:
    """Task loss, alignment term and DANN's domain-classifier accuracy against the step: the mean
    over the seeds that did not diverge, and their range as a band."""
    steps = run.trained.curve_steps
    diverged = run.trained.diverged
    fig = make_subplots(rows=1, cols=3, subplot_titles=[title for _, title, _ in CURVES], horizontal_spacing=0.09)
    shown = set()
    for col, (name, _, axis_title) in enumerate(CURVES, start=1):
        values = run.trained.curves[name]
        methods = _curve_methods(run, name)
        for method in methods:
            members = [m for m, s in enumerate(run.trained.specs) if s.method == method and not diverged[m]]
            if not members:
                continue
            block = values[:, members]
            with np.errstate(all="ignore"):
                mean, low, high = np.nanmean(block, axis=1), np.nanmin(block, axis=1), np.nanmax(block, axis=1)
            colour = METHODS_BY_NAME[method].colour if method in METHODS_BY_NAME else "#333333"
            if len(members) > 1:
                fig.add_trace(go.Scatter(x=np.concatenate([steps, steps[::-1]]),
                                         y=np.concatenate([high, low[::-1]]), fill="toself", mode="lines",
                                         line=dict(width=0), fillcolor=rgba(colour, 0.15), hoverinfo="skip",
                                         showlegend=False, legendgroup=method), row=1, col=col)
            fig.add_trace(go.Scatter(x=steps, y=mean, mode="lines", name=method_label(method),
                                     legendgroup=method, showlegend=method not in shown,
                                     line=dict(color=colour, width=2)), row=1, col=col)
            shown.add(method)
        if not methods:
            fig.add_annotation(text="no method with this term", showarrow=False, x=0.5, y=0.5,
                               xref=f"x{col} domain", yref=f"y{col} domain", font=dict(color="#777777"))
        fig.update_xaxes(title_text="training step", row=1, col=col)
        fig.update_yaxes(title_text=axis_title, row=1, col=col)
    fig.update_yaxes(type="log", dtick=1, exponentformat="power", row=1, col=1)
    fig.update_yaxes(type="log", dtick=1, exponentformat="power", row=1, col=2)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=3)
    if "dann" in _curve_methods(run, "domain_accuracy"):
        fig.add_hline(y=0.5, line=dict(color="#777777", dash="dot"), annotation_text="chance",
                      annotation_position="bottom right", row=1, col=3)
    fig.update_annotations(font_size=13)
    fig.update_layout(title="Training curves: mean over seeds, band = range over seeds", height=430, **BASE_LAYOUT)
    fig.update_layout(legend=dict(y=-0.2, yanchor="top"), margin=dict(t=90, b=110))
    return fig


# --- features before and after --------------------------------------------------------------------
def embedding_figure(embedding: FeatureEmbedding) -> go.Figure:
    """2 × 2 panels: source only and the adapted method (columns), coloured by domain and by class
    (rows); source filled, target hollow."""
    methods = list(embedding.points)
    name = PROJECTIONS[embedding.projection]
    titles = [f"{embedding.names[m]} · by {what}" for what in ("domain", "class") for m in methods]
    fig = make_subplots(rows=2, cols=len(methods), subplot_titles=titles, horizontal_spacing=0.08,
                        vertical_spacing=0.14)
    source, target = embedding.domain == 0, embedding.domain == 1
    for col, method in enumerate(methods, start=1):
        points = embedding.points[method]
        for mask, label, colour, hollow in ((source, "source", SOURCE_GREY, False),
                                            (target, "target", TARGET_COLOUR, True)):
            fig.add_trace(go.Scatter(
                x=points[mask, 0], y=points[mask, 1], mode="markers", name=f"{label} domain",
                legendgroup=label, showlegend=col == 1, hoverinfo="skip", opacity=0.75,
                marker=dict(color=colour, size=6, symbol="circle-open" if hollow else "circle",
                            line=dict(width=1.2 if hollow else 0, color=colour))), row=1, col=col)
        for k in np.unique(embedding.labels):
            for mask, label, hollow in ((source, "source", False), (target, "target", True)):
                chosen = mask & (embedding.labels == k)
                colour = class_colour(int(k))
                fig.add_trace(go.Scatter(
                    x=points[chosen, 0], y=points[chosen, 1], mode="markers", name=f"{label} · class {k}",
                    legendgroup=f"{label}{k}", showlegend=col == 1, hoverinfo="skip", opacity=0.75,
                    marker=dict(color=colour, size=6, symbol="circle-open" if hollow else "circle",
                                line=dict(width=1.2 if hollow else 0, color=colour))), row=2, col=col)
        for row in (1, 2):
            if embedding.projection == "pca":
                ratios = embedding.explained[method]
                x_title, y_title = f"PC 1 ({ratios[0]:.0%} of variance)", f"PC 2 ({ratios[1]:.0%})"
            else:
                x_title, y_title = f"{name} 1", f"{name} 2"
            fig.update_xaxes(title_text=x_title, zeroline=False, row=row, col=col)
            fig.update_yaxes(title_text=y_title, zeroline=False, row=row, col=col)
    fig.update_layout(title=f"Feature layer before and after adaptation ({name} of the last hidden layer, "
                            "median seed)", height=820, **BASE_LAYOUT)
    fig.update_layout(legend=dict(y=-0.08, yanchor="top"), margin=dict(t=90, b=100))
    return fig


# --- confusion matrices ---------------------------------------------------------------------------
def confusion_figure(run: AdaptationRun) -> go.Figure:
    """One heatmap of target-test counts per method (summed over the seeds that trained)."""
    return confusion_grid({method_label(m): run.confusion[m] for m in run.methods}, run.classes, "points")
