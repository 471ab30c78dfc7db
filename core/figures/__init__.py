"""Plotly figure builders: results in, ``go.Figure`` out. No streamlit, no computation of metrics.

Conventions: source points are filled markers, target points hollow ones, colour is the
class (Okabe-Ito palette, safe for colour-blind viewers; the ten digit classes add Okabe-Ito's
black and three of Paul Tol's colours), axes carry units and stay fixed while a slider moves as
long as the points stay inside them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.data import domains
from core.data.domains import REFERENCE_EXTENT, DomainData, plane_ranges
from core.scenario import KNOBS_BY_NAME, Scenario

CLASS_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",  # Okabe-Ito
                 "#000000", "#332288", "#999933", "#882255")  # black; Tol's indigo, olive, wine
SOURCE_GREY, TARGET_COLOUR = "#7F7F7F", "#D55E00"
WEBGL_THRESHOLD = 3000
MAX_LABELLED_BARS = 4  # class-proportion bars carry their share as text up to this many classes
BASE_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=60, b=50),
                   legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0.0))


# 3-D scenes (feature_map=lift3d): a cube seen from a little further than plotly's default eye, so no corner of
# the box leaves the chart's frame
SCENE_3D = dict(xaxis_title="x0", yaxis_title="x1", zaxis_title="x2", aspectmode="cube",
                camera=dict(eye=dict(x=1.6, y=1.6, z=1.1)), domain=dict(x=[0.02, 0.98], y=[0.02, 0.98]))


def class_colour(k: int) -> str:
    """The colour of class ``k``."""
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def _scatter_trace(x: np.ndarray, name: str, colour: str, hollow: bool, group: str,
                   symbol: str | None = None, size: int = 6, three_d: bool = False):
    marker = dict(color=colour, size=size if not three_d else 3,
                  symbol=symbol or ("circle-open" if hollow else "circle"),
                  line=dict(width=1.5 if hollow else 0, color=colour))
    if three_d:
        return go.Scatter3d(x=x[:, 0], y=x[:, 1], z=x[:, 2], mode="markers", name=name,
                            legendgroup=group, marker=marker)
    trace = go.Scattergl if len(x) > WEBGL_THRESHOLD else go.Scatter
    return trace(x=x[:, 0], y=x[:, 1], mode="markers", name=name, legendgroup=group,
                 marker=marker, opacity=0.85 if hollow else 0.6)


def domain_scatter(data: DomainData, show_concept_line: bool = True) -> go.Figure:
    """Source (filled) and target pool (hollow) coloured by class; labelled target as diamonds.

    The target pool is coloured by its true labels for illustration; training never sees them.
    """
    three_d = data.n_features == 3
    fig = go.Figure()
    for k in data.source_classes:
        fig.add_trace(_scatter_trace(data.source_x[data.source_y == k], f"source · class {k}",
                                     class_colour(k), False, f"c{k}", three_d=three_d))
    for k in data.target_classes:
        pool = data.target_pool_x[data.target_pool_y_oracle == k]
        name = f"target · class {k}" + (" (new)" if k not in data.source_classes else "")
        fig.add_trace(_scatter_trace(pool, name, class_colour(k), True, f"c{k}", three_d=three_d))
    for k in data.target_classes:
        labelled = data.target_labelled_x[data.target_labelled_y == k]
        if len(labelled):
            fig.add_trace(_scatter_trace(labelled, f"labelled target · class {k}", class_colour(k),
                                         False, f"c{k}", symbol="diamond", size=11, three_d=three_d))
    title = "Source (filled) and target (hollow), coloured by class"
    if three_d:
        fig.update_layout(scene=SCENE_3D)
    else:
        x_range, y_range = plane_ranges(data)
        fig.update_xaxes(title="x0", range=x_range, zeroline=False)
        fig.update_yaxes(title="x1", range=y_range, zeroline=False, scaleanchor="x", scaleratio=1)
        if show_concept_line and math.isfinite(data.concept_threshold):
            _add_concept_line(fig, data)
    if data.scenario.selection > 0:
        _add_selection_centre(fig, data.scenario, three_d)
    fig.update_layout(title=title, height=520, **BASE_LAYOUT)
    fig.update_layout(legend=dict(y=-0.12, yanchor="top", font=dict(size=11)), margin=dict(b=110))
    return fig


def _add_concept_line(fig: go.Figure, data: DomainData) -> None:
    """Dashed curve where the target's labelling rule changes (mapped into target features)."""
    (_, (y_low, y_high)) = REFERENCE_EXTENT[data.scenario.dataset]
    ys = np.linspace(y_low - 1.0, y_high + 1.0, 200)
    line = np.column_stack([np.full_like(ys, data.concept_threshold), ys])
    mapped = domains.to_target_space(data.scenario, line)
    fig.add_trace(go.Scatter(x=mapped[:, 0], y=mapped[:, 1], mode="lines",
                             line=dict(color="#333333", dash="dash", width=2),
                             name="target labels permuted beyond this line", hoverinfo="skip"))


