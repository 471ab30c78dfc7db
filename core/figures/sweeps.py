"""Plotly builders of the MMD-vs-lambda page: summaries and surfaces in, figures out.

Conventions as in :mod:`core.figures` and :mod:`core.figures.adaptation`. lambda runs on a
log axis, which has no place for 0: the lambda = 0 models (trained exactly like source-only)
are drawn one decade left of the smallest positive lambda, at a tick labelled "0", apart from
the lines and behind a dotted axis break.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.data.domains import DomainData, plane_ranges, subsample
from core.figures import BASE_LAYOUT, class_colour
from core.figures.parts import band, method_label, pale, scatter_points, surface_traces
from core.labs.lambda_models import LambdaSummary, LambdaSurfaces
from core.labs.model_selection import CRITERIA_BY_NAME

TARGET_LINE, SOURCE_LINE, MMD_LINE = "#D55E00", "#0072B2", "#7F7F7F"
NEGATIVE_FILL = "rgba(213, 94, 0, 0.12)"
FRAME_POINTS = 150  # per domain: the points are drawn once, the frames change only the surface
ORACLE_NAME = "oracle best λ (target test labels)"
# marker and colour of each label-free criterion's pick (Okabe-Ito colours)
PICK_STYLE = {"source_val": ("square", "#56B4E9"), "iwv": ("triangle-up", "#009E73"), "dev": ("diamond", "#CC79A7")}


def lambda_positions(lambdas: np.ndarray) -> np.ndarray:
    """x positions on the log axis: each positive lambda itself, lambda = 0 one decade below the smallest."""
    lambdas = np.asarray(lambdas, dtype=float)
    positive = lambdas[lambdas > 0]
    zero_at = positive.min() / 10 if positive.size else 0.1
    return np.where(lambdas > 0, lambdas, zero_at)


def _fmt(lam: float) -> str:
    return f"{lam:g}"


def _negative_spans(x: np.ndarray, negative: np.ndarray) -> list[tuple[float, float]]:
    """Contiguous runs of negative-transfer lambdas as x intervals, edges at geometric midpoints."""
    spans, i = [], 0
    while i < len(x):
        if not negative[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(x) and negative[j + 1]:
            j += 1
        left = np.sqrt(x[i - 1] * x[i]) if i > 0 else x[i] / 1.4
        right = np.sqrt(x[j] * x[j + 1]) if j + 1 < len(x) else x[j] * 1.4
        spans.append((float(left), float(right)))
        i = j + 1
    return spans


def lambda_sweep_figure(summary: LambdaSummary, method: str) -> go.Figure:
    """Target and source accuracy (mean, min-max band over seeds) and the feature MMD² (right axis)
    against lambda; the oracle's best lambda starred (it reads the target test labels); each label-free
    criterion's pick marked on the target accuracy line, and its accuracy estimate (1 − mean risk) as a
    line hidden until its legend entry is clicked; negative-transfer ranges of lambda shaded."""
    lambdas, x = summary.lambdas, lambda_positions(summary.lambdas)
    positive = lambdas > 0
    fig = go.Figure()
    for span in _negative_spans(x, summary.negative):
        fig.add_vrect(x0=span[0], x1=span[1], fillcolor=NEGATIVE_FILL, line_width=0, layer="below",
                      annotation_text="negative transfer", annotation_position="top left",
                      annotation_font=dict(size=11, color=TARGET_LINE))
    series = (("target_acc", "target test accuracy", TARGET_LINE, "y", "solid"),
              ("source_acc", "source accuracy", SOURCE_LINE, "y", "solid"),
              ("feature_mmd2", "feature MMD² (right axis)", MMD_LINE, "y2", "dot"))
    seeds = f"{summary.n_seeds} seeds" if summary.n_seeds > 1 else "1 seed"
    for key, name, colour, yaxis, dash in series:
        mean, low, high = summary.mean[key], summary.low[key], summary.high[key]
        if summary.n_seeds > 1:
            fig.add_traces(band(x[positive], low[positive], high[positive], colour, name, yaxis))
        number = ".1%" if yaxis == "y" else ".4f"
        customdata = np.column_stack([lambdas, low, high])
        hover = (f"λ=%{{customdata[0]:g}}<br>{name.split(' (')[0]}: %{{y:{number}}}"
                 f"<br>min-max over {seeds}: %{{customdata[1]:{number}}} – %{{customdata[2]:{number}}}<extra></extra>")
        fig.add_trace(go.Scatter(x=x[positive], y=mean[positive], mode="lines+markers", name=name,
                                 legendgroup=name, line=dict(color=colour, dash=dash, width=2),
                                 marker=dict(size=6), yaxis=yaxis, customdata=customdata[positive],
                                 hovertemplate=hover))
        if not positive.all():  # lambda = 0, apart from the line, with its min-max as an error bar
            zero = ~positive
            fig.add_trace(go.Scatter(
                x=x[zero], y=mean[zero], mode="markers", name=f"{name} at λ = 0", showlegend=False,
                legendgroup=name, yaxis=yaxis, marker=dict(color=colour, size=9, symbol="diamond"),
                customdata=customdata[zero], hovertemplate=hover.replace("λ=", "λ=0 (source only) · ", 1)
                .replace("%{customdata[0]:g}", "", 1),
                error_y=dict(type="data", symmetric=False, array=(high - mean)[zero],
                             arrayminus=(mean - low)[zero], color=colour, thickness=1.2, width=4)))
    if summary.baseline is not None:
        fig.add_hline(y=summary.baseline, line=dict(color=TARGET_LINE, width=1, dash="dash"),
                      annotation_text="target acc. at λ = 0 (source only)", annotation_position="top right",
                      annotation_font=dict(size=11, color=TARGET_LINE))
    target = summary.mean["target_acc"]
    for name, risk in summary.criteria.items():
        symbol, colour = PICK_STYLE.get(name, ("circle", "#000000"))
        label = CRITERIA_BY_NAME[name].label.split(" (")[0]
        gap = np.flatnonzero(~positive)[-1:] + 1  # break the line after λ = 0, as the axis is broken there
        fig.add_trace(go.Scatter(
            x=np.insert(x, gap, np.nan), y=np.insert(1.0 - risk, gap, np.nan), mode="lines+markers",
            name=f"{label}: its accuracy estimate (1 − risk)",
            line=dict(color=colour, dash="dot", width=1.5), marker=dict(size=5, symbol=symbol), visible="legendonly",
            customdata=np.insert(lambdas, gap, np.nan),
            hovertemplate=f"λ=%{{customdata:g}}<br>{label} estimate: %{{y:.1%}}<extra></extra>"))
        pick = summary.picks.get(name)
        if pick is None:
            continue
        fig.add_trace(go.Scatter(
            x=[x[pick]], y=[target[pick]], mode="markers", name=f"{label} pick (label-free)",
            text=[f"{label} picks λ = {_fmt(lambdas[pick])}"],
            marker=dict(symbol=symbol, size=13, color="rgba(0,0,0,0)", line=dict(color=colour, width=2.5)),
            hovertemplate=f"{label} (no target labels) picks λ = {_fmt(lambdas[pick])}: mean target test acc. "
                          "%{y:.1%} (oracle)<extra></extra>"))
    if summary.oracle_best is not None:
        best = summary.oracle_best
        fig.add_trace(go.Scatter(
            x=[x[best]], y=[target[best]], name=ORACLE_NAME,
            marker=dict(symbol="star", size=16, color="#F0E442", line=dict(color="#000000", width=1)),
            text=[f"oracle best λ = {_fmt(lambdas[best])}"], mode="markers",
            hovertemplate=f"oracle best λ = {_fmt(lambdas[best])} (chosen on the target test labels): mean target "
                          "acc. %{y:.1%}<extra></extra>"))
        fig.add_annotation(x=float(np.log10(x[best])), y=float(target[best]), ax=0, ay=64,
                           text=f"<b>oracle best λ = {_fmt(lambdas[best])}</b>", showarrow=True, arrowhead=0,
                           arrowcolor="#555555", bgcolor="rgba(255,255,255,0.85)", font=dict(size=12),
                           xanchor="left" if best == 0 else "right" if best == len(x) - 1 else "center")
    if positive.any() and not positive.all():  # the axis break between "0" and the smallest positive lambda
        fig.add_vline(x=float(np.sqrt(x[~positive][0] * x[positive].min())),
                      line=dict(color="#BBBBBB", width=1, dash="dot"))
    ticks = [float(v) for v in 10.0 ** np.arange(-4, 3) if x[positive].min(initial=np.inf) * 0.9 <= v
             <= x.max() * 1.1] if positive.any() else []
    tickvals = ([float(x[~positive][0])] if not positive.all() else []) + ticks
    ticktext = (["0"] if not positive.all() else []) + [_fmt(v) for v in ticks]
    span = np.log10(x.max()) - np.log10(x.min()) if len(x) > 1 else 1.0
    fig.update_layout(
        title=f"{method_label(method)}: accuracy and feature MMD² against the alignment weight λ",
        xaxis=dict(type="log", title="alignment weight λ (log scale; λ = 0 drawn at the left, apart)",
                   tickvals=tickvals, ticktext=ticktext,
                   range=[np.log10(x.min()) - 0.06 * span, np.log10(x.max()) + 0.06 * span]),
        yaxis=dict(title="accuracy", tickformat=".0%", rangemode="tozero"),
        yaxis2=dict(title="feature MMD² (biased)", overlaying="y", side="right", rangemode="tozero",
                    showgrid=False, tickmode="auto", nticks=6, tickformat=".3~f"),  # round ticks of its own
        height=560, hovermode="closest", **{**BASE_LAYOUT, "margin": dict(l=60, r=70, t=100, b=170)})
    # many entries (the picks, the estimates): the legend goes below the axis, not into the title
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0.0, font=dict(size=11)))
    return fig


def _frame_title(method: str, lam: float, accuracy: float | None) -> str:
    score = "every seed diverged" if accuracy is None else f"target test acc. {accuracy:.1%}"
    zero = " (source only)" if lam == 0 else ""
    return f"{method_label(method)}, λ = {_fmt(lam)}{zero}: {score} (first seed)"


def _surface(probabilities: np.ndarray | None, surfaces: LambdaSurfaces, n_classes: int) -> list:
    """The frame's surface traces, rounded (frames travel as JSON); blank where every seed diverged."""
    if probabilities is None:
        probabilities = np.full((len(surfaces.ys), len(surfaces.xs), n_classes), np.nan, dtype=np.float32)
    traces = surface_traces(np.round(probabilities, 3), surfaces)
    if n_classes == 2:
        traces[0].update(name="p(class 1)")
    return traces


