"""The batched trainer: every (method, seed, lambda) model of a run trained as ONE tensor program.

All models share one batched network (weights ``[M, ...]``: a :class:`~core.models.BatchedMLP` on
points, a :class:`~core.conv.BatchedCNN` on images, see :class:`~core.networks.Architecture`) and one loop of
mini-batch steps. Methods differ only by per-model weights and schedules: which labelled
data a model fits at each step, its alignment term and weight lambda, its learning rate.
Each model's loss is summed (never averaged) with the others', and :class:`BatchedAdam`
is elementwise, so model ``m`` follows the trajectory it would follow alone.

The trainer only ever receives :class:`~core.domains.TrainingInputs`: the target pool's
labels do not exist here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from core import alignment
from core.device import pick_device
from core.domains import TrainingInputs
from core.errors import InputError, check_fields
from core.methods import METHODS_BY_NAME
from core.models import BatchedMLP, seeded_generator
from core.networks import Architecture, Networks
from core.optim import BatchedAdam
from core.transport import wasserstein_procrustes

FINETUNE_SOURCE_SHARE = 0.6  # finetune: source steps first, then the labelled target
FINETUNE_LR_FACTOR = 1.0 / 3.0
SELF_TRAINING_WARMUP = 0.3  # share of the steps on source alone before pseudo-labels
SELF_TRAINING_REFRESH = 10  # steps between pseudo-label refreshes
SELF_TRAINING_START_SHARE = 0.2  # share of each predicted class pseudo-labelled at first
DIVERGENCE_LOSS = 1e6  # a per-model loss above this (or NaN) stops that model
CURVE_POINTS = 100


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


@dataclass(frozen=True)
class ModelSpec:
    """One model of a batch: its method, its seed (initialisation and mini-batches) and lambda."""

    method: str
    seed: int
    lam: float


@dataclass(frozen=True)
class Divergence:
    """Model number ``model`` of a batch (method, initialisation seed) was stopped at ``step``:
    its loss became NaN or exceeded :data:`DIVERGENCE_LOSS`."""

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
    divergences: tuple[Divergence, ...]
    train_seconds: float
    device: str
    source_transport: np.ndarray | None = field(default=None, repr=False)

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
        stopped[[d.model for d in self.divergences]] = True
        return stopped


class _Schedule:
    """Per-model, per-step weights of each loss term and learning rates, as ``[T, M]`` tensors."""

    def __init__(self, specs: Sequence[ModelSpec], settings: TrainSettings, device: torch.device):
        steps, n_models = settings.steps, len(specs)
        progress = np.arange(steps) / steps
        source = np.ones((steps, n_models))
        target = np.zeros((steps, n_models))
        lr = np.full((steps, n_models), settings.lr)
        for m, spec in enumerate(specs):
            if spec.method == "target_only":
                source[:, m], target[:, m] = 0.0, 1.0
            elif spec.method == "finetune":
                second_phase = progress >= FINETUNE_SOURCE_SHARE
                source[second_phase, m], target[second_phase, m] = 0.0, 1.0
                lr[second_phase, m] *= FINETUNE_LR_FACTOR
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        self.source, self.target, self.lr = as_tensor(source), as_tensor(target), as_tensor(lr)
        self.uses_target_labels = bool(target.any())


def _indices(specs: Sequence[ModelSpec], method: str, device: torch.device) -> torch.Tensor:
    """Positions of the models of one method."""
    return torch.tensor([m for m, s in enumerate(specs) if s.method == method], dtype=torch.long,
                        device=device)


def _minibatch_tables(specs: Sequence[ModelSpec], n_rows: int, settings: TrainSettings, stream: int,
                      device: torch.device) -> torch.Tensor:
    """Rows ``[M, T, B]`` of every step's mini-batch, drawn from each model's own seed.

    Tables depend on the seed, not the method, so models with the same seed see the same batches.
    """
    batch = min(settings.batch_size, n_rows)
    tables = [torch.randint(n_rows, (settings.steps, batch), generator=seeded_generator(spec.seed * 7919 + stream))
              for spec in specs]
    return torch.stack(tables).to(device)


def _rows(values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Rows ``[M, B]`` of per-model values ``[M, N]`` or ``[M, N, H]``, model by model."""
    if values.dim() == 2:
        return torch.gather(values, 1, rows)
    return torch.gather(values, 1, rows.unsqueeze(-1).expand(-1, -1, values.shape[-1]))


