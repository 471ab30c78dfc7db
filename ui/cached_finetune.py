"""Cached wrappers of the fine-tuning, negative-transfer and distillation engines (see :mod:`ui.cached`).

Runs are cached with ``st.cache_data`` on small, hashable keys (the Scenario, tuples of names
and counts, frozen settings); what the pages draw from a run is built once and shared with
``st.cache_resource``, the run passed as an underscore argument (not hashed: the key already
names it). Training reports its progress through :func:`ui.cached.progress_bar`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.figures import distillation as distillation_figures
from core.figures import finetune as finetune_figures
from core.labs.distillation import ROLES, DistillRun, DistillSettings, RoleStatistics
from core.labs.efficiency import StrategyCurves, efficiency_curves
from core.labs.finetune_runs import FinetuneRun
from core.labs.negative_transfer import GainMap, gain_map, rule_checks
from core.scenario import Scenario
from core.talk.scene_runs import DISTILLATION, FINETUNE, stored_run
from core.training.finetune import FinetuneSettings
from ui.cached import progress_bar


def _downloads(run: FinetuneRun) -> tuple[bytes, bytes]:
    """The run's points as CSV and the whole run as JSON (as ``python -m core efficiency --json``)."""
    return pd.DataFrame(run.points).to_csv(index=False).encode(), json.dumps(run.to_json(), indent=2).encode()


@st.cache_data(max_entries=16, show_spinner=False)
def finetune_run(scenario: Scenario, strategies: tuple[str, ...], labels: tuple[int, ...], n_seeds: int,
                 settings: FinetuneSettings, knob: str | None = None,
                 values: tuple[float, ...] | None = None) -> FinetuneRun:
    """Fine-tune ``strategies`` × ``labels`` × seeds (× ``values`` of ``knob``) as one batch, with a progress bar."""
    models = len(strategies) * len(labels) * n_seeds * (len(values) if values else 1)
    along = f" × {len(values)} values of {knob}" if knob else ""
    text = (f"Training {models} models ({len(strategies)} strategies × {len(labels)} label counts × {n_seeds} "
            f"seeds{along}):")
    with progress_bar(text) as update:
        return stored_run(FINETUNE, (scenario, strategies, labels, n_seeds, settings, knob, values), progress=update)


@st.cache_resource(max_entries=16, show_spinner=False)
def schedule_figure(settings: FinetuneSettings, strategies: tuple[str, ...]) -> go.Figure:
    """The layer × epoch learning-rate map (read-only, shared)."""
    return finetune_figures.schedule_figure(settings, strategies)


@dataclass(frozen=True)
class FinetuneViews:
    """Everything the Fine-tuning page draws from one run (read-only, shared)."""

    curves: StrategyCurves
    efficiency: go.Figure
    forgetting: go.Figure
    labels_needed: pd.DataFrame
    points_csv: bytes
    run_json: bytes


@st.cache_resource(max_entries=16, show_spinner="Drawing the results…")
def finetune_views(scenario: Scenario, strategies: tuple[str, ...], labels: tuple[int, ...], n_seeds: int,
                   settings: FinetuneSettings, _run: FinetuneRun) -> FinetuneViews:
    """The sample-efficiency and forgetting charts, the read-out table and the downloads of a run."""
    curves = efficiency_curves(_run)
    return FinetuneViews(curves, finetune_figures.efficiency_figure(curves), finetune_figures.forgetting_figure(curves),
                         finetune_figures.labels_needed_frame(curves), *_downloads(_run))


@dataclass(frozen=True)
class TransferMapViews:
    """What the Negative transfer page draws from one map (read-only, shared)."""

    grid: GainMap
    gain: go.Figure
    best: go.Figure
    rules: pd.DataFrame
    negative_cells: int
    inconclusive_cells: int
    cells: int
    rule_holds: int  # cells where the rule of thumb holds, of
    rule_cells: int  # the cells of the quadrants whose recommended strategy was trained
    points_csv: bytes
    run_json: bytes


@st.cache_resource(max_entries=16, show_spinner="Drawing the map…")
def transfer_map_views(scenario: Scenario, strategies: tuple[str, ...], labels: tuple[int, ...], n_seeds: int,
                       settings: FinetuneSettings, knob: str, values: tuple[float, ...], mapped: str,
                       _run: FinetuneRun) -> TransferMapViews:
    """The gain map of ``mapped``, the best-strategy map, the rule checks and the downloads of a run."""
    grid = gain_map(_run)
    negative = grid.negative(mapped)
    checks = rule_checks(grid)
    checked = [c for c in checks if c.checked]
    return TransferMapViews(grid, finetune_figures.gain_map_figure(grid, mapped),
                            finetune_figures.best_strategy_figure(grid),
                            finetune_figures.rule_checks_frame(checks, grid.strategies), int(negative.sum()),
                            int(grid.inconclusive(mapped).sum()), int(negative.size), sum(c.holds for c in checked),
                            sum(c.cells for c in checked),
                            *_downloads(_run))


@st.cache_data(max_entries=16, show_spinner=False)
def distillation_run(scenario: Scenario, n_seeds: int, settings: DistillSettings) -> DistillRun:
    """Teachers and students, one per seed each, with a progress bar."""
    with progress_bar(f"Training {n_seeds} teachers and their students:") as update:
        return stored_run(DISTILLATION, (scenario, n_seeds, settings), progress=update)


@dataclass(frozen=True)
class DistillationViews:
    """What the Distillation page draws from one run (read-only, shared)."""

    statistics: dict[str, RoleStatistics]
    bars: go.Figure
    temperature: go.Figure
    run_json: bytes


@st.cache_resource(max_entries=16, show_spinner="Drawing the results…")
def distillation_views(scenario: Scenario, n_seeds: int, settings: DistillSettings,
                       _run: DistillRun) -> DistillationViews:
    """Target-accuracy statistics per role, the two charts and the run as JSON."""
    return DistillationViews({role: _run.statistics(role) for role in ROLES},
                             distillation_figures.distillation_bars(_run),
                             distillation_figures.temperature_figure(_run),
                             json.dumps(_run.to_json(), indent=2).encode())
