"""Building blocks shared by the figure modules: colour helpers, seed bands, scatter and surface traces,
subplot grid geometry, the confusion grid and number formatting.

Figure modules import :mod:`core.figures` (the conventions) and this module, never each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures import BASE_LAYOUT, class_colour
from core.labs.embedding import DecisionSurfaces
from core.training.methods import METHODS_BY_NAME

# each fine-tuning strategy's colour (Okabe-Ito first) and marker, the same on every chart that shows it
STRATEGY_COLOURS = {"scratch": "#000000", "feature_extraction": "#E69F00", "partial": "#56B4E9",
                    "full_finetune": "#CC79A7", "progressive": "#F0E442", "discriminative": "#0072B2",
                    "l2sp": "#009E73", "adapt_finetune": "#D55E00",  # finetune and DANN as on the Adaptation page
                    # beyond Okabe-Ito's eight: each with its own marker as well
                    "ewc": "#7F3C8D", "replay": "#8C564B", "distill": "#BCBD22", "adapter": "#17BECF",
                    "self_supervised": "#A6761D"}
STRATEGY_MARKERS = {"scratch": "circle", "feature_extraction": "square", "partial": "diamond",
                    "full_finetune": "triangle-up", "progressive": "triangle-down", "discriminative": "star",
                    "l2sp": "hexagon", "adapt_finetune": "pentagon", "ewc": "cross", "replay": "x",
                    "distill": "star-diamond", "adapter": "hourglass", "self_supervised": "bowtie"}
MANY_CLASSES = 6  # above this (the ten digits), confusion matrices label classes by their number only


# --- colours and names ----------------------------------------------------------------------------
def method_label(method: str) -> str:
    """The human name of a method."""
    return METHODS_BY_NAME[method].label


def pale(colour: str, white_share: float) -> str:
    """``colour`` (hex) mixed with white."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(c + (255 - c) * white_share) for c in rgb]
    return f"rgb({mixed[0]},{mixed[1]},{mixed[2]})"


def rgba(colour: str, alpha: float) -> str:
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha})"



# --- traces ---------------------------------------------------------------------------------------
def band(x, low, high, colour, name, yaxis="y") -> list:
    """A filled min-max band over seeds (two traces: upper edge, then lower edge filled to it)."""
    keep = np.isfinite(low) & np.isfinite(high)
    upper = go.Scatter(x=x[keep], y=high[keep], mode="lines", line=dict(width=0), hoverinfo="skip",
                       showlegend=False, legendgroup=name, yaxis=yaxis)
    lower = go.Scatter(x=x[keep], y=low[keep], mode="lines", line=dict(width=0), fill="tonexty",
                       fillcolor=rgba(colour, 0.18), hoverinfo="skip", showlegend=False, legendgroup=name,
                       yaxis=yaxis)
    return [upper, lower]


def scatter_points(x: np.ndarray, y: np.ndarray, prefix: str, hollow: bool, legend: bool,
            symbol: str | None = None, size: int = 5) -> list:
    """One scatter per class: filled (source) or hollow (target) markers in the class colour."""
    traces = []
    for k in np.unique(y):
        colour = class_colour(int(k))
        chosen = x[y == k]
        traces.append(go.Scatter(
            x=chosen[:, 0], y=chosen[:, 1], mode="markers", name=f"{prefix} · class {k}",
            legendgroup=f"{prefix}{k}", showlegend=legend, hoverinfo="skip", opacity=0.9,
            marker=dict(color=colour, size=size, symbol=symbol or ("circle-open" if hollow else "circle"),
                        line=dict(width=1.2 if hollow else 0.4, color=colour if hollow else "white"))))
    return traces