def _add_selection_centre(fig: go.Figure, scenario: Scenario, three_d: bool) -> None:
    """Covariate shift: the centre the target's selection favours (a cross) and the circle of radius
    1/√strength about it, both mapped into the target's features; the target's points pile up there."""
    centre = domains.selection_centre(scenario)
    angle = np.linspace(0.0, 2 * np.pi, 121)
    circle = centre + np.column_stack([np.cos(angle), np.sin(angle)]) / math.sqrt(scenario.selection)
    mark, ring = domains.to_target_space(scenario, centre[None, :]), domains.to_target_space(scenario, circle)
    style = dict(color="#333333", dash="dot", width=1.5)
    cross = dict(color="#333333", symbol="x", size=12 if not three_d else 5)
    name = f"selection centre ({scenario.selection_x:g}, {scenario.selection_y:g}); circle: radius 1/√strength"
    if three_d:
        fig.add_trace(go.Scatter3d(x=ring[:, 0], y=ring[:, 1], z=ring[:, 2], mode="lines", line=style,
                                   name=name, legendgroup="selection", hoverinfo="skip"))
        fig.add_trace(go.Scatter3d(x=mark[:, 0], y=mark[:, 1], z=mark[:, 2], mode="markers", marker=cross,
                                   legendgroup="selection", showlegend=False))
        return
    fig.add_trace(go.Scatter(x=ring[:, 0], y=ring[:, 1], mode="lines", line=style, name=name,
                             legendgroup="selection", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=mark[:, 0], y=mark[:, 1], mode="markers", marker=cross, legendgroup="selection",
                             showlegend=False, hovertemplate="selection centre<extra></extra>"))


def _joined(lines: list[np.ndarray]) -> np.ndarray:
    """Polylines joined into one array, separated by NaN rows (one trace draws them all)."""
    gap = np.full((1, lines[0].shape[1]), np.nan)
    return np.concatenate([part for line in lines for part in (line, gap)])


def feature_map_figure(scenario: Scenario) -> go.Figure:
    """A grid of the source's features and where the input transformation and feature map send it."""
    (x_low, x_high), (y_low, y_high) = REFERENCE_EXTENT[scenario.dataset]
    lines = [np.column_stack([np.full(100, x), np.linspace(y_low, y_high, 100)])
             for x in np.linspace(x_low, x_high, 9)]
    lines += [np.column_stack([np.linspace(x_low, x_high, 100), np.full(100, y)])
              for y in np.linspace(y_low, y_high, 7)]
    grid = _joined(lines)
    image = _joined([domains.to_target_space(scenario, line) for line in lines])
    grey, orange = dict(color="#BBBBBB", width=1.5), dict(color=TARGET_COLOUR, width=2)
    if domains.n_features(scenario) == 3:
        traces = [go.Scatter3d(x=grid[:, 0], y=grid[:, 1], z=np.zeros(len(grid)), mode="lines", line=grey,
                               name="source grid"),
                  go.Scatter3d(x=image[:, 0], y=image[:, 1], z=image[:, 2], mode="lines", line=orange,
                               name="its image in the target")]
    else:
        traces = [go.Scatter(x=grid[:, 0], y=grid[:, 1], mode="lines", line=grey, name="source grid",
                             hoverinfo="skip"),
                  go.Scatter(x=image[:, 0], y=image[:, 1], mode="lines", line=orange,
                             name="its image in the target", hoverinfo="skip")]
    fig = go.Figure(data=traces)
    fig.update_layout(title="Source grid and its image in the target", height=420, **BASE_LAYOUT)
    fig.update_layout(legend=dict(y=-0.25, yanchor="top"), margin=dict(b=100))
    if domains.n_features(scenario) == 3:
        fig.update_layout(scene=SCENE_3D)
    else:
        names = ("x0 (radius r in the target)", "x1 (angle θ, rad, in the target)") \
            if scenario.feature_map == "polar" else ("x0", "x1")
        fig.update_xaxes(title=names[0], zeroline=False)
        fig.update_yaxes(title=names[1], zeroline=False, scaleanchor="x", scaleratio=1)
    return fig


def class_proportions_figure(data: DomainData) -> go.Figure:
    """Class proportions of the source and of the target pool and test set (prior and label-space shift).

    The axis ends a little above the largest share, so ten classes of 10 % do not shrink to slivers;
    with more than four classes the bars are labelled by their class number and the shares are on hover.
    """
    classes = sorted(set(data.source_classes) | set(data.target_classes))
    many = len(classes) > MAX_LABELLED_BARS
    target_y = np.concatenate([data.target_pool_y_oracle, data.target_test_y])
    fig = go.Figure()
    largest = 0.0
    for name, y, colour in (("source", data.source_y, SOURCE_GREY), ("target", target_y, TARGET_COLOUR)):
        share = [float(np.mean(y == k)) if len(y) else 0.0 for k in classes]
        largest = max(largest, *share)
        fig.add_trace(go.Bar(x=[str(k) if many else f"class {k}" for k in classes], y=share, name=name,
                             marker_color=colour, text=None if many else [f"{s:.0%}" for s in share],
                             textposition="outside", hovertemplate="class %{x}: %{y:.1%}" if many else None))
    fig.update_layout(title="Class proportions P(Y)", barmode="group", height=320, **BASE_LAYOUT)
    fig.update_yaxes(title="share of the domain", range=[0, min(1.0, max(largest, 0.05)) * 1.2], tickformat=".0%")
    if many:
        fig.update_xaxes(title="class", type="category")
    return fig


