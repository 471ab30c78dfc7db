"""Plotly builder for the Ben-David bound: its terms stacked, the bound on top, the measured error."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures import BASE_LAYOUT, CLASS_COLOURS
from core.labs.sweeps import BoundPoint

TERM_STYLE = (  # attribute, legend name, colour
    ("source_error", "ε_S(h): source error", "#56B4E9"),
    ("divergence", "½·d_HΔH: from the proxy A-distance", "#E69F00"),
    ("ideal_joint_error", "λ*: ideal joint error (oracle)", "#CC79A7"),
)


def _band(x: list[float], low: np.ndarray, high: np.ndarray, colour: str, name: str) -> go.Scatter:
    return go.Scatter(x=x + x[::-1], y=list(high) + list(low[::-1]), fill="toself", mode="lines",
                      line=dict(width=0), fillcolor=colour, hoverinfo="skip", name=name, showlegend=False)


def bound_figure(points: Sequence[BoundPoint], knob_label: str, adapted_label: str | None = None) -> go.Figure:
    """Stacked areas of the bound's terms (means over seeds), the bound with its seed range, and the
    measured target error of source-only (and of an adapted model) with their seed ranges.

    Points where the estimated bound falls below the measured error are marked: the terms are
    estimates, and their noise can put the sum under the truth.
    """
    x = [p.value for p in points]
    fig = go.Figure()
    for attribute, name, colour in TERM_STYLE:
        fig.add_trace(go.Scatter(x=x, y=[p.mean(attribute) for p in points], name=name, mode="lines",
                                 stackgroup="terms", line=dict(width=0.5, color=colour), fillcolor=colour))
    bound = [p.mean("bound") for p in points]
    fig.add_trace(_band(x, np.array([min(p.bound) for p in points]), np.array([max(p.bound) for p in points]),
                        "rgba(0,0,0,0.10)", "bound range"))
    fig.add_trace(go.Scatter(x=x, y=bound, name="bound ε_S + ½d + λ* (mean; band: seed range)", mode="lines+markers",
                             line=dict(color="#000000", width=2.5)))
    measured = [("target_error", "measured ε_T(h), source-only", CLASS_COLOURS[1], "rgba(213,94,0,0.15)")]
    if adapted_label and points and points[0].adapted_target_error is not None:
        measured.append(("adapted_target_error", f"measured ε_T, {adapted_label}", CLASS_COLOURS[2],
                         "rgba(0,158,115,0.15)"))
    for attribute, name, colour, band in measured:
        values = [np.array(getattr(p, attribute)) for p in points]
        fig.add_trace(_band(x, np.array([v.min() for v in values]), np.array([v.max() for v in values]), band, name))
        fig.add_trace(go.Scatter(x=x, y=[v.mean() for v in values], name=name + " (band: seed range)",
                                 mode="lines+markers", line=dict(color=colour, width=2.5, dash="dot")))
    below = [i for i, p in enumerate(points) if p.bound_below_measured]
    if below:
        fig.add_trace(go.Scatter(x=[x[i] for i in below], y=[points[i].mean("target_error") for i in below],
                                 mode="markers", marker=dict(symbol="x", size=14, color="#B00020"),
                                 name="estimated bound below the measured error (estimation noise)"))
    fig.update_layout(title="The Ben-David bound, term by term", height=520, hovermode="x unified", **BASE_LAYOUT)
    fig.update_layout(legend=dict(orientation="v", y=-0.18, yanchor="top"), margin=dict(b=210))
    fig.update_xaxes(title=knob_label)
    fig.update_yaxes(title="error (share of points)", rangemode="tozero")
    return fig
