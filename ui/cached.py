"""Cached wrappers of core: small, hashable inputs (the Scenario), bounded caches."""

from __future__ import annotations

import streamlit as st

from core import domains, shift_report
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
    return domains.generate(scenario).to_frame().to_csv(index=False).encode()
