"""The batched trainer: every (method, seed, lambda) model of a run trained as ONE tensor program.

All models share one batched network (weights ``[M, ...]``: a :class:`~core.nn.models.BatchedMLP` on
points, a :class:`~core.nn.conv.BatchedCNN` on images, see :class:`~core.nn.networks.Architecture`) and one loop of
mini-batch steps. Methods differ only by per-model weights and schedules: which labelled
data a model fits at each step, its alignment term and weight lambda, its learning rate.
Each model's loss is summed (never averaged) with the others', and :class:`BatchedAdam`
is elementwise, so model ``m`` follows the trajectory it would follow alone.

The trainer only ever receives :class:`~core.data.domains.TrainingInputs`: the target pool's
labels do not exist here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from core.data.domains import TrainingInputs
from core.device import pick_device
from core.errors import InputError, check_fields
from core.knobs import Knob
from core.nn.models import seeded_generator
from core.nn.networks import Architecture, Networks
from core.nn.optim import BatchedAdam
from core.nn.standardise import standardise
from core.training.method_terms import rows_of
from core.training.methods import METHODS_BY_NAME, Method
from core.training.snapshots import SnapshotCallback, SnapshotPlan, TrainingSnapshot

DIVERGED_LOSS = 1e6  # a per-model loss above this (or NaN) stops that model
CURVE_POINTS = 100


def healthy_models(per_model: torch.Tensor) -> torch.Tensor:
    """Which models ``[M]`` have a finite loss below :data:`DIVERGED_LOSS` (the others are stopped)."""
    return torch.isfinite(per_model) & (per_model.abs() < DIVERGED_LOSS)


@dataclass(frozen=True)
class TrainSettings:
    """How models are trained (not what the domains are: that is the Scenario).

    Parameters
    ----------
    lam : float
        Alignment weight lambda, in [0, 100].
    steps : int
        Optimisation steps (one mini-batch each), in [10, 5000].
    lr : float
        Adam learning rate, in (0, 1].
    hidden : tuple of int
        Hidden widths of the network; the last hidden layer is the feature layer (on images, the
        dense layers after the convolution blocks).
    batch_size : int
        Per-domain mini-batch of every step (the MMD kernel matrix is quadratic in it).
    """

    lam: float = 1.0
    steps: int = 300
    lr: float = 0.01
    hidden: tuple[int, ...] = (32, 32)
    batch_size: int = 64

    def __post_init__(self) -> None:
        checks = [
            ("lam", 0.0 <= self.lam <= 100.0, "a number in [0, 100]"),
            ("steps", isinstance(self.steps, int) and 10 <= self.steps <= 5000, "an integer in [10, 5000]"),
            ("lr", 0.0 < self.lr <= 1.0, "a number in (0, 1]"),
            ("hidden", len(self.hidden) >= 1 and all(1 <= h <= 1024 for h in self.hidden),
             "one or more widths in [1, 1024]"),
            ("batch_size", 2 <= self.batch_size <= 4096, "an integer in [2, 4096]"),
        ]
        check_fields(self, checks)


ALIGN_WEIGHTS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # what the pages' λ sliders offer
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1)


def steps_knob(help: str, default: int = TrainSettings.steps) -> Knob:
    """Optimisation steps of a page's or command's models (``steps``)."""
    return Knob("steps", int, default, "Steps", help, low=10, high=3000, step=10)


def align_weight_knob(help: str, default: float = TrainSettings.lam, options: tuple[float, ...] = ALIGN_WEIGHTS,
                      name: str = "lam") -> Knob:
    """The alignment weight λ of a page's or command's adapted models."""
    return Knob(name, float, default, "Alignment weight λ", help, low=0.0, high=100.0, options=options)


def learning_rate_knob(default: float = TrainSettings.lr) -> Knob:
    """Adam's learning rate (``lr``)."""
    return Knob("lr", float, default, "Learning rate", "Adam's step size for every model.", low=0.0001, high=1.0,
                options=LEARNING_RATES)


