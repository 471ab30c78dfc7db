"""Plotly builder of the Which method for which shift page: the matrix of kinds of shift × methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.figures import BASE_LAYOUT
from core.figures.parts import method_label
from core.labs.shift_matrix import CASES_BY_NAME, GAIN, LOSS, ShiftMatrix
from core.metrics.paired import ALPHA, format_p

MARKS = {GAIN: " ▲", LOSS: " ▼"}  # a significant gain or loss; nothing otherwise
DIVERGING = [[0.0, "#B2182B"], [0.5, "#F7F7F7"], [1.0, "#2166AC"]]  # red = worse than source only, blue = better


def matrix_figure(matrix: ShiftMatrix) -> go.Figure:
    """Rows: kinds of shift; columns: methods. Colour: the change of target accuracy against source only
    (percentage points); text: the accuracy and a mark where the paired test finds a gain (▲) or a loss (▼)."""
    rows = [CASES_BY_NAME[c].label for c in matrix.cases]
    columns = [method_label(m) for m in matrix.methods]
    delta = np.array([[np.nan if matrix.cells[c][m].delta is None else 100 * matrix.cells[c][m].delta
                       for m in matrix.methods] for c in matrix.cases])
    text = [[_cell_text(matrix, c, m) for m in matrix.methods] for c in matrix.cases]
    reach = max(1.0, float(np.nanmax(np.abs(delta))) if np.isfinite(delta).any() else 1.0)
    fig = go.Figure(go.Heatmap(
        z=delta, x=columns, y=rows, text=text, texttemplate="%{text}", textfont=dict(size=15),
        colorscale=DIVERGING, zmin=-reach, zmax=reach, xgap=2, ygap=2,
        colorbar=dict(title=dict(text="Δ vs source only (pts)", side="right"), thickness=14),
        hovertemplate="%{y}<br>%{x}: %{text}<br>Δ %{z:+.1f} pts<extra></extra>"))
    fig.update_layout(
        title=f"Target test accuracy per kind of shift and method (mean over {matrix.n_seeds} seeds)<br>"
              f"<sup>▲ / ▼ a gain / loss against source only that a paired test supports (p < {ALPHA:g})</sup>",
        height=160 + 70 * len(rows), **BASE_LAYOUT)
    fig.update_layout(margin=dict(l=20, r=20, t=100, b=120))
    fig.update_xaxes(title_text="method", tickangle=-30, side="bottom")
    fig.update_yaxes(title_text="kind of shift", autorange="reversed")
    return fig


def _cell_text(matrix: ShiftMatrix, case: str, method: str) -> str:
    cell = matrix.cells[case][method]
    if cell.accuracy is None:
        return "diverged"
    return f"{cell.accuracy:.0%}{MARKS.get(cell.verdict, '') if method != 'source_only' else ''}"


def matrix_frame(matrix: ShiftMatrix) -> pd.DataFrame:
    """One row per cell: the kind of shift, the method, the accuracy, the change, the verdict and its p-value."""
    rows = []
    for case in matrix.cases:
        for method in matrix.methods:
            cell = matrix.cells[case][method]
            baseline = method == "source_only"
            rows.append({
                "kind of shift": CASES_BY_NAME[case].label, "method": method_label(method),
                "target test acc.": None if cell.accuracy is None else round(100 * cell.accuracy, 1),
                "Δ vs source only (pts)": None if baseline or cell.delta is None else round(100 * cell.delta, 1),
                "paired test": "" if baseline else cell.verdict + ("" if cell.p_value is None
                                                                    else f" ({format_p(cell.p_value)})"),
                "seeds": cell.seeds,
            })
    return pd.DataFrame(rows)
