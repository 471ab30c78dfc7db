"""Cached wrappers of core: small, hashable inputs (the Scenario), bounded caches.

Results are cached with ``st.cache_data`` (each session gets its own copy). Figures are built
from those results and cached with ``st.cache_resource``: they are shared and never mutated,
and building a plotly figure costs more than the rest of a cached rerun together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import adaptation, adaptation_figures, domains, embedding, figures, shift_report
from core.adaptation import AdaptationRun
from core.scenario import Scenario
from core.train import TrainSettings


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


# --- the Adaptation page ------------------------------------------------------------------
# Keys are (scenario, methods, n_seeds, settings): all small and hashable. Builders that need
# the trained models take them as ``_run`` (not hashed: the key already names the run).


@st.cache_data(max_entries=16, show_spinner=False)
def adaptation_run(scenario: Scenario, methods: tuple[str, ...], n_seeds: int,
                   settings: TrainSettings) -> AdaptationRun:
    """Train and score ``methods`` × ``n_seeds`` models, with a progress bar while training.

    The bar is created inside this function on purpose: a progress callback that updates a
    block made outside a cached function makes st.cache_data's replay fail on every cache hit
    (CacheReplayClosureError). Made here, the hit replays the bar's updates and its removal,
    so nothing stale is left. Each update is also where Streamlit can stop a run that a newer
    widget change made obsolete, so rapid slider moves do not pile up training.
    """
    total = len(methods) * n_seeds
    bar = st.progress(0.0, text=f"Training {total} models ({len(methods)} methods × {n_seeds} seeds)…")
    try:
        return adaptation.run_adaptation(
            scenario, methods, n_seeds, settings, data=generate(scenario),
            progress=lambda fraction: bar.progress(min(1.0, fraction), text=f"Training {total} models: "
                                                   f"step {round(fraction * settings.steps)} of {settings.steps}"))
    finally:
        bar.empty()


@dataclass(frozen=True)
class AdaptationViews:
    """Everything the Adaptation page draws from one run (read-only, shared)."""

    table: object  # pandas Styler of the results
    boundaries: go.Figure | None  # None when the inputs are not 2-D
    curves: go.Figure
    confusion: go.Figure
    rows_csv: bytes
    run_json: bytes


@st.cache_resource(max_entries=16, show_spinner="Drawing the results…")
def adaptation_views(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: TrainSettings,
                     _run: AdaptationRun) -> AdaptationViews:
    """The results table, figures and downloads of a run (read-only, shared)."""
    data = generate(scenario)
    boundaries = None
    if data.n_features == 2:
        boundaries = adaptation_figures.decision_boundary_figure(_run, data, embedding.decision_surfaces(_run, data))
    return AdaptationViews(
        table=adaptation_figures.results_table(_run),
        boundaries=boundaries,
        curves=adaptation_figures.training_curves_figure(_run),
        confusion=adaptation_figures.confusion_figure(_run),
        rows_csv=pd.DataFrame(_run.rows).to_csv(index=False).encode(),
        run_json=json.dumps(_run.to_json(), indent=2).encode(),
    )


@st.cache_data(max_entries=32, show_spinner=False)
def feature_embedding(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: TrainSettings,
                      shown: tuple[str, ...], projection: str, _run: AdaptationRun) -> embedding.FeatureEmbedding:
    """2-D embedding of the feature layer of the ``shown`` methods' first healthy seeds."""
    return embedding.feature_embedding(_run, generate(scenario), shown, projection)


@st.cache_resource(max_entries=32, show_spinner="Embedding the features…")
def embedding_figure(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: TrainSettings,
                     shown: tuple[str, ...], projection: str, _run: AdaptationRun) -> go.Figure:
    """The features-before-and-after chart (read-only, shared)."""
    return adaptation_figures.embedding_figure(
        feature_embedding(scenario, methods, n_seeds, settings, shown, projection, _run))
