"""Snapshots of a batched run while it trains: what every model predicts and where it puts some points.

A :class:`SnapshotPlan` names the steps to record and the raw inputs to record on: a plot grid (class
probabilities) and a fixed subsample of points (class probabilities and feature-layer activations). The trainer
records a :class:`TrainingSnapshot` after the chosen steps (``0`` is before the first one) and hands each to a
plain callback, so a page can draw it while the run goes on; the run also keeps them all. The trainer never
sees target labels, so accuracies are computed from a snapshot's probabilities by whoever has the labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import InputError


@dataclass(frozen=True)
class SnapshotPlan:
    """When and on what a run records snapshots.

    Parameters
    ----------
    steps : tuple of int
        Steps done at each snapshot, increasing, in ``[0, total steps]`` (0: the initial models).
    grid : np.ndarray, optional
        Raw inputs ``[G, d]`` (a plot grid) whose class probabilities are recorded.
    points : np.ndarray, optional
        Raw inputs ``[P, d]`` whose class probabilities and features are recorded.
    """

    steps: tuple[int, ...]
    grid: np.ndarray | None = None
    points: np.ndarray | None = None

    @classmethod
    def evenly(cls, total_steps: int, count: int, grid: np.ndarray | None = None,
               points: np.ndarray | None = None) -> SnapshotPlan:
        """``count`` snapshots (at least 2) spread evenly from the initial models to the last step."""
        if count < 2:
            raise InputError("snapshots", f"expected at least 2 snapshots, got {count}")
        steps = np.unique(np.round(np.linspace(0, total_steps, min(count, total_steps + 1))).astype(int))
        return cls(tuple(int(s) for s in steps), grid, points)

    def check(self, total_steps: int) -> None:
        if any(b <= a for a, b in zip(self.steps, self.steps[1:])) or not self.steps \
                or self.steps[0] < 0 or self.steps[-1] > total_steps:
            raise InputError("snapshots", f"steps must increase within [0, {total_steps}], got {self.steps}")


@dataclass(frozen=True)
class TrainingSnapshot:
    """Every model of a run after ``step`` steps.

    ``grid_proba`` ``[M, G, K]`` and ``point_proba`` ``[M, P, K]`` are class probabilities, ``features``
    ``[M, P, H]`` the feature layer on the plan's points (``None`` where the plan has no grid or points);
    ``task_loss`` and ``alignment_loss`` ``[M]`` are the last recorded losses (NaN before the first step).
    """

    step: int
    grid_proba: np.ndarray | None
    point_proba: np.ndarray | None
    features: np.ndarray | None
    task_loss: np.ndarray
    alignment_loss: np.ndarray


SnapshotCallback = Callable[[TrainingSnapshot], None]
