"""Plotly figures of image domains: galleries of digits as one picture each (a mosaic of tiles).

A gallery is one ``go.Image`` of a mosaic rather than a grid of subplots: one trace however many
tiles, crisp pixels, and the class of each row as a tick label. No streamlit, no metrics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.data.domains import DomainData
from core.data.images import IMAGE_SIZE, as_pictures
from core.figures import BASE_LAYOUT, SOURCE_GREY, TARGET_COLOUR, class_colour
from core.figures.parts import confusion_grid, mean_sd_percent
from core.formatting import signed
from core.labs.image_lab import ImageLabRun

GAP = 2  # pixels between tiles
SEPARATOR = 6  # pixels between the source and the target block
BORDER_GREY = 0.85  # intensity of the gaps
TILE_PIXELS = 3  # screen pixels per image pixel
GALLERY_PER_CLASS = 6


def mosaic(rows: list[list[np.ndarray | None]], separator_after: int | None = None, row_gap: int = GAP
           ) -> np.ndarray:
    """Tiles ``[16, 16, 3]`` (``None``: an empty tile) laid out in rows, as one ``[H, W, 3]`` uint8 picture;
    a wider gap after column ``separator_after`` splits two blocks; ``row_gap`` pixels above each row."""
    n_cols = max(len(r) for r in rows)
    extra = SEPARATOR - GAP if separator_after is not None else 0
    step = IMAGE_SIZE + GAP
    canvas = np.full((len(rows) * (IMAGE_SIZE + row_gap) + GAP, n_cols * step + GAP + extra, 3), BORDER_GREY)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            if tile is None:
                continue
            left = GAP + c * step + (extra if separator_after is not None and c > separator_after else 0)
            top = row_gap + r * (IMAGE_SIZE + row_gap)
            canvas[top:top + IMAGE_SIZE, left:left + IMAGE_SIZE] = tile
    return (canvas * 255).round().astype(np.uint8)


def picture_figure(picture: np.ndarray, title: str, row_labels: list[str], row_title: str, row_gap: int = GAP
                   ) -> go.Figure:
    """A mosaic shown at :data:`TILE_PIXELS` screen pixels per pixel, rows labelled on the left."""
    height, width = picture.shape[:2]
    fig = go.Figure(go.Image(z=picture, hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    centres = [row_gap + r * (IMAGE_SIZE + row_gap) + IMAGE_SIZE / 2 for r in range(len(row_labels))]
    fig.update_yaxes(tickvals=centres, ticktext=row_labels, title_text=row_title,
                     showgrid=False, zeroline=False)
    margin = dict(l=70, r=10, t=70, b=10)
    fig.update_layout(**{**BASE_LAYOUT, "margin": margin}, title=title,
                      width=width * TILE_PIXELS + margin["l"] + margin["r"],
                      height=height * TILE_PIXELS + margin["t"] + margin["b"])
    return fig


def _first_per_class(x: np.ndarray, y: np.ndarray, k: int, n: int) -> list[np.ndarray | None]:
    tiles = [tile for tile in as_pictures(x[np.flatnonzero(y == k)[:n]])]
    return tiles + [None] * (n - len(tiles))


def gallery_figure(data: DomainData, per_class: int = GALLERY_PER_CLASS) -> go.Figure:
    """Source (left block) and target test images (right block), ``per_class`` of each class per row."""
    classes = sorted(set(data.source_classes) | set(data.target_classes))
    rows = [_first_per_class(data.source_x, data.source_y, k, per_class)
            + _first_per_class(data.target_test_x, data.target_test_y, k, per_class) for k in classes]
    fig = picture_figure(mosaic(rows, separator_after=per_class - 1),
                         f"Source (left {per_class} columns) and target (right {per_class}) digits, by class",
                         [str(k) for k in classes], "true class")
    return fig


# --- results of the image lab ---------------------------------------------------------------------
MISCLASSIFIED_COLUMNS = 12
LABEL_GAP = 9  # pixels above each misclassified tile for its "true → predicted" label


def accuracy_figure(run: ImageLabRun) -> go.Figure:
    """Mean target test accuracy per method (bars) with each seed (dots) and source-only's mean (a line)."""
    summary = run.summary()
    labels = [row["label"] for row in summary]
    means = [row["target_acc_mean"] for row in summary]
    fig = go.Figure(go.Bar(x=labels, y=means, name="target test, mean", marker_color=TARGET_COLOUR, opacity=0.8,
                           hovertemplate="%{x}<br>mean %{y:.1%}<extra></extra>"))
    for i, label in enumerate(labels):
        healthy = ~run.diverged[i]
        fig.add_trace(go.Scatter(x=[label] * int(healthy.sum()), y=run.target_acc[i, healthy], mode="markers",
                                 marker=dict(color="black", size=7), name="one seed", showlegend=i == 0,
                                 hovertemplate="%{x}<br>one seed: %{y:.1%}<extra></extra>"))
    if "source_only" in run.methods:
        baseline = summary[run.index("source_only")]["target_acc_mean"]
        fig.add_trace(go.Scatter(x=[labels[0], labels[-1]], y=[baseline, baseline], mode="lines",
                                 line=dict(color=SOURCE_GREY, dash="dot"), name=f"source only: {baseline:.1%}",
                                 hoverinfo="skip"))
    fig.update_layout(**BASE_LAYOUT, height=420,
                      title=f"Target test accuracy per method (bars: mean of {run.n_seeds} seed(s); dots: each seed)")
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    fig.update_yaxes(title_text="target test accuracy", range=[0, 1.05], tickformat=".0%")
    return fig


