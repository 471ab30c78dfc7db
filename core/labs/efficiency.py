"""Sample efficiency and forgetting: what a fine-tuning run says per strategy and label count.

:func:`efficiency_curves` reduces a :class:`~core.labs.finetune_runs.FinetuneRun` to mean, min and
max over seeds of the target test accuracy and the source accuracy per strategy and label
count. :func:`labels_to_match` reads off how many labels per class scratch training needs to
reach each transfer strategy's accuracy. No streamlit, no plotly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.labs.finetune_runs import FinetuneRun

METRICS = ("target_acc", "source_acc")
REFERENCE = "scratch"


@dataclass(frozen=True)
class StrategyCurves:
    """Per strategy (rows) and label count (columns): statistics over the seeds that trained.

    ``mean``, ``low`` and ``high`` map each of :data:`METRICS` to ``[S, L]`` arrays (NaN where
    every seed diverged); ``pretrained`` maps them to the pretrained source network's mean
    before fine-tuning; ``trained_parameters`` gives each strategy's trained parameters per network.
    """

    strategies: tuple[str, ...]
    labels: np.ndarray
    mean: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    pretrained: dict[str, float]
    n_seeds: int
    trained_parameters: dict[str, int] = field(default_factory=dict)

    def row(self, strategy: str) -> int:
        return self.strategies.index(strategy)


def efficiency_curves(run: FinetuneRun, value: float | None = None) -> StrategyCurves:
    """Summarise a run (at one value of its knob, when it varied one) over seeds."""
    key = run.knob
    points = [p for p in run.points if key is None or p[key] == value]
    pretrained = [p for p in run.pretrained if key is None or p[key] == value]
    labels = np.array(run.labels)
    stats = {name: {metric: np.full((len(run.strategies), len(labels)), np.nan) for metric in METRICS}
             for name in ("mean", "low", "high")}
    for i, strategy in enumerate(run.strategies):
        for j, n in enumerate(labels):
            for metric in METRICS:
                values = [p[metric] for p in points if p["strategy"] == strategy and p["labels_per_class"] == n
                          and p[metric] is not None]
                if values:
                    stats["mean"][metric][i, j] = np.mean(values)
                    stats["low"][metric][i, j] = np.min(values)
                    stats["high"][metric][i, j] = np.max(values)
    reference = {metric: float(np.mean([p[metric] for p in pretrained])) for metric in METRICS}
    return StrategyCurves(run.strategies, labels, stats["mean"], stats["low"], stats["high"], reference, run.n_seeds,
                          run.trained_parameters)


@dataclass(frozen=True)
class LabelsNeeded:
    """How many labels per class scratch needs to match a strategy trained on ``labels``.

    ``needed`` is interpolated on a log scale between the grid's label counts; ``relation`` is
    ``"about"`` (inside the grid), ``"at most"`` (scratch already matches at the smallest
    count) or ``"more than"`` (scratch never matches within the grid: ``needed`` is the largest
    count).
    """

    strategy: str
    labels: int
    accuracy: float
    needed: float
    relation: str

    @property
    def saving(self) -> float | None:
        """``needed / labels``: how many times more labels scratch needs (None unless inside the grid)."""
        return self.needed / self.labels if self.relation == "about" else None

    def text(self) -> str:
        if self.relation == "about":
            return f"≈ {self.needed:.3g}"
        return f"{'≤' if self.relation == 'at most' else '>'} {self.needed:g}"


def labels_to_match(curves: StrategyCurves, strategy: str) -> list[LabelsNeeded]:
    """For each label count: the labels per class scratch needs to reach ``strategy``'s mean accuracy.

    Scratch's mean accuracy is read along the label grid; the first grid step where it reaches
    the target is interpolated linearly in ``log(labels)``.
    """
    if REFERENCE not in curves.strategies:
        return []
    scratch = curves.mean["target_acc"][curves.row(REFERENCE)]
    grid = curves.labels.astype(float)
    answers = []
    for n, accuracy in zip(curves.labels, curves.mean["target_acc"][curves.row(strategy)]):
        if not np.isfinite(accuracy):
            continue
        reached = np.flatnonzero(np.nan_to_num(scratch, nan=-1.0) >= accuracy)
        if not len(reached):
            answers.append(LabelsNeeded(strategy, int(n), float(accuracy), float(grid[-1]), "more than"))
            continue
        j = int(reached[0])
        if j == 0:
            answers.append(LabelsNeeded(strategy, int(n), float(accuracy), float(grid[0]), "at most"))
            continue
        below, above = scratch[j - 1], scratch[j]
        share = (accuracy - below) / (above - below) if above > below else 1.0
        needed = math.exp(math.log(grid[j - 1]) + share * (math.log(grid[j]) - math.log(grid[j - 1])))
        answers.append(LabelsNeeded(strategy, int(n), float(accuracy), needed, "about"))
    return answers


def forgetting(curves: StrategyCurves) -> np.ndarray:
    """``[S, L]``: the pretrained network's source accuracy minus the fine-tuned one's (points lost)."""
    return curves.pretrained["source_acc"] - curves.mean["source_acc"]