def _pseudo_labels(logits: torch.Tensor, share: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted classes and a mask of the most confident ``share`` of each predicted class, per model."""
    probabilities = torch.softmax(logits, dim=-1)
    confidence, predicted = probabilities.max(dim=-1)
    mask = torch.zeros_like(confidence, dtype=torch.bool)
    for k in range(logits.shape[-1]):
        in_class = predicted == k
        count = in_class.sum(dim=1, keepdim=True)
        keep = torch.ceil(count.float() * share).long()
        scores = torch.where(in_class, confidence, torch.full_like(confidence, -1.0))
        rank = scores.argsort(dim=1, descending=True).argsort(dim=1)
        mask |= in_class & (rank < keep)
    return predicted, mask


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
                 progress: Callable[[float], None] | None = None) -> TrainedModels:
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

    Returns
    -------
    TrainedModels
    """
    specs = tuple(specs)
    _check_inputs(inputs, specs)
    started = time.perf_counter()
    run = _BatchedRun(inputs, specs, settings, n_classes,
                      torch.device(device) if device is not None else pick_device())
    return run.train(progress, started)


class _BatchedRun:
    """One batched training run: the data on the device, the networks, the optimiser, the schedules."""

    def __init__(self, inputs: TrainingInputs, specs: tuple[ModelSpec, ...], settings: TrainSettings,
                 n_classes: int, device: torch.device):
        self.specs, self.settings, self.n_classes, self.device = specs, settings, n_classes, device
        self.n_models = len(specs)
        self.architecture = Architecture.for_inputs(settings.hidden, inputs.image_shape)
        self.mean, self.std = self.architecture.input_statistics(
            np.concatenate([inputs.source_x, inputs.target_pool_x]))
        self.source_x = self._standardised(inputs.source_x)
        self.pool_x = self._standardised(inputs.target_pool_x)
        self.labelled_x = self._standardised(inputs.target_labelled_x)
        self.source_y = torch.as_tensor(inputs.source_y, device=device)
        self.labelled_y = torch.as_tensor(inputs.target_labelled_y, device=device)
        self.index = {name: _indices(specs, name, device) for name in ("mmd", "dann", "coral", "self_training", "ot")}
        self.lam = torch.tensor([s.lam for s in specs], dtype=torch.float32, device=device)
        self.source_inputs = self.source_x.unsqueeze(0).expand(self.n_models, -1, -1).clone()
        self.transport = self._transport_source(inputs) if len(self.index["ot"]) else None

        self.model = self.architecture.build(self.n_models, self.source_x.shape[1], n_classes,
                                             generator=[seeded_generator(s.seed) for s in specs], device=device)
        parameters = list(self.model.weights) + list(self.model.biases)
        self.discriminator = None
        if len(self.index["dann"]):
            self.discriminator = BatchedMLP(
                len(self.index["dann"]), self.model.feature_dim, (32,), 1,
                generator=[seeded_generator(specs[m].seed + 104_729) for m in self.index["dann"].tolist()],
                device=device)
            parameters += list(self.discriminator.weights) + list(self.discriminator.biases)
        self.optimizer = BatchedAdam(parameters)
        self.n_model_parameters = 2 * self.model.n_layers
        self.schedule = _Schedule(specs, settings, device)
        self.source_rows = _minibatch_tables(specs, len(self.source_x), settings, 1, device)
        self.pool_rows = _minibatch_tables(specs, len(self.pool_x), settings, 2, device)
        aligning = torch.cat([self.index[k] for k in ("mmd", "dann", "coral", "self_training")])
        self.needs_pool = len(aligning) > 0
        self.has_alignment_term = torch.zeros(self.n_models, dtype=torch.bool, device=device)
        self.has_alignment_term[aligning] = True
        self.alive = torch.ones(self.n_models, dtype=torch.bool, device=device)
        self.divergences: list[Divergence] = []
        self.pseudo = self.confident = None

    def _standardised(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((x - self.mean) / self.std, dtype=torch.float32, device=self.device)

    def _transport_source(self, inputs: TrainingInputs) -> torch.Tensor:
        """The ot models' source inputs: the source carried onto the target, interpolated by lambda."""
        ot = self.index["ot"]
        # in the data's own coordinates: per-feature standardisation would turn a rotation into a shear
        raw = wasserstein_procrustes(torch.as_tensor(inputs.source_x), torch.as_tensor(inputs.target_pool_x),
                                     seed=self.specs[int(ot[0])].seed)
        transport = self._standardised(raw.numpy())
        alpha = self.lam[ot].clamp(max=1.0).view(-1, 1, 1)
        self.source_inputs[ot] = (1 - alpha) * self.source_x + alpha * transport
        return transport

    def _cross_entropy(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy per model of logits ``[M, N, K]`` against labels ``[M, N]``."""
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(
            logits.shape[0], -1).mean(dim=1)

    def _task_loss(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-model loss on the labelled data the schedule asks for, and the source batch's features."""
        rows = self.source_rows[:, step]
        features_source = self.model.features(_rows(self.source_inputs, rows))
        task = self.schedule.source[step] * self._cross_entropy(self.model.head(features_source),
                                                                self.source_y[rows])
        if self.schedule.uses_target_labels:
            labels = self.labelled_y.expand(self.n_models, -1)
            task = task + self.schedule.target[step] * self._cross_entropy(self.model(self.labelled_x), labels)
        return task, features_source

    def _alignment_loss(self, step: int, features_source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-model alignment terms (zero for models without one) and the DANN critics' accuracy."""
        align = torch.zeros(self.n_models, device=self.device)
        domain_accuracy = torch.full((self.n_models,), float("nan"), device=self.device)
        if not self.needs_pool:
            return align, domain_accuracy
        features_pool = self.model.features(self.pool_x[self.pool_rows[:, step]])
        fraction = step / self.settings.steps
        pick = lambda features, i: features.index_select(0, i)  # noqa: E731
        if len(i := self.index["mmd"]):
            mmd = alignment.multi_kernel_mmd2(pick(features_source, i), pick(features_pool, i))
            align = align.index_add(0, i, self.lam[i] * mmd)
        if len(i := self.index["coral"]):
            coral = alignment.coral_loss(pick(features_source, i), pick(features_pool, i))
            align = align.index_add(0, i, self.lam[i] * coral)
        if len(i := self.index["dann"]):
            coefficient = self.lam[i] * alignment.dann_ramp(fraction)
            reversed_source = alignment.reverse_gradient(pick(features_source, i), coefficient)
            reversed_pool = alignment.reverse_gradient(pick(features_pool, i), coefficient)
            domain_loss, accuracy = alignment.domain_classifier_loss(
                self.discriminator(reversed_source)[..., 0], self.discriminator(reversed_pool)[..., 0])
            align = align.index_add(0, i, domain_loss)
            domain_accuracy[i] = accuracy.detach()
        if len(i := self.index["self_training"]) and fraction >= SELF_TRAINING_WARMUP:
            align = align.index_add(0, i, self.lam[i] * self._pseudo_label_loss(step, fraction, features_pool, i))
        return align, domain_accuracy

    def _pseudo_label_loss(self, step: int, fraction: float, features_pool: torch.Tensor, i: torch.Tensor
                           ) -> torch.Tensor:
        """Self-training: cross-entropy on the confident pseudo-labelled points of the pool batch."""
        if self.pseudo is None or step % SELF_TRAINING_REFRESH == 0:
            phase = (fraction - SELF_TRAINING_WARMUP) / (1 - SELF_TRAINING_WARMUP)
            share = SELF_TRAINING_START_SHARE + (1 - SELF_TRAINING_START_SHARE) * phase
            with torch.no_grad():
                self.pseudo, self.confident = _pseudo_labels(self.model(self.pool_x).index_select(0, i), share)
        batch_rows = self.pool_rows[i, step]
        logits_pool = self.model.head(features_pool).index_select(0, i)
        losses = F.cross_entropy(logits_pool.flatten(0, 1), _rows(self.pseudo, batch_rows).flatten(),
                                 reduction="none").view(len(i), -1)
        weight = _rows(self.confident, batch_rows).float()
        return (losses * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1)

    def _update(self, step: int, per_model: torch.Tensor) -> None:
        """Stop diverging models, then one Adam step of every live model at its scheduled rate."""
        healthy = torch.isfinite(per_model) & (per_model.abs() < DIVERGENCE_LOSS)
        if not bool(healthy[self.alive].all()):
            for m in torch.nonzero(self.alive & ~healthy).flatten().tolist():
                self.divergences.append(Divergence(self.specs[m].method, self.specs[m].seed, step, m))
            self.alive &= healthy
        self.optimizer.zero_grad()
        torch.where(self.alive, per_model, torch.zeros_like(per_model)).sum().backward()
        rate = self.schedule.lr[step] * self.alive
        rates = [rate] * self.n_model_parameters
        if self.discriminator is not None:
            rates += [rate[self.index["dann"]]] * (len(self.optimizer.params) - self.n_model_parameters)
        self.optimizer.step(rates)

    def train(self, progress: Callable[[float], None] | None, started: float) -> TrainedModels:
        steps = self.settings.steps
        record_every = max(1, steps // CURVE_POINTS)
        records: dict[str, list[torch.Tensor]] = {"task_loss": [], "alignment_loss": [], "domain_accuracy": []}
        recorded_steps = []
        for step in range(steps):
            task, features_source = self._task_loss(step)
            align, domain_accuracy = self._alignment_loss(step, features_source)
            self._update(step, task + align)
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
            curve_steps=np.array(recorded_steps), divergences=tuple(self.divergences),
            train_seconds=time.perf_counter() - started, device=str(self.device),
            source_transport=None if self.transport is None else self.transport.cpu().numpy() * self.std + self.mean,
        )
