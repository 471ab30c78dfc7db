"""Cached wrappers of core: small, hashable inputs (the Scenario), bounded caches.

Results are cached with ``st.cache_data`` (each session gets its own copy); the trained runs
also go through the result store on disk (:func:`core.talk.scene_runs.stored_run`), which
``python -m core warm`` fills before a talk. Figures are built
from those results and cached with ``st.cache_resource``: they are shared and never mutated,
and building a plotly figure costs more than the rest of a cached rerun together.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import figures
from core.data import domains
from core.figures import adaptation as adaptation_figures
from core.figures import bound as bound_figures
from core.figures import images as image_figures
from core.figures import replay as replay_views
from core.labs import embedding, sweeps
from core.labs.adaptation import AdaptationRun
from core.metrics import shift_report
from core.scenario import KNOBS_BY_NAME, Scenario
from core.talk.scene_runs import ADAPTATION, BOUND, DIVERGENCE_SWEEP, LAMBDA_SWEEP, SHIFT_REPORT, stored_run
from core.training.methods import METHODS_BY_NAME
from core.training.train import TrainedModels, TrainSettings
from ui.live import LiveTraining


@contextlib.contextmanager
def progress_bar(text: str, steps: int | None = None) -> Iterator[Callable[[float], None]]:
    """A progress bar made and removed inside a cached function; yields its update callback.

    Made outside, a bar that a cached function updates makes st.cache_data's replay fail on
    every cache hit (CacheReplayClosureError); made here, a hit replays the bar's updates and
    its removal, so nothing stale is left. Each update is also where Streamlit can stop a run
    that a newer widget change made obsolete, so rapid slider moves do not pile up training.
    With ``steps``, the text counts training steps; otherwise it gives the share done.
    """
    bar = st.progress(0.0, text=text)

    def update(fraction: float) -> None:
        done = f"step {round(fraction * steps)} of {steps}" if steps else f"{fraction:.0%} done"
        bar.progress(min(1.0, fraction), text=f"{text} {done}")

    try:
        yield update
    finally:
        bar.empty()


@st.cache_data(max_entries=64, show_spinner=False)
def generate(scenario: Scenario) -> domains.DomainData:
    """The scenario's domains."""
    return domains.generate(scenario)


@st.cache_data(max_entries=64, show_spinner="Computing divergences…")
def report(scenario: Scenario) -> shift_report.ShiftReport:
    """Every divergence of the scenario (same numbers as ``python -m core shift``)."""
    return stored_run(SHIFT_REPORT, (scenario,))


@st.cache_data(max_entries=32, show_spinner="Sweeping the knob…")
def divergence_sweep(scenario: Scenario, knob: str, n_points: int) -> list[dict[str, float]]:
    """MMD² and proxy A-distance along one knob (call it with :func:`~core.metrics.shift_report.sweep_base`'s
    scenario, so that moving the swept knob is a cache hit)."""
    return stored_run(DIVERGENCE_SWEEP, (scenario, knob, n_points))


def points_csv(scenario: Scenario) -> Callable[[], bytes]:
    """The scenario's points as CSV (same table as ``python -m core export``), made only when the
    download button is clicked (for ``st.download_button``): digits' 768 pixel columns make about
    16 MB in about 2 s."""
    return functools.partial(_points_csv, scenario)


def _points_csv(scenario: Scenario) -> bytes:
    return domains.generate(scenario).to_frame().to_csv(index=False).encode()


@st.cache_resource(max_entries=64, show_spinner=False)
def domain_figures(scenario: Scenario) -> tuple[go.Figure, go.Figure, go.Figure | None]:
    """The domains (a scatter of the points; digits: a gallery of images), the class proportions and
    the feature map (``None`` for digits: it maps 2-D points) (read-only, shared)."""
    data = generate(scenario)
    if scenario.is_image:
        return image_figures.gallery_figure(data), figures.class_proportions_figure(data), None
    return (figures.domain_scatter(data), figures.class_proportions_figure(data),
            figures.feature_map_figure(scenario))


@st.cache_resource(max_entries=32, show_spinner=False)
def sweep_figure(scenario: Scenario, knob: str, n_points: int) -> go.Figure:
    """The divergence-growth chart (read-only, shared), its marker at the scenario's value of ``knob``."""
    points = divergence_sweep(shift_report.sweep_base(scenario, knob), knob, n_points)
    return figures.divergence_sweep_figure(points, knob, getattr(scenario, knob))


# --- the Ben-David bound page -------------------------------------------------------------


@st.cache_data(max_entries=16, show_spinner=False)
def bound_sweep(scenario: Scenario, knob: str, values: tuple[float, ...], n_seeds: int,
                adapted: str | None) -> list[sweeps.BoundPoint]:
    """The bound's terms along ``knob``, with a progress bar."""
    with progress_bar(f"Estimating the bound at {len(values)} values of {knob}:") as update:
        return stored_run(BOUND, (scenario, knob, values, n_seeds, adapted), progress=update)


