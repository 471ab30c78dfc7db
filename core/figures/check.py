"""Plotly figures of the transferability check: the feature ranking, the PCA view, the label proportions."""

from __future__ import annotations

import plotly.graph_objects as go

from core.figures import BASE_LAYOUT, SOURCE_GREY, TARGET_COLOUR
from core.labs.check import CheckReport, PcaView

RANKING_SHOWN = 20


def ranking_figure(report: CheckReport, shown: int = RANKING_SHOWN) -> go.Figure:
    """Kolmogorov-Smirnov statistic of the most shifted features (bars, largest on top), the standardised mean
    difference in the hover and as the bar colour's sign."""
    rows = report.ranking[:shown][::-1]
    fig = go.Figure(go.Bar(
        x=[r.ks_statistic for r in rows], y=[r.feature for r in rows], orientation="h",
        marker_color=[TARGET_COLOUR if r.standardised_mean_difference >= 0 else SOURCE_GREY for r in rows],
        customdata=[[r.standardised_mean_difference, r.ks_pvalue] for r in rows],
        hovertemplate="%{y}<br>KS %{x:.3f} (p %{customdata[1]:.2g})<br>standardised mean difference "
                      "%{customdata[0]:+.2f}<extra></extra>"))
    fig.update_layout(**BASE_LAYOUT, height=120 + 24 * len(rows),
                      title=f"Most shifted features ({len(rows)} of {len(report.ranking)}): Kolmogorov-Smirnov "
                            "statistic<br><sup>orange: the target mean is higher; grey: lower</sup>")
    fig.update_xaxes(title_text="KS statistic (0: same distribution, 1: no overlap)", range=[0, 1])
    fig.update_yaxes(automargin=True)
    return fig


def pca_figure(view: PcaView) -> go.Figure:
    """Source (filled) and target (hollow) rows in the first two principal components."""
    fig = go.Figure()
    for points, name, colour, symbol in ((view.source, "source", SOURCE_GREY, "circle"),
                                         (view.target, "target", TARGET_COLOUR, "circle-open")):
        fig.add_trace(go.Scattergl(x=points[:, 0], y=points[:, 1], mode="markers", name=f"{name} ({len(points)} rows)",
                                   marker=dict(color=colour, symbol=symbol, size=6, opacity=0.7), hoverinfo="skip"))
    fig.update_layout(**BASE_LAYOUT, height=460, title="Both tables in their first two principal components")
    fig.update_xaxes(title_text=f"PC 1 ({view.explained[0]:.0%} of variance)")
    fig.update_yaxes(title_text=f"PC 2 ({view.explained[1]:.0%})")
    return fig


def labels_figure(report: CheckReport) -> go.Figure:
    """Label proportions of source and target side by side."""
    fig = go.Figure()
    for shares, name, colour in ((report.source_labels, "source", SOURCE_GREY),
                                 (report.target_labels, "target", TARGET_COLOUR)):
        if shares is not None:
            fig.add_trace(go.Bar(x=list(shares), y=list(shares.values()), name=name, marker_color=colour,
                                 hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>"))
    fig.update_layout(**BASE_LAYOUT, barmode="group", height=360, title="Label proportions")
    fig.update_xaxes(title_text="class", type="category")
    fig.update_yaxes(title_text="share of the rows", tickformat=".0%")
    return fig
