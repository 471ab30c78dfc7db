"""Watching an adaptation run learn: live frames while it trains and a replay kept with its result.

The trainer records :class:`~core.training.snapshots.TrainingSnapshot` s on a coarse plot grid and on a fixed
subsample of source and target test points (:func:`replay_plan`). While the run goes on, each snapshot becomes a
:class:`LiveFrame`: per method, the class probabilities of the model that the pages' rule picks (the median seed,
here by the accuracy on the target test subsample at that step). After training, :func:`build_replay` keeps the
snapshots of each method's final median seed, compactly (:class:`Replay`): probabilities as bytes, features
projected once per method by one PCA fitted on every step's features together, so that points move rather than
jump from frame to frame. Target test labels are used for reporting only (the trainer never sees them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from core.data.domains import DomainData, plot_grid, subsample
from core.errors import InputError
from core.metrics.paired import median_model
from core.training.snapshots import SnapshotPlan, TrainingSnapshot
from core.training.train import ModelSpec

REPLAY_FRAMES = 21  # snapshots of a run: the initial models and 20 more, evenly spaced
REPLAY_GRID = 30  # the plot grid of the live frames and the replay: REPLAY_GRID × REPLAY_GRID (smoothed when drawn)
REPLAY_POINTS = 100  # source and target test points per domain whose features are replayed
PROBABILITY_LEVELS = 255  # probabilities are kept as bytes: steps of 1/255


@dataclass(frozen=True)
class ReplayPoints:
    """The fixed points of a replay: ``x`` raw inputs (source rows first), ``domain`` 0 / 1, ``labels`` (the
    target rows' are test labels: reporting only)."""

    x: np.ndarray
    domain: np.ndarray
    labels: np.ndarray

    @classmethod
    def of(cls, data: DomainData, per_domain: int = REPLAY_POINTS) -> ReplayPoints:
        seed = data.scenario.seed
        source = subsample(len(data.source_x), per_domain, seed + 11)
        target = subsample(len(data.target_test_x), per_domain, seed + 12)
        return cls(np.concatenate([data.source_x[source], data.target_test_x[target]]),
                   np.concatenate([np.zeros(len(source), dtype=np.int8), np.ones(len(target), dtype=np.int8)]),
                   np.concatenate([data.source_y[source], data.target_test_y[target]]))

    @property
    def target(self) -> np.ndarray:
        return self.domain == 1


def replay_plan(data: DomainData, total_steps: int, frames: int = REPLAY_FRAMES
                ) -> tuple[SnapshotPlan, ReplayPoints, tuple[np.ndarray, np.ndarray] | None]:
    """The snapshots a replay needs: ``frames`` steps, the plot grid (2-D inputs only) and the fixed points; also
    the points and the grid's axes ``(xs, ys)`` (``None`` without a grid)."""
    points = ReplayPoints.of(data)
    axes, grid = None, None
    if data.n_features == 2:
        xs, ys, grid = plot_grid(data, REPLAY_GRID)
        axes = (xs, ys)
    return SnapshotPlan.evenly(total_steps, frames, grid, points.x), points, axes


def _target_accuracy(point_proba: np.ndarray, points: ReplayPoints) -> np.ndarray:
    """Accuracy ``[M]`` of every model on the target test subsample (an oracle quantity: test labels)."""
    predicted = point_proba[:, points.target].argmax(axis=-1)
    return (predicted == points.labels[points.target]).mean(axis=1)


@dataclass(frozen=True)
class LiveFrame:
    """One moment of a run in progress, per method: the grid probabilities ``[ny, nx, K]`` of the model shown
    (``None`` without a grid or when every seed stopped) on the axes ``xs``, ``ys``, its seed and its target
    test subsample accuracy."""

    step: int
    total_steps: int
    probabilities: dict[str, np.ndarray | None]
    seeds: dict[str, int | None]
    accuracy: dict[str, float | None]
    xs: np.ndarray | None
    ys: np.ndarray | None


class LiveFrames:
    """Turns a run's snapshots into :class:`LiveFrame` s for ``on_frame`` (the trainer's snapshot callback)."""

    def __init__(self, specs: Sequence[ModelSpec], seed_labels: Sequence[int], points: ReplayPoints,
                 axes: tuple[np.ndarray, np.ndarray] | None, total_steps: int,
                 on_frame: Callable[[LiveFrame], None]):
        self.specs, self.seed_labels, self.points, self.axes = specs, seed_labels, points, axes
        self.total_steps, self.on_frame = total_steps, on_frame

    def __call__(self, snapshot: TrainingSnapshot) -> None:
        accuracy = _target_accuracy(snapshot.point_proba, self.points)
        healthy = np.isfinite(snapshot.task_loss) | (snapshot.step == 0)
        probabilities, seeds, shown_accuracy = {}, {}, {}
        for method in dict.fromkeys(spec.method for spec in self.specs):
            m = median_model([(i, float(accuracy[i]), self.seed_labels[i]) for i, spec in enumerate(self.specs)
                              if spec.method == method and healthy[i]])
            seeds[method] = None if m is None else self.seed_labels[m]
            shown_accuracy[method] = None if m is None else float(accuracy[m])
            probabilities[method] = None if m is None or self.axes is None else \
                snapshot.grid_proba[m].reshape(len(self.axes[1]), len(self.axes[0]), -1)
        xs, ys = self.axes if self.axes is not None else (None, None)
        self.on_frame(LiveFrame(snapshot.step, self.total_steps, probabilities, seeds, shown_accuracy, xs, ys))


@dataclass(frozen=True)
class Replay:
    """The snapshots of one model per method (its final median seed), compact enough to keep with the run.

    ``steps`` ``[F]``; ``probabilities[method]`` bytes ``[F, ny, nx, K]`` (``probability × 255``, ``None``
    without a grid) on the axes ``xs``, ``ys``; ``features[method]`` float16 ``[F, P, 2]``: the model's feature
    layer on the fixed ``points`` in one PCA projection for all frames (``explained``: its variance ratios);
    ``accuracy[method]`` ``[F]`` on the target test subsample (oracle); ``seeds[method]`` the seed shown.
    """

    steps: np.ndarray
    methods: tuple[str, ...]
    seeds: dict[str, int]
    xs: np.ndarray | None
    ys: np.ndarray | None
    probabilities: dict[str, np.ndarray | None]
    features: dict[str, np.ndarray]
    explained: dict[str, tuple[float, float]]
    accuracy: dict[str, np.ndarray]
    points: ReplayPoints

    def surface(self, method: str, frame: int) -> np.ndarray | None:
        """Probabilities ``[ny, nx, K]`` of ``method`` at ``frame`` as floats."""
        stored = self.probabilities[method]
        return None if stored is None else stored[frame].astype(np.float32) / PROBABILITY_LEVELS

    @property
    def n_bytes(self) -> int:
        """What the replay weighs in memory (and, near enough, in the result store)."""
        arrays = [self.steps, self.points.x, self.points.domain, self.points.labels,
                  *(a for a in self.probabilities.values() if a is not None), *self.features.values(),
                  *self.accuracy.values(), *(a for a in (self.xs, self.ys) if a is not None)]
        return int(sum(a.nbytes for a in arrays))


def build_replay(snapshots: Sequence[TrainingSnapshot], models: dict[str, int | None], seeds: dict[str, int],
                 points: ReplayPoints, axes: tuple[np.ndarray, np.ndarray] | None) -> Replay:
    """The :class:`Replay` of ``models`` (one model index per method; ``None`` methods are left out)."""
    if not snapshots:
        raise InputError("snapshots", "a replay needs the run's snapshots")
    shown = {method: m for method, m in models.items() if m is not None}
    probabilities, features, explained, accuracy = {}, {}, {}, {}
    for method, m in shown.items():
        if axes is None:
            probabilities[method] = None
        else:
            grid = np.stack([s.grid_proba[m] for s in snapshots])
            probabilities[method] = np.round(grid * PROBABILITY_LEVELS).astype(np.uint8).reshape(
                len(snapshots), len(axes[1]), len(axes[0]), -1)
        stacked = np.stack([s.features[m] for s in snapshots]).astype(np.float64)  # [F, P, H]
        pca = PCA(n_components=2, random_state=0).fit(stacked.reshape(-1, stacked.shape[-1]))
        features[method] = pca.transform(stacked.reshape(-1, stacked.shape[-1])).reshape(
            len(snapshots), -1, 2).astype(np.float16)
        explained[method] = tuple(float(v) for v in np.nan_to_num(pca.explained_variance_ratio_))
        accuracy[method] = np.array([_target_accuracy(s.point_proba[[m]], points)[0] for s in snapshots])
    xs, ys = axes if axes is not None else (None, None)
    return Replay(np.array([s.step for s in snapshots]), tuple(shown), {k: seeds[k] for k in shown}, xs, ys,
                  probabilities, features, explained, accuracy, points)
