"""Cached wrappers of core: small, hashable inputs (the Scenario), bounded caches.

Results are cached with ``st.cache_data`` (each session gets its own copy). Figures are built
from those results and cached with ``st.cache_resource``: they are shared and never mutated,
and building a plotly figure costs more than the rest of a cached rerun together.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core import domains, figures, shift_report
from core.scenario import Scenario


@st.cache_data(max_entries=64, show_spinner=False)
def generate(scenario: Scenario) -> domains.DomainData:
    """The scenario's domains."""
    return domains.generate(scenario)


@st.cache_data(max_entries=64, show_spinner="Computing divergences…")
def report(scenario: Scenario) -> shift_report.ShiftReport:
    """Every divergence of the scenario (same numbers as ``python -m core shift``)."""
    return shift_report.shift_report(scenario)


@st.cache_data(max_entries=32, show_spinner="Sweeping the knob…")
def divergence_sweep(scenario: Scenario, knob: str, n_points: int) -> list[dict[str, float]]:
    """MMD² and proxy A-distance along one knob."""
    return shift_report.divergence_sweep(scenario, knob, n_points=n_points)


@st.cache_data(max_entries=16, show_spinner=False)
def points_csv(scenario: Scenario) -> bytes:
    """The scenario's points as CSV (same table as ``python -m core export``)."""
    return generate(scenario).to_frame().to_csv(index=False).encode()


@st.cache_resource(max_entries=64, show_spinner=False)
def domain_figures(scenario: Scenario) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Scatter of the domains, class proportions and the feature map (read-only, shared)."""
    data = generate(scenario)
    return (figures.domain_scatter(data), figures.class_proportions_figure(data),
            figures.feature_map_figure(scenario))


@st.cache_resource(max_entries=32, show_spinner=False)
def sweep_figure(scenario: Scenario, knob: str, n_points: int) -> go.Figure:
    """The divergence-growth chart (read-only, shared)."""
    points = divergence_sweep(scenario, knob, n_points)
    return figures.divergence_sweep_figure(points, knob, getattr(scenario, knob))