def per_class_figure(run: ImageLabRun, test_y: np.ndarray) -> go.Figure:
    """Target test accuracy of every digit class, one bar per method (pooled over seeds)."""
    fig = go.Figure()
    for i, method in enumerate(run.methods):
        fig.add_trace(go.Bar(x=[str(k) for k in run.classes], y=run.per_class_accuracy(method, test_y),
                             name=run.label(method), marker_color=class_colour(i),  # the palette, one colour per method
                             hovertemplate="class %{x}<br>%{y:.1%}<extra>" + run.label(method) + "</extra>"))
    fig.update_layout(**BASE_LAYOUT, barmode="group", height=420,
                      title="Accuracy per class on the target test set (pooled over seeds)")
    fig.update_layout(legend=dict(orientation="h", y=-0.18, yanchor="top"), margin=dict(t=60, b=90))
    fig.update_xaxes(title_text="true class")
    fig.update_yaxes(title_text="accuracy", range=[0, 1.05], tickformat=".0%")
    return fig


def misclassified_figure(run: ImageLabRun, data: DomainData, method: str,
                         per_class: int = MISCLASSIFIED_COLUMNS) -> go.Figure:
    """The target test images that the method's first healthy seed gets wrong: one row per true class
    (up to ``per_class`` images), each image's predicted class above it."""
    wrong = run.misclassified(method, data.target_test_y)
    seeds = run.healthy_seeds(method)
    true = data.target_test_y[wrong]
    classes = [k for k in run.classes if (true == k).any()]
    chosen = [wrong[true == k][:per_class] for k in classes]
    rows = [list(as_pictures(data.target_test_x[members])) for members in chosen] or [[None]]
    title = (f"{run.label(method)}: {len(wrong)} of {len(data.target_test_y)} target test images wrong<br>"
             f"<sup>seed {seeds[0] if seeds else '–'}; a row per true class (up to {per_class} images), the "
             "predicted class above each</sup>")
    fig = picture_figure(mosaic(rows, row_gap=LABEL_GAP), title, [str(k) for k in classes] or [""], "true class",
                         row_gap=LABEL_GAP)
    predicted = run.predictions[run.index(method), seeds[0]] if seeds else None
    for r, members in enumerate(chosen):
        for c, index in enumerate(members):
            fig.add_annotation(x=GAP + c * (IMAGE_SIZE + GAP) + IMAGE_SIZE / 2,
                               y=LABEL_GAP + r * (IMAGE_SIZE + LABEL_GAP), text=f"→ {predicted[index]}",
                               showarrow=False, yanchor="bottom", font=dict(size=11))
    return fig


def confusion_figure(run: ImageLabRun, test_y: np.ndarray) -> go.Figure:
    """One 10 × 10 heatmap of target test counts per method, summed over the seeds that trained."""
    return confusion_grid({run.label(m): run.confusion(m, test_y) for m in run.methods}, run.classes, "images",
                          max_cols=3)


def summary_frame(run: ImageLabRun) -> pd.DataFrame:
    """One row per method: accuracies (mean ± sd over seeds), Δ in points against source only, seeds diverged."""
    rows = []
    for row in run.summary():
        delta = row["delta_vs_source_only"]
        rows.append({"method": row["label"],
                     "target accuracy": mean_sd_percent(row["target_acc_mean"], row["target_acc_sd"]),
                     "Δ vs source only": "—" if delta is None else f"{signed(delta * 100)} pts",
                     "source accuracy": mean_sd_percent(row["source_acc_mean"], row["source_acc_sd"]),
                     "seeds diverged": row["seeds_diverged"]})
    return pd.DataFrame(rows)
