"""What each adaptation method adds to the batched trainer: its term of the loss, its schedule, its inputs.

A method of :mod:`core.training.methods` names at most one :class:`AlignmentTerm` subclass, a schedule
(:func:`source_phases` and friends) and optionally a source map (:func:`transport_source`). The trainer
(:mod:`core.training.train`) builds each method's term for the rows of the batch that train with it and sums the
terms it returns; it never names a method.

A term sees the run through a few attributes (``model``, the batched network; ``pool_x``, the standardised
target pool ``[N, d]``; ``pool_rows``, each model's pool mini-batch rows ``[M, T, B]``; ``lam``, each model's
weight λ ``[M]``; ``specs``) and returns one value per model of its rows, so models never mix.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core.nn.models import BatchedMLP, seeded_generator
from core.training import alignment
from core.training.label_spreading import LabelSpreading
from core.training.shift_corrections import em_target_priors, importance_weights, prior_shift_bias
from core.training.transport import wasserstein_procrustes

FINETUNE_SOURCE_SHARE = 0.6  # finetune: source steps first, then the labelled target
FINETUNE_LR_FACTOR = 1.0 / 3.0
SELF_TRAINING_WARMUP = 0.3  # share of the steps on source alone before pseudo-labels
SELF_TRAINING_REFRESH = 10  # steps between pseudo-label refreshes
SELF_TRAINING_START_SHARE = 0.2  # share of each predicted class pseudo-labelled at first
CRITIC_HIDDEN = (32,)  # DANN's domain classifier on the features
CRITIC_SEED_OFFSET = 104_729  # a critic's initial weights: the model's seed plus this


# --- schedules: the weights of the source and target cross-entropies and the rate, per step ---------------


def source_phases(progress: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every step on the labelled source: weights ``(source, target)`` and rate factor, each ``[T]``."""
    return np.ones_like(progress), np.zeros_like(progress), np.ones_like(progress)


