"""Plotly builder for the Ben-David bound: its terms stacked, the bound on top, the measured error."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures import BASE_LAYOUT, CLASS_COLOURS
from core.labs.sweeps import BELOW_MEASURED_WHY, BoundPoint

TERM_STYLE = (  # attribute, legend name, colour
    ("source_error", "ε_S(h): source error", "#56B4E9"),
    ("divergence", "½·d_HΔH: from the proxy A-distance", "#E69F00"),
    ("ideal_joint_error", "λ*: ideal joint error (oracle)", "#CC79A7"),
)
BELOW_COLOUR = "#B00020"
LEGEND_LINE_PX = 17  # the height each extra line of a legend entry adds


def _band(x: list[float], low: np.ndarray, high: np.ndarray, colour: str, name: str) -> go.Scatter:
    return go.Scatter(x=x + x[::-1], y=list(high) + list(low[::-1]), fill="toself", mode="lines",
                      line=dict(width=0), fillcolor=colour, hoverinfo="skip", name=name, showlegend=False)


def _below_measured_trace(flagged: Sequence[BoundPoint]) -> go.Scatter:
    """A cross at each flagged point's mean measured error, labelled with its count of seeds below."""
    why = BELOW_MEASURED_WHY.replace(": ", ":<br>").replace("; ", ";<br>")
    return go.Scatter(x=[p.value for p in flagged], y=[p.mean("target_error") for p in flagged],
                      text=[p.seeds_below_share for p in flagged],
                      mode="markers+text", textposition="bottom center", textfont=dict(color=BELOW_COLOUR),
                      marker=dict(symbol="x", size=14, color=BELOW_COLOUR),
                      hovertemplate="bound below measured ε_T(h) in %{text}<extra></extra>",
                      name=f"✕ a seed's estimated bound below its own measured ε_T(h) (label: how many "
                           f"seeds);<br>{why}")


def bound_figure(points: Sequence[BoundPoint], knob_label: str, adapted_label: str | None = None) -> go.Figure:
    """Stacked areas of the bound's terms (means over seeds), the bound with its seed range, and the
    measured target error of source-only (and of an adapted model) with their seed ranges.

    Points where any seed's estimated bound falls below that seed's measured error are marked with
    the count of such seeds; the legend says why an estimate can fall below the true bound.
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
    flagged = [p for p in points if p.bound_below_measured]
    extra_legend_px = 0
    if flagged:
        fig.add_trace(_below_measured_trace(flagged))
        extra_legend_px = LEGEND_LINE_PX * fig.data[-1].name.count("<br>")
    fig.update_layout(title="The Ben-David bound, term by term", height=520 + extra_legend_px, hovermode="x unified",
                      **BASE_LAYOUT)
    fig.update_layout(legend=dict(orientation="v", y=-0.18, yanchor="top"), margin=dict(b=210 + extra_legend_px))
    fig.update_xaxes(title=knob_label)
    fig.update_yaxes(title="error (share of points)", rangemode="tozero")
    return fig