def surface_traces(probabilities: np.ndarray, surfaces: DecisionSurfaces, top: int | None = None) -> list:
    """p(class 1) as a heatmap plus its 0.5 contour (two classes); else the predicted class,
    paler where the model is less sure (heatmaps draw much faster than filled contours).

    With ``top`` the probabilities are integers from 0 to ``top`` (bytes: a quarter of the floats' weight in a
    replay's frames; the figure's colour axis must then run to ``top``), and hovering shows nothing. The heatmap
    is smoothed by the browser's image scaling (plotly's ``zsmooth="fast"``; "best" interpolates in JavaScript
    pixel by pixel, which made a page of eight panels, redrawn live, wait seconds in a browser)."""
    n_classes = probabilities.shape[-1]
    if n_classes == 2:
        p1 = probabilities[..., 1]
        hover = dict(hoverinfo="skip") if top else dict(
            hovertemplate="x0=%{x:.2f}<br>x1=%{y:.2f}<br>p(class 1)=%{z:.2f}<extra></extra>")
        fill = go.Heatmap(x=surfaces.xs, y=surfaces.ys, z=p1, coloraxis="coloraxis", zsmooth="fast", **hover)
        half = 0.5 * (top or 1.0)
        line = go.Contour(x=surfaces.xs, y=surfaces.ys, z=p1, showscale=False, hoverinfo="skip", showlegend=False,
                          contours=dict(start=half, end=half, size=1.0, coloring="none"),
                          line=dict(color="#333333", width=1.5))
        return [fill, line]
    if top:
        probabilities = probabilities.astype(np.float32) / top
    predicted = probabilities.argmax(axis=-1)
    confidence = probabilities.max(axis=-1)
    level = np.clip((confidence - 1.0 / n_classes) / (1.0 - 1.0 / n_classes), 0.0, 0.999)
    scale = []
    for k in range(n_classes):
        scale += [[k / n_classes, pale(class_colour(k), 0.95)],
                  [(k + 1) / n_classes - 1e-6, pale(class_colour(k), 0.6)]]
    scale[-1][0] = 1.0
    return [go.Heatmap(x=surfaces.xs, y=surfaces.ys, z=(predicted + level).astype(np.float32), zmin=0,
                       zmax=n_classes, colorscale=scale, showscale=False, showlegend=False,
                       customdata=predicted, hovertemplate="x0=%{x:.2f}<br>x1=%{y:.2f}<br>"
                       "predicted class %{customdata}<extra></extra>")]



def plane_axes(fig: go.Figure, n_panels: int, n_cols: int, x_range, y_range) -> None:
    """The same fixed, equal-scale input-plane axes in each of ``n_panels`` subplots laid out ``n_cols`` wide;
    axis titles on the outer panels only."""
    for i in range(n_panels):
        suffix = "" if i == 0 else str(i + 1)
        fig.layout[f"xaxis{suffix}"].update(range=x_range, constrain="domain", zeroline=False,
                                            title="x0" if i + n_cols >= n_panels else None)
        fig.layout[f"yaxis{suffix}"].update(range=y_range, constrain="domain", zeroline=False,
                                            scaleanchor=f"x{suffix}", scaleratio=1,
                                            title="x1" if i % n_cols == 0 else None)


# --- subplot grids --------------------------------------------------------------------------------
def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = max(1, min(max_cols, n))
    return math.ceil(n / cols), cols


def vertical_spacing(n_rows: int, height: int, gap_px: int, margins_px: int = 180) -> float:
    """make_subplots' vertical spacing (a share of the plot height) for a gap of ``gap_px`` pixels."""
    return 0.0 if n_rows == 1 else min(0.5 / (n_rows - 1), gap_px / max(1, height - margins_px))


def confusion_grid(matrices: dict[str, np.ndarray], classes: Sequence[int], unit: str, max_cols: int = 4
                   ) -> go.Figure:
    """One heatmap of target-test counts per panel (title -> ``[K, K]`` matrix, true rows), counts in the cells."""
    n_rows, n_cols = grid_shape(len(matrices), max_cols)
    many = len(classes) > MANY_CLASSES  # ten digits: bare numbers, taller panels, smaller counts
    names = [str(k) if many else f"class {k}" for k in classes]
    height = 100 + (360 if many else 300) * n_rows
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=list(matrices),
                        horizontal_spacing=0.07, vertical_spacing=vertical_spacing(n_rows, height, 90, 140))
    for i, matrix in enumerate(matrices.values()):
        row, col = divmod(i, n_cols)
        fig.add_trace(go.Heatmap(z=matrix, x=names, y=names, coloraxis="coloraxis", texttemplate="%{z}",
                                 textfont=dict(size=9) if many else None,
                                 hovertemplate=f"true %{{y}}<br>predicted %{{x}}<br>%{{z}} {unit}<extra></extra>"),
                      row=row + 1, col=col + 1)
        fig.update_xaxes(title_text="predicted class", row=row + 1, col=col + 1)
        fig.update_yaxes(title_text="true class" if col == 0 else None, autorange="reversed",
                         row=row + 1, col=col + 1)
    fig.update_layout(title="Confusion matrices on the target test set (counts summed over seeds)",
                      height=height, **BASE_LAYOUT)
    fig.update_layout(coloraxis=dict(colorscale="Blues", colorbar=dict(title=dict(text=unit), thickness=12)),
                      margin=dict(t=90))
    return fig



# --- numbers --------------------------------------------------------------------------------------
def mean_sd_percent(mean: float | None, sd: float | None) -> str:
    """``"75.1% ± 4.9"`` (mean in %, sd in points), or ``"—"`` without a mean."""
    return "—" if mean is None else f"{mean:.1%} ± {100 * (sd or 0.0):.1f}"