def target_phases(progress: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every step on the few labelled target samples."""
    return np.zeros_like(progress), np.ones_like(progress), np.ones_like(progress)


def finetune_phases(progress: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source for the first :data:`FINETUNE_SOURCE_SHARE` of the steps, then the labelled target at
    :data:`FINETUNE_LR_FACTOR` of the rate."""
    second = progress >= FINETUNE_SOURCE_SHARE
    return (np.where(second, 0.0, 1.0), np.where(second, 1.0, 0.0),
            np.where(second, FINETUNE_LR_FACTOR, 1.0))


# --- terms of the loss ----------------------------------------------------------------------------------


class AlignmentTerm:
    """The adaptation term of one method for the models ``rows`` of a batched run.

    Subclasses implement :meth:`loss`; one with parameters of its own (a critic) lists them in
    :meth:`parameters`, and they learn at their models' rates.
    """

    def __init__(self, run, rows: torch.Tensor):
        self.run, self.rows = run, rows
        self.lam = run.lam.index_select(0, rows)

    def parameters(self) -> list[torch.Tensor]:
        return []

    def loss(self, step: int, fraction: float, features_source: torch.Tensor, features_pool: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The term ``[m]`` of each of its ``m`` models (λ included), from this step's source and pool batch
        features of the whole run, ``[M, B, H]`` (``fraction`` = step / steps); and a metric ``[m]`` to record,
        or ``None``."""
        raise NotImplementedError

    def own(self, values: torch.Tensor) -> torch.Tensor:
        """This term's models' rows of per-model values ``[M, ...]``."""
        return values.index_select(0, self.rows)


class MMDTerm(AlignmentTerm):
    """λ · multi-kernel MMD² between the source and pool batch features (DAN)."""

    def loss(self, step, fraction, features_source, features_pool):
        return self.lam * alignment.multi_kernel_mmd2(self.own(features_source), self.own(features_pool)), None


class CoralTerm(AlignmentTerm):
    """λ · the CORAL distance of the source and pool batch feature covariances."""

    def loss(self, step, fraction, features_source, features_pool):
        return self.lam * alignment.coral_loss(self.own(features_source), self.own(features_pool)), None


class AdversarialTerm(AlignmentTerm):
    """DANN: a one-logit domain classifier per model on gradient-reversed features, the reversal weighted by
    λ · :func:`~core.training.alignment.dann_ramp`; the metric is the classifier's accuracy."""

    def __init__(self, run, rows):
        super().__init__(run, rows)
        seeds = [run.specs[m].seed + CRITIC_SEED_OFFSET for m in rows.tolist()]
        self.critic = BatchedMLP(len(rows), run.model.feature_dim, CRITIC_HIDDEN, 1,
                                 generator=[seeded_generator(s) for s in seeds], device=run.device)

    def parameters(self):
        return list(self.critic.weights) + list(self.critic.biases)

    def loss(self, step, fraction, features_source, features_pool):
        coefficient = self.lam * alignment.dann_ramp(fraction)
        reversed_source = alignment.reverse_gradient(self.own(features_source), coefficient)
        reversed_pool = alignment.reverse_gradient(self.own(features_pool), coefficient)
        domain_loss, accuracy = alignment.domain_classifier_loss(self.critic(reversed_source)[..., 0],
                                                                 self.critic(reversed_pool)[..., 0])
        return domain_loss, accuracy.detach()


class PseudoLabelTerm(AlignmentTerm):
    """Self-training: after a source warm-up, λ · cross-entropy on the confident pseudo-labelled points of the
    pool batch. Every :data:`SELF_TRAINING_REFRESH` steps each model's class probabilities on the pool are spread
    along the pool's nearest-neighbour graph (:mod:`~core.training.label_spreading`; on points only: on images
    the pixel graph does not follow the classes, and spreading there collapsed self-training on rotated digits
    to chance); the pseudo-labels are the arg-max, and the confident share of each predicted class grows from
    :data:`SELF_TRAINING_START_SHARE` to all."""

    def __init__(self, run, rows):
        super().__init__(run, rows)
        self.pseudo = self.confident = None
        self.spreading = None if run.architecture.is_image else LabelSpreading(run.pool_x)

    def loss(self, step, fraction, features_source, features_pool):
        if fraction < SELF_TRAINING_WARMUP:
            return torch.zeros_like(self.lam), None
        if self.pseudo is None or step % SELF_TRAINING_REFRESH == 0:
            phase = (fraction - SELF_TRAINING_WARMUP) / (1 - SELF_TRAINING_WARMUP)
            share = SELF_TRAINING_START_SHARE + (1 - SELF_TRAINING_START_SHARE) * phase
            with torch.no_grad():
                probabilities = torch.softmax(self.own(self.run.model(self.run.pool_x)), dim=-1)
                if self.spreading is not None:
                    probabilities = self.spreading.spread(probabilities)
                self.pseudo, self.confident = pseudo_labels(probabilities.clamp_min(1e-12).log(), share)
        batch_rows = self.run.pool_rows[self.rows, step]
        logits = self.own(self.run.model.head(features_pool))
        losses = F.cross_entropy(logits.flatten(0, 1), rows_of(self.pseudo, batch_rows).flatten(),
                                 reduction="none").view(len(self.rows), -1)
        weight = rows_of(self.confident, batch_rows).float()
        return self.lam * (losses * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1), None


def pseudo_labels(logits: torch.Tensor, share: float) -> tuple[torch.Tensor, torch.Tensor]:
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


def rows_of(values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Rows ``[M, B]`` of per-model values ``[M, N]`` or ``[M, N, H]``, model by model."""
    if values.dim() == 2:
        return torch.gather(values, 1, rows)
    return torch.gather(values, 1, rows.unsqueeze(-1).expand(-1, -1, values.shape[-1]))


# --- source maps: a method that moves the labelled source before training on it -----------------------


def transport_source(run, rows: torch.Tensor, source_x: np.ndarray, pool_x: np.ndarray) -> torch.Tensor:
    """OT + similarity map: the source carried onto the target pool by the Wasserstein–Procrustes map, and the
    models ``rows`` trained on the source moved ``min(λ, 1)`` of the way there (``run.source_inputs``). Returns
    the carried source, standardised."""
    # in the data's own coordinates: per-feature standardisation would turn a rotation into a shear
    raw = wasserstein_procrustes(torch.as_tensor(source_x), torch.as_tensor(pool_x),
                                 seed=run.specs[int(rows[0])].seed)
    transport = run.standardised(raw.numpy())
    alpha = run.lam.index_select(0, rows).clamp(max=1.0).view(-1, 1, 1)
    run.source_inputs[rows] = (1 - alpha) * run.source_x + alpha * transport
    return transport


# --- covariate shift and prior shift: a weighted source loss, a corrected output --------------------------


def weight_source(run, rows: torch.Tensor) -> None:
    """Importance weighting: models ``rows`` weigh each source point's loss by ``w(x)^min(λ, 1)``, ``w`` the
    clipped density ratio of :func:`~core.training.shift_corrections.importance_weights` (λ = 0: source-only;
    below 1: flattened weights, Shimodaira 2000)."""
    weights = importance_weights(run.source_x.flatten(1).cpu().numpy(), run.pool_x.flatten(1).cpu().numpy(),
                                 device=run.device)
    exponent = run.lam.index_select(0, rows).clamp(max=1.0).view(-1, 1)
    run.source_weights[rows] = torch.as_tensor(weights, dtype=torch.float32, device=run.device)[None, :] ** exponent


def correct_priors(run, rows: torch.Tensor) -> None:
    """Label-shift correction after training: the target priors of each of models ``rows`` re-estimated by EM
    from its own posteriors on the pool, and its last bias shifted by ``min(λ, 1) · log(q / p)``."""
    with torch.no_grad():
        posteriors = torch.softmax(run.model(run.pool_x).index_select(0, rows), dim=-1).cpu().numpy()
        counts = torch.bincount(run.source_y, minlength=run.n_classes).double().cpu().numpy()
        source_priors = counts / counts.sum()
        target_priors = em_target_priors(posteriors, source_priors)
        shift = prior_shift_bias(target_priors, source_priors) * (source_priors > 0)  # never a class unseen
        weight = run.lam.index_select(0, rows).clamp(max=1.0).view(-1, 1)
        bias = run.model.biases[-1]
        bias.data[rows] += weight * torch.as_tensor(shift, dtype=bias.dtype, device=bias.device).view(
            len(rows), *bias.shape[1:])
