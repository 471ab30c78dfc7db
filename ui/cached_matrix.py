"""Cached wrapper of the Which method for which shift page (see :mod:`ui.cached`): the matrix goes through the
result store, so a warmed talk scene shows at once."""

from __future__ import annotations

import json

import streamlit as st

from core.labs.shift_matrix import ShiftMatrix
from core.talk.scene_runs import SHIFT_MATRIX, stored_run
from core.training.train import TrainSettings
from ui.cached import progress_bar


@st.cache_data(max_entries=8, show_spinner=False)
def matrix_run(cases: tuple[str, ...], methods: tuple[str, ...], n_seeds: int, settings: TrainSettings
               ) -> ShiftMatrix:
    """Every method on every chosen kind of shift, with a progress bar (one batch per kind of shift)."""
    with progress_bar(f"Training {len(methods)} methods × {n_seeds} seeds on {len(cases)} kinds of shift:") as update:
        return stored_run(SHIFT_MATRIX, (cases, methods, n_seeds, settings), progress=update)


@st.cache_data(max_entries=8, show_spinner=False)
def matrix_json(cases: tuple[str, ...], methods: tuple[str, ...], n_seeds: int, settings: TrainSettings,
                _matrix: ShiftMatrix) -> bytes:
    return json.dumps(_matrix.to_json(), indent=2).encode()