@dataclass(frozen=True)
class ModelSpec:
    """One model of a batch: its method, its seed (initialisation and mini-batches) and lambda."""

    method: str
    seed: int
    lam: float


@dataclass(frozen=True)
class DivergedModel:
    """Model number ``model`` of a batch (method, initialisation seed) was stopped at ``step``:
    its loss became NaN or exceeded :data:`DIVERGED_LOSS`."""

    method: str
    seed: int
    step: int
    model: int

    def message(self, seed_label: int | None = None) -> str:
        seed = self.seed if seed_label is None else seed_label
        return f"{self.method} (seed {seed}) diverged at step {self.step}: its loss became NaN or exploded"


@dataclass
class TrainedModels:
    """The trained networks (as CPU arrays) and what happened during training.

    ``curves`` holds ``[n_records, M]`` arrays at ``curve_steps``: ``task_loss``,
    ``alignment_loss`` (the weighted alignment term; for dann the critic's cross-entropy;
    NaN for methods without one) and ``domain_accuracy`` (dann's critic; NaN otherwise).
    ``snapshots`` are those of the run's :class:`~core.training.snapshots.SnapshotPlan` (none without one).
    """

    specs: tuple[ModelSpec, ...]
    architecture: Architecture
    n_features: int
    n_classes: int
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    input_mean: np.ndarray
    input_std: np.ndarray
    curves: dict[str, np.ndarray]
    curve_steps: np.ndarray
    diverged_models: tuple[DivergedModel, ...]
    train_seconds: float
    device: str
    source_transport: np.ndarray | None = field(default=None, repr=False)
    snapshots: tuple[TrainingSnapshot, ...] = field(default=(), repr=False)

    def as_networks(self) -> Networks:
        """The trained networks with their (shared) input standardisation."""
        n_models = len(self.specs)
        return Networks(self.architecture, self.n_features, self.n_classes, self.weights, self.biases,
                        np.tile(self.input_mean, (n_models, 1)), np.tile(self.input_std, (n_models, 1)))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities ``[M, N, K]`` of every model for inputs ``[N, d]``."""
        return self.as_networks().predict_proba(x)

    def features(self, x: np.ndarray) -> np.ndarray:
        """Feature-layer activations ``[M, N, H]`` of every model."""
        return self.as_networks().features(x)

    @property
    def diverged(self) -> np.ndarray:
        """Boolean ``[M]``: which models were stopped."""
        stopped = np.zeros(len(self.specs), dtype=bool)
        stopped[[d.model for d in self.diverged_models]] = True
        return stopped


class _Schedule:
    """Per-model, per-step weights of each loss term and learning rates, as ``[T, M]`` tensors: each
    model's columns come from its method's :attr:`~core.training.methods.Method.phases`."""

    def __init__(self, specs: Sequence[ModelSpec], settings: TrainSettings, device: torch.device):
        progress = np.arange(settings.steps) / settings.steps
        phases = [METHODS_BY_NAME[spec.method].phases(progress) for spec in specs]
        source, target, lr_factor = (np.stack([p[k] for p in phases], axis=1) for k in range(3))
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        self.source, self.target = as_tensor(source), as_tensor(target)
        self.lr = as_tensor(settings.lr * lr_factor)
        self.uses_target_labels = bool(target.any())


def _models_by_method(specs: Sequence[ModelSpec], device: torch.device) -> list[tuple[Method, torch.Tensor]]:
    """Each method of the batch (in the registry's order) with the positions of its models."""
    chosen = {spec.method for spec in specs}
    return [(method, torch.tensor([m for m, s in enumerate(specs) if s.method == name], dtype=torch.long,
                                  device=device))
            for name, method in METHODS_BY_NAME.items() if name in chosen]


def _minibatch_tables(specs: Sequence[ModelSpec], n_rows: int, settings: TrainSettings, stream: int,
                      device: torch.device) -> torch.Tensor:
    """Rows ``[M, T, B]`` of every step's mini-batch, drawn from each model's own seed.

    Tables depend on the seed, not the method, so models with the same seed see the same batches.
    """
    batch = min(settings.batch_size, n_rows)
    tables = [torch.randint(n_rows, (settings.steps, batch), generator=seeded_generator(spec.seed * 7919 + stream))
              for spec in specs]
    return torch.stack(tables).to(device)


def _check_inputs(inputs: TrainingInputs, specs: Sequence[ModelSpec]) -> None:
    if not specs:
        raise InputError("methods", "give at least one method")
    for spec in specs:
        if spec.method not in METHODS_BY_NAME:
            raise InputError("methods", f"unknown method {spec.method!r}; allowed: " + ", ".join(METHODS_BY_NAME))
        if METHODS_BY_NAME[spec.method].needs_target_labels and len(inputs.target_labelled_y) == 0:
            raise InputError("labels_per_class", f"{spec.method} trains on target labels: set labels_per_class ≥ 1")


def train_models(inputs: TrainingInputs, specs: Sequence[ModelSpec], settings: TrainSettings, n_classes: int,
                 device: torch.device | str | None = None,
                 progress: Callable[[float], None] | None = None, snapshots: SnapshotPlan | None = None,
                 on_snapshot: SnapshotCallback | None = None) -> TrainedModels:
    """Train every model of ``specs`` on ``inputs`` as one batched program.

    Parameters
    ----------
    inputs : TrainingInputs
        Labelled source, unlabelled target pool, few labelled target samples.
    specs : sequence of ModelSpec
        One per model; the initial weights and mini-batches depend on the seed only, so
        models of different methods with the same seed start identical.
    settings : TrainSettings
    n_classes : int
        Outputs of the networks (classes of source and target together).
    device : torch.device or str, optional
        Default :func:`core.device.pick_device`.
    progress : callable, optional
        Called with the fraction of steps done (0 to 1), about 20 times.
    snapshots : SnapshotPlan, optional
        Steps after which every model's predictions (and features) on the plan's inputs are recorded; kept in
        the result's ``snapshots`` and handed to ``on_snapshot`` as they are taken.

    Returns
    -------
    TrainedModels
    """
    specs = tuple(specs)
    _check_inputs(inputs, specs)
    if snapshots is not None:
        snapshots.check(settings.steps)
    started = time.perf_counter()
    run = _BatchedRun(inputs, specs, settings, n_classes,
                      torch.device(device) if device is not None else pick_device())
    recorder = None if snapshots is None else _SnapshotRecorder(run, snapshots, on_snapshot)
    return run.train(progress, started, recorder)


class _BatchedRun:
    """One batched training run: the data on the device, the networks, the optimiser, the schedules."""

    def __init__(self, inputs: TrainingInputs, specs: tuple[ModelSpec, ...], settings: TrainSettings,
                 n_classes: int, device: torch.device):
        self.specs, self.settings, self.n_classes, self.device = specs, settings, n_classes, device
        self.n_models = len(specs)
        self.architecture = Architecture.for_inputs(settings.hidden, inputs.image_shape)
        self.mean, self.std = self.architecture.input_statistics(
            np.concatenate([inputs.source_x, inputs.target_pool_x]))
        self.source_x = self.standardised(inputs.source_x)
        self.pool_x = self.standardised(inputs.target_pool_x)
        self.labelled_x = self.standardised(inputs.target_labelled_x)
        self.source_y = torch.as_tensor(inputs.source_y, device=device)
        self.labelled_y = torch.as_tensor(inputs.target_labelled_y, device=device)
        self.lam = torch.tensor([s.lam for s in specs], dtype=torch.float32, device=device)
        self.source_inputs = self.source_x.unsqueeze(0).expand(self.n_models, -1, -1).clone()
        self.model = self.architecture.build(self.n_models, self.source_x.shape[1], n_classes,
                                             generator=[seeded_generator(s.seed) for s in specs], device=device)
        self.source_rows = _minibatch_tables(specs, len(self.source_x), settings, 1, device)
        self.pool_rows = _minibatch_tables(specs, len(self.pool_x), settings, 2, device)
        self.schedule = _Schedule(specs, settings, device)

        by_method = _models_by_method(specs, device)
        self.by_method = by_method
        self.transport = None
        self.source_weights: torch.Tensor | None = None  # [M, N_S] per-sample weights of the source loss
        for method, rows in by_method:
            if method.source_map is not None:
                self.transport = method.source_map(self, rows, inputs.source_x, inputs.target_pool_x)
            if method.source_weights is not None:
                if self.source_weights is None:
                    self.source_weights = torch.ones(self.n_models, len(self.source_x), device=device)
                method.source_weights(self, rows)
        self.terms = [method.term(self, rows) for method, rows in by_method if method.term is not None]
        self.has_alignment_term = torch.zeros(self.n_models, dtype=torch.bool, device=device)
        for term in self.terms:
            self.has_alignment_term[term.rows] = True
        self.n_model_parameters = 2 * self.model.n_layers
        self.optimizer = BatchedAdam(list(self.model.weights) + list(self.model.biases)
                                     + [p for term in self.terms for p in term.parameters()])
        self.alive = torch.ones(self.n_models, dtype=torch.bool, device=device)
        self.diverged_models: list[DivergedModel] = []

    def standardised(self, x: np.ndarray) -> torch.Tensor:
        """Inputs ``[N, d]`` standardised with the run's statistics, on its device."""
        return torch.as_tensor(standardise(x, self.mean, self.std), dtype=torch.float32, device=self.device)

    def _cross_entropy(self, logits: torch.Tensor, labels: torch.Tensor,
                       weights: torch.Tensor | None = None) -> torch.Tensor:
        """Mean cross-entropy per model of logits ``[M, N, K]`` against labels ``[M, N]`` (each sample weighted by
        ``weights [M, N]`` when given)."""
        losses = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(logits.shape[0], -1)
        return (losses if weights is None else losses * weights).mean(dim=1)

    def _task_loss(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-model loss on the labelled data the schedule asks for, and the source batch's features."""
        rows = self.source_rows[:, step]
        features_source = self.model.features(rows_of(self.source_inputs, rows))
        weights = None if self.source_weights is None else rows_of(self.source_weights, rows)
        task = self.schedule.source[step] * self._cross_entropy(self.model.head(features_source),
                                                                self.source_y[rows], weights)
        if self.schedule.uses_target_labels:
            labels = self.labelled_y.expand(self.n_models, -1)
            task = task + self.schedule.target[step] * self._cross_entropy(self.model(self.labelled_x), labels)
        return task, features_source

    def _alignment_loss(self, step: int, features_source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every method's term (zero for models without one) and the recorded metric (NaN where none)."""
        align = torch.zeros(self.n_models, device=self.device)
        metric = torch.full((self.n_models,), float("nan"), device=self.device)
        if not self.terms:
            return align, metric
        features_pool = self.model.features(self.pool_x[self.pool_rows[:, step]])
        fraction = step / self.settings.steps
        for term in self.terms:
            value, term_metric = term.loss(step, fraction, features_source, features_pool)
            align = align.index_add(0, term.rows, value)
            if term_metric is not None:
                metric[term.rows] = term_metric
        return align, metric

    def _update(self, step: int, per_model: torch.Tensor) -> None:
        """Stop diverging models, then one Adam step of every live model (and its terms' parameters) at its
        scheduled rate."""
        healthy = healthy_models(per_model)
        if not bool(healthy[self.alive].all()):
            for m in torch.nonzero(self.alive & ~healthy).flatten().tolist():
                self.diverged_models.append(DivergedModel(self.specs[m].method, self.specs[m].seed, step, m))
            self.alive &= healthy
        self.optimizer.zero_grad()
        torch.where(self.alive, per_model, torch.zeros_like(per_model)).sum().backward()
        rate = self.schedule.lr[step] * self.alive
        rates = [rate] * self.n_model_parameters
        for term in self.terms:
            rates += [rate[term.rows]] * len(term.parameters())
        self.optimizer.step(rates)

    def train(self, progress: Callable[[float], None] | None, started: float,
              recorder: _SnapshotRecorder | None = None) -> TrainedModels:
        steps = self.settings.steps
        record_every = max(1, steps // CURVE_POINTS)
        records: dict[str, list[torch.Tensor]] = {"task_loss": [], "alignment_loss": [], "domain_accuracy": []}
        recorded_steps = []
        if recorder is not None:
            recorder.after(0, None, None)
        for step in range(steps):
            task, features_source = self._task_loss(step)
            align, domain_accuracy = self._alignment_loss(step, features_source)
            self._update(step, task + align)
            if step == steps - 1:
                for method, rows in self.by_method:  # post-hoc corrections, before the last snapshot
                    if method.after_training is not None:
                        method.after_training(self, rows)
            if recorder is not None:
                recorder.after(step + 1, task, align)
            if step % record_every == 0 or step == steps - 1:
                recorded_steps.append(step)
                align_or_nan = torch.where(self.has_alignment_term, align, torch.full_like(align, float("nan")))
                for name, value in (("task_loss", task), ("alignment_loss", align_or_nan),
                                    ("domain_accuracy", domain_accuracy)):
                    records[name].append(value.detach())
            if progress is not None and (step + 1) % max(1, steps // 20) == 0:
                progress((step + 1) / steps)
        return TrainedModels(
            specs=self.specs, architecture=self.architecture, n_features=self.source_x.shape[1],
            n_classes=self.n_classes,
            weights=[w.detach().cpu().numpy() for w in self.model.weights],
            biases=[b.detach().cpu().numpy() for b in self.model.biases],
            input_mean=self.mean, input_std=self.std,
            curves={name: torch.stack(values).cpu().numpy() for name, values in records.items()},
            curve_steps=np.array(recorded_steps), diverged_models=tuple(self.diverged_models),
            train_seconds=time.perf_counter() - started, device=str(self.device),
            source_transport=None if self.transport is None else self.transport.cpu().numpy() * self.std + self.mean,
            snapshots=() if recorder is None else tuple(recorder.taken),
        )


class _SnapshotRecorder:
    """Takes a run's snapshots after the steps of its plan (inputs standardised once, on the run's device)."""

    def __init__(self, run: _BatchedRun, plan: SnapshotPlan, on_snapshot: SnapshotCallback | None):
        self.run, self.on_snapshot = run, on_snapshot
        self.steps = set(plan.steps)
        self.grid = None if plan.grid is None else run.standardised(plan.grid)
        self.points = None if plan.points is None else run.standardised(plan.points)
        self.taken: list[TrainingSnapshot] = []

    def after(self, done: int, task: torch.Tensor | None, align: torch.Tensor | None) -> None:
        """Record a snapshot if ``done`` steps is one of the plan's (``task``/``align``: the last step's losses)."""
        if done not in self.steps:
            return
        model = self.run.model
        missing = np.full(self.run.n_models, np.nan, dtype=np.float32)
        as_array = lambda t: None if t is None else t.detach().float().cpu().numpy()  # noqa: E731
        with torch.no_grad():
            grid_proba = None if self.grid is None else torch.softmax(model(self.grid), dim=-1)
            features = point_proba = None
            if self.points is not None:
                features = model.features(self.points)
                point_proba = torch.softmax(model.head(features), dim=-1)
        align = None if align is None else torch.where(self.run.has_alignment_term, align,
                                                       torch.full_like(align, float("nan")))
        snapshot = TrainingSnapshot(done, as_array(grid_proba), as_array(point_proba), as_array(features),
                                    missing if task is None else as_array(task),
                                    missing if align is None else as_array(align))
        self.taken.append(snapshot)
        if self.on_snapshot is not None:
            self.on_snapshot(snapshot)