@st.cache_resource(max_entries=16, show_spinner=False)
def bound_figure(scenario: Scenario, knob: str, values: tuple[float, ...], n_seeds: int,
                 adapted: str | None) -> go.Figure:
    """The bound chart (read-only, shared)."""
    points = bound_sweep(scenario, knob, values, n_seeds, adapted)
    adapted_label = METHODS_BY_NAME[adapted].label if adapted else None
    return bound_figures.bound_figure(points, KNOBS_BY_NAME[knob].label, adapted_label)


# --- the Adaptation page ------------------------------------------------------------------
# Keys are (scenario, methods, n_seeds, settings): all small and hashable. Builders that need
# the trained models take them as ``_run`` (not hashed: the key already names the run).


@st.cache_data(max_entries=16, show_spinner=False)
def adaptation_run(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: TrainSettings,
                   _live: LiveTraining) -> AdaptationRun:
    """Train and score ``methods`` × ``n_seeds`` models, drawing the run live in ``_live`` (:mod:`ui.live`;
    nothing is drawn on a cache hit, nor when the result store has the run)."""
    try:
        return stored_run(ADAPTATION, (scenario, methods, n_seeds, settings), on_frame=_live)
    finally:
        _live.clear()


@dataclass(frozen=True)
class AdaptationViews:
    """Everything the Adaptation page draws from one run (read-only, shared)."""

    table: object  # pandas Styler of the results
    boundaries: go.Figure | None  # None when the inputs are not 2-D
    curves: go.Figure
    confusion: go.Figure
    rows_csv: bytes
    run_json: bytes


@st.cache_resource(max_entries=32, show_spinner="Drawing the decision boundaries…")
def boundary_figure(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: TrainSettings,
                    seed: int | None, _run: AdaptationRun) -> go.Figure:
    """The decision-boundary panels of one seed of every method (``None``: each method's median seed)."""
    data = generate(scenario)
    surfaces = embedding.decision_surfaces(_run, data, seed=seed)
    return adaptation_figures.decision_boundary_figure(_run, data, surfaces, median=seed is None)


@st.cache_resource(max_entries=16, show_spinner="Drawing the results…")
def adaptation_views(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: TrainSettings,
                     _run: AdaptationRun) -> AdaptationViews:
    """The results table, figures and downloads of a run (read-only, shared)."""
    data = generate(scenario)
    return AdaptationViews(
        table=adaptation_figures.results_table(_run),
        boundaries=boundary_figure(scenario, methods, n_seeds, settings, None, _run) if data.n_features == 2 else None,
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


@st.cache_resource(max_entries=32, show_spinner="Drawing the replay…")
def replay_figures(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: TrainSettings,
                   shown: tuple[str, ...], _run: AdaptationRun) -> tuple[go.Figure | None, go.Figure]:
    """The run's replay of ``shown`` methods: decision boundaries (``None`` without 2-D inputs) and features."""
    data = generate(scenario)
    boundaries = replay_views.boundary_replay_figure(_run.replay, data, shown) if data.n_features == 2 \
        else None
    return boundaries, replay_views.feature_replay_figure(_run.replay, shown)


# --- the MMD-vs-lambda page ---------------------------------------------------------------
# Keys are (scenario, method, lambdas, n_seeds, settings). One cached call trains the whole
# grid as one batch and keeps the models, so the boundary animation never trains again.

from core.figures import sweeps as sweep_figures  # noqa: E402
from core.labs import lambda_models  # noqa: E402  (imported here: this section is the page's own)


@st.cache_data(max_entries=16, show_spinner=False)
def lambda_sweep_run(scenario: Scenario, method: str, lambdas: tuple[float, ...], n_seeds: int,
                     settings: TrainSettings) -> tuple[dict, TrainedModels]:
    """``core.labs.sweeps.lambda_sweep``'s dict and the trained models, with a progress bar (:func:`progress_bar`)."""
    text = f"Training {len(lambdas) * n_seeds} models ({len(lambdas)} values of λ × {n_seeds} seeds):"
    with progress_bar(text, settings.steps) as update:
        return stored_run(LAMBDA_SWEEP, (scenario, method, lambdas, n_seeds, settings), progress=update)


@dataclass(frozen=True)
class LambdaViews:
    """What the MMD-vs-lambda page draws from one sweep (read-only, shared)."""

    summary: lambda_models.LambdaSummary
    chart: go.Figure
    animation: go.Figure | None  # None when the inputs are not 2-D
    points_csv: bytes


@st.cache_resource(max_entries=16, show_spinner="Drawing the sweep…")
def lambda_views(scenario: Scenario, method: str, lambdas: tuple[float, ...], n_seeds: int,
                 settings: TrainSettings, _sweep: tuple[dict, TrainedModels]) -> LambdaViews:
    """The sweep chart, the decision-boundary animation and the points as CSV (read-only, shared)."""
    answer, trained = _sweep
    data = generate(scenario)
    summary = lambda_models.summarise(answer["points"])
    animation = None
    if data.n_features == 2:
        accuracy = {m: p["target_acc"] for m, p in enumerate(answer["points"])}
        animation = sweep_figures.decision_boundary_animation(
            lambda_models.lambda_surfaces(trained, data), data, method, accuracy, trained.n_classes)
    frame = pd.DataFrame(answer["points"]).assign(method=method)
    return LambdaViews(summary, sweep_figures.lambda_sweep_figure(summary, method), animation,
                       frame.to_csv(index=False).encode())