def decision_boundary_animation(surfaces: LambdaSurfaces, data: DomainData, method: str,
                                target_acc: dict[int, float | None], n_classes: int,
                                max_points: int = FRAME_POINTS) -> go.Figure:
    """The first seed's decision boundary at each lambda as frames of one figure, with play and
    pause buttons and a lambda slider (the browser animates; no rerun per frame).

    ``target_acc`` maps a model index to its target test accuracy (for the frame titles).
    """
    seed = data.scenario.seed
    source = subsample(len(data.source_x), max_points, seed)
    target = subsample(len(data.target_test_x), max_points, seed + 1)
    names = [_fmt(lam) for lam in surfaces.lambdas]
    titles = [_frame_title(method, lam, None if m is None else target_acc.get(m))
              for lam, m in zip(surfaces.lambdas, surfaces.models)]
    first = _surface(surfaces.probabilities[0], surfaces, n_classes)
    n_surface = len(first)
    fig = go.Figure(data=first
                    + scatter_points(data.source_x[source], data.source_y[source], "source", False, legend=True)
                    + scatter_points(data.target_test_x[target], data.target_test_y[target], "target test", True,
                              legend=True))
    fig.frames = [go.Frame(name=name, data=_surface(p, surfaces, n_classes), traces=list(range(n_surface)),
                           layout=dict(title=dict(text=title)))
                  for name, p, title in zip(names, surfaces.probabilities, titles)]
    play = dict(frame=dict(duration=700, redraw=True), transition=dict(duration=0), fromcurrent=True, mode="immediate")
    pause = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    x_range, y_range = plane_ranges(data)
    two_classes = n_classes == 2
    fig.update_layout(
        title=dict(text=titles[0]),
        xaxis=dict(title="x0", range=x_range, constrain="domain", zeroline=False),
        yaxis=dict(title="x1", range=y_range, constrain="domain", zeroline=False, scaleanchor="x", scaleratio=1),
        height=640, **{**BASE_LAYOUT, "margin": dict(l=60, r=20, t=110, b=150)},
        updatemenus=[dict(type="buttons", direction="left", showactive=False, x=0.0, y=-0.13, xanchor="left",
                          yanchor="top", pad=dict(t=0, r=10),
                          buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                                   dict(label="❚❚ Pause", method="animate", args=[[None], pause])])],
        sliders=[dict(active=0, x=0.17, len=0.83, y=-0.08, yanchor="top", pad=dict(t=0, b=0),
                      currentvalue=dict(prefix="λ = ", font=dict(size=13)),
                      steps=[dict(label=f"{lam:.2g}", method="animate",  # the tick; the title gives λ in full
                                  args=[[name], dict(frame=dict(duration=0, redraw=True), mode="immediate",
                                                     transition=dict(duration=0))])
                             for name, lam in zip(names, surfaces.lambdas)])])
    if two_classes:
        fig.update_layout(coloraxis=dict(
            cmin=0, cmax=1, colorscale=[[0, pale(class_colour(0), 0.6)], [0.5, "#FFFFFF"],
                                        [1, pale(class_colour(1), 0.6)]],
            colorbar=dict(title=dict(text="p(class 1)", side="right"), len=0.8, thickness=12)))
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.0, font=dict(size=11)))
    return fig
