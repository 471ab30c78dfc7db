"""Cached wrappers of the Forgetting page (see :mod:`ui.cached`): the run goes through the result store, so a
warmed talk scene shows at once; what the page draws from it is built once and shared."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.figures import forgetting as figures
from core.labs.forgetting import ForgettingPageSettings, ForgettingRun, TradeOff, Verdict, trade_off, verdict
from core.scenario import Scenario
from core.talk.scene_runs import FORGETTING, stored_run
from ui.cached import progress_bar


@st.cache_data(max_entries=16, show_spinner=False)
def forgetting_run(scenario: Scenario, settings: ForgettingPageSettings) -> ForgettingRun:
    """Full fine-tuning and every chosen remedy at each strength, one batch, with a progress bar."""
    variants = 1 + sum(len(strengths) for strengths in settings.strengths().values())
    text = (f"Training {variants * settings.seeds} models ({variants} strategies and strengths × {settings.seeds} "
            "seeds):")
    with progress_bar(text) as update:
        return stored_run(FORGETTING, (scenario, settings), progress=update)


@dataclass(frozen=True)
class ForgettingViews:
    """Everything the Forgetting page draws from one run (read-only, shared)."""

    summary: TradeOff
    verdict: Verdict
    figure: go.Figure
    table: pd.DataFrame
    points_csv: bytes
    run_json: bytes


@st.cache_resource(max_entries=16, show_spinner="Drawing the results…")
def forgetting_views(scenario: Scenario, settings: ForgettingPageSettings, _run: ForgettingRun) -> ForgettingViews:
    """The trade-off chart, the verdict, the table of points and the downloads of a run."""
    summary = trade_off(_run)
    figure = figures.trade_off_figure(summary)
    return ForgettingViews(summary, verdict(summary), figure, figures.trade_off_frame(summary),
                           pd.DataFrame(_run.points).to_csv(index=False).encode(),
                           json.dumps(_run.to_json(), indent=2).encode())
