"""Plotly builders of the Distillation page: a :class:`~core.labs.distillation.DistillRun` in, figures out.

Conventions as in :mod:`core.figures`: target accuracy orange, source accuracy grey; means over
seeds with their spread (sd as error bars, min-max as bands).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.figures import BASE_LAYOUT, SOURCE_GREY, TARGET_COLOUR
from core.figures.parts import band
from core.labs.distillation import DistillRun

ROLE_NAMES = {"teacher": "Teacher", "student_soft": "Student from soft targets",
              "student_hard": "Student from hard labels"}
ROLE_COLOURS = {"teacher": "#000000", "student_soft": "#0072B2", "student_hard": "#E69F00"}
# What each setting of the students' own labelled data is called (core.labs.distillation.STUDENT_LABELS)
LABEL_NAMES = {"target": "the few target labels only", "all": "the target labels and the labelled source"}
LABEL_SHORT = {"target": "target labels", "all": "+ source"}
BAR_MEMBERS = (("teacher", None), ("student_soft", "target"), ("student_hard", "target"), ("student_soft", "all"),
               ("student_hard", "all"))  # the bars, left to right: the headline setting, then the contrast
METRIC_NAMES = {"target_acc": "target test accuracy", "source_acc": "source accuracy"}


def role_label(run: DistillRun, role: str, labels: str | None = None) -> str:
    """A short name for a bar: the role, the students' labelled data (:data:`LABEL_SHORT`), and the teacher's
    parameter count (the students' is in the axis title)."""
    if role == "teacher":
        return f"Teacher<br>{run.teacher_parameters:,} parameters"
    kind = "Soft-target" if role == "student_soft" else "Hard-label"
    return f"{kind}<br>student<br>({LABEL_SHORT[labels]})"


def distillation_bars(run: DistillRun) -> go.Figure:
    """The teacher, the two students with the target labels only, then the two with the labelled source too:
    mean target test and source accuracy over seeds, sd as error bars."""
    names = [role_label(run, role, labels) for role, labels in BAR_MEMBERS]
    fig = go.Figure()
    for metric, colour in (("target_acc", TARGET_COLOUR), ("source_acc", SOURCE_GREY)):
        stats = [run.statistics(role, metric, labels=labels or "target") for role, labels in BAR_MEMBERS]
        fig.add_trace(go.Bar(
            x=names, y=[s.mean for s in stats], name=METRIC_NAMES[metric], marker_color=colour,
            error_y=dict(type="data", array=[s.sd for s in stats], color="#333333", thickness=1.5, width=6),
            text=[s.text().split(" ± ")[0] for s in stats], textposition="inside", insidetextanchor="middle",
            textangle=-90, textfont=dict(color="#FFFFFF", size=12), customdata=[[s.text(), s.seeds] for s in stats],
            hovertemplate="%{x}<br>" + METRIC_NAMES[metric] + ": %{customdata[0]} (%{customdata[1]} seeds)"
                          "<extra></extra>"))
    fig.add_vline(x=2.5, line=dict(color="#777777", width=1.5, dash="dot"))
    seeds = f"{run.n_seeds} seeds" if run.n_seeds > 1 else "1 seed"
    fig.update_layout(
        title=f"Teacher and students (T = {run.settings.temperature:g}, α = {run.settings.alpha:g}): "
              f"mean ± sd over {seeds}", barmode="group", height=480,
        yaxis=dict(title="accuracy", tickformat=".0%", range=[0, 1.08]),
        xaxis=dict(title=f"network (each student: {run.student_parameters:,} parameters)", tickangle=0),
        **{**BASE_LAYOUT, "margin": dict(l=60, r=20, t=90, b=130)})
    return fig


def temperature_figure(run: DistillRun) -> go.Figure:
    """Target test accuracy of the student from soft targets against the temperature (log-2 axis, min-max
    band over seeds), the teacher and the student from hard labels as horizontal lines, the chosen T starred."""
    temperatures = np.array(run.temperatures)
    values = [run.accuracies("student_soft", t) for t in temperatures]
    mean = np.array([v.mean() if len(v) else np.nan for v in values])
    low = np.array([v.min() if len(v) else np.nan for v in values])
    high = np.array([v.max() if len(v) else np.nan for v in values])
    soft = ROLE_NAMES["student_soft"]
    fig = go.Figure()
    if run.n_seeds > 1:
        fig.add_traces(band(temperatures, low, high, ROLE_COLOURS["student_soft"], soft))
    fig.add_trace(go.Scatter(
        x=temperatures, y=mean, mode="lines+markers", name=soft, legendgroup=soft,
        line=dict(color=ROLE_COLOURS["student_soft"], width=2.5), customdata=np.column_stack([low, high]),
        hovertemplate="T = %{x:g}: %{y:.1%}<br>min-max over seeds: %{customdata[0]:.1%} – %{customdata[1]:.1%}"
                      "<extra></extra>"))
    ends = [temperatures.min(), temperatures.max()]
    for role, dash in (("teacher", "dash"), ("student_hard", "dot")):
        stats = run.statistics(role)
        if stats.mean is None:
            continue
        fig.add_trace(go.Scatter(
            x=ends, y=[stats.mean] * 2, mode="lines", name=f"{ROLE_NAMES[role]}: {stats.text()}",
            line=dict(color=ROLE_COLOURS[role], width=2, dash=dash),
            hovertemplate=f"{ROLE_NAMES[role]}: {stats.text()}<extra></extra>"))
    chosen = run.settings.temperature
    at = mean[np.flatnonzero(temperatures == chosen)[0]]
    fig.add_trace(go.Scatter(
        x=[chosen], y=[at], mode="markers", name=f"chosen T = {chosen:g}",
        marker=dict(symbol="star", size=17, color="#F0E442", line=dict(color="#000000", width=1)),
        hovertemplate=f"chosen T = {chosen:g}: %{{y:.1%}}<extra></extra>"))
    logs = np.log10(temperatures)
    pad = 0.05 * max(logs.max() - logs.min(), 1.0)
    shown = np.array([y for trace in fig.data for y in trace.y if y is not None], dtype=float)
    shown = shown[np.isfinite(shown)]
    bottom, top = (shown.min(), shown.max()) if shown.size else (0.0, 1.0)
    margin = 0.06 * max(top - bottom, 0.02)
    fig.update_layout(
        title="Soft-target student against the temperature T", height=460,
        xaxis=dict(type="log", title="temperature T (log₂ scale)", tickvals=temperatures.tolist(),
                   ticktext=[f"{t:g}" for t in temperatures], range=[logs.min() - pad, logs.max() + pad]),
        yaxis=dict(title="target test accuracy", tickformat=".0%", range=[bottom - margin, top + margin]),
        hovermode="closest",
        **{**BASE_LAYOUT, "legend": dict(orientation="h", x=0.0, y=-0.18, yanchor="top"),
           "margin": dict(l=60, r=20, t=60, b=120)})
    return fig
