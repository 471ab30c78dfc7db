"""The batched trainer: every (method, seed, lambda) model of a run trained as ONE tensor program.

All models share one :class:`~core.models.BatchedMLP` (weights ``[M, ...]``) and one loop of
full-batch steps. Methods differ only by per-model weights and schedules: which labelled
data a model fits at each step, its alignment term and weight lambda, its learning rate.
Each model's loss is summed (never averaged) with the others', and :class:`BatchedAdam`
is elementwise, so model ``m`` follows the trajectory it would follow alone.

The trainer only ever receives :class:`~core.domains.TrainingInputs`: the target pool's
labels do not exist here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from core import alignment
from core.device import pick_device
from core.domains import TrainingInputs
from core.errors import InputError
from core.methods import METHODS_BY_NAME
from core.models import BatchedMLP, seeded_generator
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
        Full-batch optimisation steps, in [10, 5000].
    lr : float
        Adam learning rate, in (0, 1].
    hidden : tuple of int
        Hidden widths of the network; the last hidden layer is the feature layer.
    batch_size : int
        Per-domain mini-batch of the MMD term (its kernel matrix is quadratic in it).
    """

    lam: float = 1.0
    steps: int = 300
    lr: float = 0.01
    hidden: tuple[int, ...] = (64, 64)
    batch_size: int = 128

    def __post_init__(self) -> None:
        checks = [
            ("lam", 0.0 <= self.lam <= 100.0, "a number in [0, 100]"),
            ("steps", isinstance(self.steps, int) and 10 <= self.steps <= 5000, "an integer in [10, 5000]"),
            ("lr", 0.0 < self.lr <= 1.0, "a number in (0, 1]"),
            ("hidden", len(self.hidden) >= 1 and all(1 <= h <= 1024 for h in self.hidden),
             "one or more widths in [1, 1024]"),
            ("batch_size", 2 <= self.batch_size <= 4096, "an integer in [2, 4096]"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise InputError(name, f"expected {allowed}, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class ModelSpec:
    """One model of a batch: its method, its seed (initialisation and mini-batches) and lambda."""

    method: str
    seed: int
    lam: float


@dataclass(frozen=True)
class Divergence:
    """A model whose loss became NaN or exploded: it was stopped at ``step``."""

    method: str
    seed: int
    step: int

    def message(self) -> str:
        return f"{self.method} (seed {self.seed}) diverged at step {self.step}: its loss became NaN or exploded"


@dataclass
class TrainedModels:
    """The trained networks (as CPU arrays) and what happened during training."""

    specs: tuple[ModelSpec, ...]
    hidden: tuple[int, ...]
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

    def network(self) -> BatchedMLP:
        """A CPU :class:`BatchedMLP` holding the trained weights."""
        net = BatchedMLP(len(self.specs), self.n_features, self.hidden, self.n_classes, device="cpu")
        with torch.no_grad():
            for param, value in zip(list(net.weights) + list(net.biases), self.weights + self.biases):
                param.copy_(torch.from_numpy(value))
        return net

    def _standardised(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((np.asarray(x, dtype=np.float64) - self.input_mean) / self.input_std,
                               dtype=torch.float32)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities ``[M, N, K]`` of every model for inputs ``[N, d]``."""
        with torch.no_grad():
            return torch.softmax(self.network()(self._standardised(x)), dim=-1).numpy()

    def features(self, x: np.ndarray) -> np.ndarray:
        """Feature-layer activations ``[M, N, H]`` of every model."""
        with torch.no_grad():
            return self.network().features(self._standardised(x)).numpy()

    @property
    def diverged(self) -> np.ndarray:
        """Boolean ``[M]``: which models were stopped."""
        stopped = {(d.method, d.seed) for d in self.divergences}
        return np.array([(s.method, s.seed) in stopped for s in self.specs])


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
        One per model; the initial weights depend on the seed only, so models of different
        methods with the same seed start identical.
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
    device = torch.device(device) if device is not None else pick_device()
    started = time.perf_counter()
    n_models, steps = len(specs), settings.steps

    pooled = np.concatenate([inputs.source_x, inputs.target_pool_x])
    mean, std = pooled.mean(axis=0), pooled.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    tensor = lambda a: torch.as_tensor((a - mean) / std, dtype=torch.float32, device=device)  # noqa: E731
    source_x, pool_x, labelled_x = tensor(inputs.source_x), tensor(inputs.target_pool_x), tensor(inputs.target_labelled_x)
    source_y = torch.as_tensor(inputs.source_y, device=device)
    labelled_y = torch.as_tensor(inputs.target_labelled_y, device=device)

    index = {name: _indices(specs, name, device) for name in ("mmd", "dann", "coral", "self_training", "ot")}
    lam = torch.tensor([s.lam for s in specs], dtype=torch.float32, device=device)
    source_inputs = source_x.unsqueeze(0).expand(n_models, -1, -1).clone()
    transport = None
    if len(index["ot"]):
        # in the data's own coordinates: per-feature standardisation would turn a rotation into a shear
        raw = wasserstein_procrustes(torch.as_tensor(inputs.source_x), torch.as_tensor(inputs.target_pool_x),
                                     seed=specs[int(index["ot"][0])].seed)
        transport = tensor(raw.numpy())
        alpha = lam[index["ot"]].clamp(max=1.0).view(-1, 1, 1)
        source_inputs[index["ot"]] = (1 - alpha) * source_x + alpha * transport

    model = BatchedMLP(n_models, source_x.shape[1], settings.hidden, n_classes,
                       generator=[seeded_generator(s.seed) for s in specs], device=device)
    parameters = list(model.weights) + list(model.biases)
    discriminator = None
    if len(index["dann"]):
        discriminator = BatchedMLP(len(index["dann"]), model.feature_dim, (32,), 1,
                                   generator=[seeded_generator(specs[m].seed + 104_729) for m in index["dann"].tolist()],
                                   device=device)
        parameters += list(discriminator.weights) + list(discriminator.biases)
    optimizer = BatchedAdam(parameters)
    n_model_params = 2 * model.n_layers
    schedule = _Schedule(specs, settings, device)
    source_rows = _minibatch_tables(specs, len(source_x), settings, 1, device)
    pool_rows = _minibatch_tables(specs, len(pool_x), settings, 2, device)
    needs_pool = any(len(index[k]) for k in ("mmd", "dann", "coral", "self_training"))

    alive = torch.ones(n_models, dtype=torch.bool, device=device)
    divergences: list[Divergence] = []
    pseudo = confident = None
    record_every = max(1, steps // CURVE_POINTS)
    records: dict[str, list[torch.Tensor]] = {"task_loss": [], "alignment_loss": [], "domain_accuracy": []}
    recorded_steps = []
    nan = torch.full((n_models,), float("nan"), device=device)

    for step in range(steps):
        fraction = step / steps
        rows = source_rows[:, step]
        features_source = model.features(_rows(source_inputs, rows))
        task = F.cross_entropy(model.head(features_source).flatten(0, 1), source_y[rows].flatten(),
                               reduction="none").view(n_models, -1).mean(dim=1)
        task = schedule.source[step] * task
        if schedule.uses_target_labels:
            labelled = F.cross_entropy(model(labelled_x).flatten(0, 1), labelled_y.repeat(n_models),
                                       reduction="none").view(n_models, -1).mean(dim=1)
            task = task + schedule.target[step] * labelled
        align = torch.zeros(n_models, device=device)
        domain_accuracy = nan.clone()
        features_pool = model.features(pool_x[pool_rows[:, step]]) if needs_pool else None

        if len(index["mmd"]):
            i = index["mmd"]
            mmd = alignment.multi_kernel_mmd2(features_source.index_select(0, i), features_pool.index_select(0, i))
            align = align.index_add(0, i, lam[i] * mmd)
        if len(index["coral"]):
            i = index["coral"]
            coral = alignment.coral_loss(features_source.index_select(0, i), features_pool.index_select(0, i))
            align = align.index_add(0, i, lam[i] * coral)
        if len(index["dann"]):
            i = index["dann"]
            coefficient = lam[i] * alignment.dann_ramp(fraction)
            reversed_source = alignment.reverse_gradient(features_source.index_select(0, i), coefficient)
            reversed_pool = alignment.reverse_gradient(features_pool.index_select(0, i), coefficient)
            domain_loss, accuracy = alignment.domain_classifier_loss(discriminator(reversed_source)[..., 0],
                                                                     discriminator(reversed_pool)[..., 0])
            align = align.index_add(0, i, domain_loss)
            domain_accuracy[i] = accuracy.detach()
        if len(index["self_training"]) and fraction >= SELF_TRAINING_WARMUP:
            i = index["self_training"]
            if pseudo is None or step % SELF_TRAINING_REFRESH == 0:
                phase = (fraction - SELF_TRAINING_WARMUP) / (1 - SELF_TRAINING_WARMUP)
                share = SELF_TRAINING_START_SHARE + (1 - SELF_TRAINING_START_SHARE) * phase
                with torch.no_grad():
                    pseudo, confident = _pseudo_labels(model(pool_x).index_select(0, i), share)
            batch_rows = pool_rows[i, step]
            logits_pool = model.head(features_pool).index_select(0, i)
            pseudo_loss = F.cross_entropy(logits_pool.flatten(0, 1), _rows(pseudo, batch_rows).flatten(),
                                          reduction="none").view(len(i), -1)
            weight = _rows(confident, batch_rows).float()
            pseudo_loss = (pseudo_loss * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1)
            align = align.index_add(0, i, lam[i] * pseudo_loss)

        per_model = task + align
        healthy = torch.isfinite(per_model) & (per_model.abs() < DIVERGENCE_LOSS)
        if not bool(healthy[alive].all()):
            for m in torch.nonzero(alive & ~healthy).flatten().tolist():
                divergences.append(Divergence(specs[m].method, specs[m].seed, step))
            alive &= healthy
        optimizer.zero_grad()
        torch.where(alive, per_model, torch.zeros_like(per_model)).sum().backward()
        rate = schedule.lr[step] * alive
        rates = [rate] * n_model_params
        if discriminator is not None:
            rates += [rate[index["dann"]]] * (len(parameters) - n_model_params)
        optimizer.step(rates)

        if step % record_every == 0 or step == steps - 1:
            recorded_steps.append(step)
            records["task_loss"].append(task.detach())
            records["alignment_loss"].append(align.detach())
            records["domain_accuracy"].append(domain_accuracy)
        if progress is not None and (step + 1) % max(1, steps // 20) == 0:
            progress((step + 1) / steps)

    curves = {name: torch.stack(values).cpu().numpy() for name, values in records.items()}
    return TrainedModels(
        specs=specs, hidden=tuple(settings.hidden), n_features=source_x.shape[1], n_classes=n_classes,
        weights=[w.detach().cpu().numpy() for w in model.weights],
        biases=[b.detach().cpu().numpy() for b in model.biases],
        input_mean=mean, input_std=std, curves=curves, curve_steps=np.array(recorded_steps),
        divergences=tuple(divergences), train_seconds=time.perf_counter() - started, device=str(device),
        source_transport=None if transport is None else transport.cpu().numpy() * std + mean,
    )