MMD_AXIS_FLOOR = 0.01  # the MMD² axis spans at least [0, 0.01]: a sweep of near-zero values stays near the floor


def divergence_sweep_figure(points: Sequence[dict], knob: str, current: float | None = None) -> go.Figure:
    """MMD² (left axis) and proxy A-distance with its seed spread (right axis) against a knob.

    ``points`` are dicts with keys ``value``, ``mmd2``, ``proxy_a_distance`` and
    ``proxy_a_distance_std``.
    """
    values = [p["value"] for p in points]
    pad = np.array([p["proxy_a_distance"] for p in points])
    spread = np.array([p["proxy_a_distance_std"] for p in points])
    label = KNOBS_BY_NAME[knob].label
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=values + values[::-1], y=list(pad + spread) + list((pad - spread)[::-1]),
                             mode="lines", fill="toself", fillcolor="rgba(213,94,0,0.15)", line=dict(width=0),
                             yaxis="y2", name="proxy A-distance ± sd over seeds", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=values, y=pad, mode="lines+markers", yaxis="y2", name="proxy A-distance (MLP)",
                             line=dict(color=TARGET_COLOUR)))
    # the V-statistic is never negative; rounding leaves values like -2e-19, which would become the axis' ticks
    mmd2 = np.maximum(np.array([p["mmd2"] for p in points], dtype=float), 0.0)
    fig.add_trace(go.Scatter(x=values, y=mmd2, mode="lines+markers",
                             name="MMD² (biased V-statistic)", line=dict(color=CLASS_COLOURS[0])))
    if current is not None:
        fig.add_vline(x=current, line=dict(color="#333333", dash="dot"),
                      annotation_text="current", annotation_position="top right")
    top = max(float(mmd2.max()) * 1.1 if mmd2.size else 0.0, MMD_AXIS_FLOOR)
    fig.update_layout(title=f"How the divergences grow with {label.lower()}", height=420,
                      xaxis=dict(title=label),
                      yaxis=dict(title="MMD² (biased)", range=[0, top], tickformat=".3~f", color=CLASS_COLOURS[0]),
                      yaxis2=dict(title="proxy A-distance", overlaying="y", side="right", range=[0, 2.05],
                                  dtick=0.5, color=TARGET_COLOUR, showgrid=False),
                      **BASE_LAYOUT)
    fig.update_layout(margin=dict(r=70))
    return fig


def _scale_marker(marker, factor: float) -> None:
    """Markers of one size (a number) grow with the fonts, so filled and hollow points stay tellable apart on
    a projector; sizes that encode data (arrays) are left alone."""
    if marker is not None and isinstance(getattr(marker, "size", None), (int, float)):
        marker.size *= factor


def with_larger_fonts(figure: go.Figure, factor: float) -> go.Figure:
    """A copy of ``figure`` with every font ``factor`` times larger (presenter mode); the original is untouched.

    The base font sets the size of every text that has none of its own; the fonts that do carry a
    size (titles, legends, axis titles and ticks, annotations such as subplot titles, trace text such as
    heat-map cell numbers, colour-bar titles and ticks) are scaled too, and so are markers of one size.
    """
    larger = go.Figure(figure)
    base = figure.layout.font.size or 12
    larger.update_layout(font_size=base * factor)
    fonts = [larger.layout.title.font, larger.layout.legend.font]
    for axis in [*larger.select_xaxes(), *larger.select_yaxes()]:
        fonts += [axis.title.font, axis.tickfont]
    fonts += [annotation.font for annotation in larger.layout.annotations]
    for colour_axis in larger.select_coloraxes():
        fonts += [colour_axis.colorbar.title.font, colour_axis.colorbar.tickfont]
    for trace in larger.data:
        fonts += [getattr(trace, "textfont", None)]
        colour_bar = getattr(trace, "colorbar", None)
        if colour_bar is not None:
            fonts += [colour_bar.title.font, colour_bar.tickfont]
        _scale_marker(getattr(trace, "marker", None), factor)
    for font in fonts:
        if font is not None and isinstance(font.size, (int, float)):
            font.size *= factor
    legend, margin = larger.layout.legend, larger.layout.margin
    if legend.y is not None and legend.y < 0:  # a legend under the plot moves down, clear of the larger axis title
        legend.y *= factor
        if margin.b:
            margin.b *= factor
    return larger
