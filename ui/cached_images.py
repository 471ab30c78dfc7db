"""Cached wrappers of the image lab (see :mod:`ui.cached`): the run on small hashable keys, its figures shared."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.figures import adaptation as adaptation_figures
from core.figures import images as image_figures
from core.labs.image_lab import ImageLabRun, ImageLabSettings
from core.scenario import Scenario
from core.talk.scene_runs import IMAGE_LAB, stored_run
from ui.cached import generate, progress_bar


@st.cache_resource(max_entries=32, show_spinner=False)
def gallery_figure(scenario: Scenario) -> go.Figure:
    """Source and target digits side by side (read-only, shared)."""
    return image_figures.gallery_figure(generate(scenario))


@st.cache_data(max_entries=16, show_spinner=False)
def image_lab_run(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: ImageLabSettings
                  ) -> ImageLabRun:
    """Train the image lab's methods × seeds on the scenario's digits, with a progress bar."""
    text = f"Training CNNs ({len(methods)} methods × {n_seeds} seeds):"
    with progress_bar(text) as update:
        return stored_run(IMAGE_LAB, (scenario, methods, n_seeds, settings), progress=update)


@dataclass(frozen=True)
class ImageLabViews:
    """What the Image domains page draws from one run (read-only, shared)."""

    table: pd.DataFrame
    accuracy: go.Figure
    confusion: go.Figure
    per_class: go.Figure
    rows_csv: bytes
    run_json: bytes


@st.cache_resource(max_entries=16, show_spinner="Drawing the results…")
def image_lab_views(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: ImageLabSettings,
                    _run: ImageLabRun) -> ImageLabViews:
    """The results table, figures and downloads of a run (read-only, shared)."""
    test_y = generate(scenario).target_test_y
    answer = _run.to_json()
    return ImageLabViews(image_figures.summary_frame(_run), image_figures.accuracy_figure(_run),
                         image_figures.confusion_figure(_run, test_y), image_figures.per_class_figure(_run, test_y),
                         pd.DataFrame(answer["results"]).to_csv(index=False).encode(),
                         json.dumps(answer, indent=2).encode())


@st.cache_resource(max_entries=32, show_spinner=False)
def misclassified_figure(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: ImageLabSettings,
                         method: str, _run: ImageLabRun) -> go.Figure:
    """The gallery of the method's misclassified target test images (read-only, shared)."""
    return image_figures.misclassified_figure(_run, generate(scenario), method)


@st.cache_resource(max_entries=32, show_spinner="Embedding the features…")
def embedding_figure(scenario: Scenario, methods: tuple[str, ...], n_seeds: int, settings: ImageLabSettings,
                     compared: tuple[str, ...], projection: str, _run: ImageLabRun) -> go.Figure:
    """Source only's and another method's features in 2-D, by domain and by class (read-only, shared)."""
    return adaptation_figures.embedding_figure(_run.feature_embedding(generate(scenario), compared, projection))
