"""Batched alignment losses for training: every function acts on ``[M, N, H]`` features of M models.

Each returns one loss per model (shape ``[M]``), so that models trained together never
influence one another: the total loss is a sum over models.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MMD_BANDWIDTH_MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)


def multi_kernel_mmd2(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Biased MMD² per model with a mean of Gaussian kernels (DAN-style).

    The kernels have squared bandwidths ``c * d̄²`` for ``c`` in :data:`MMD_BANDWIDTH_MULTIPLIERS`,
    ``d̄²`` the mean squared distance of the model's pooled batch (detached), with
    ``k(u, v) = exp(-||u - v||² / (2 c d̄²))``.

    Parameters
    ----------
    source, target : torch.Tensor of shape [M, B, H]
        Features of a source and a target batch for each model.

    Returns
    -------
    torch.Tensor of shape [M]
    """
    pooled = torch.cat([source, target], dim=1)
    norms = pooled.pow(2).sum(dim=-1)
    # ||u - v||² by one batched matrix product (torch.cdist's backward is much slower on CPU)
    squared = torch.baddbmm(norms.unsqueeze(2) + norms.unsqueeze(1), pooled, pooled.transpose(1, 2), alpha=-2.0)
    widest = max(MMD_BANDWIDTH_MULTIPLIERS)
    scale = -1.0 / (2.0 * widest * squared.detach().mean(dim=(1, 2), keepdim=True).clamp_min(1e-8))
    weights = _mmd_weights(source.shape[1], target.shape[1], pooled.dtype, pooled.device)
    return _WeightedKernelSum.apply(squared, scale, weights)


class _WeightedKernelSum(torch.autograd.Function):
    """``sum_ij W_ij k(d²_ij)`` per model for the mean of the kernels ``e^(2^j)``, ``e = exp(scale d²)``.

    The bandwidths of :data:`MMD_BANDWIDTH_MULTIPLIERS` halve from the widest, so each kernel is
    the previous one squared. Forward and backward are written out: autograd through the chain
    of squarings costs several times more elementwise passes over the ``[M, n, n]`` matrix.
    """

    @staticmethod
    def forward(ctx, squared: torch.Tensor, scale: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        power = torch.exp(squared * scale)
        kernel = power.clone()
        derivative = power.clone()  # d/d(scale d²) of the kernel sum: sum_j 2^j e^(2^j)
        for j in range(1, len(MMD_BANDWIDTH_MULTIPLIERS)):
            power = power * power
            kernel += power
            derivative.add_(power, alpha=2.0 ** j)
        count = len(MMD_BANDWIDTH_MULTIPLIERS)
        ctx.save_for_backward(derivative.mul_(weights).mul_(scale / count))
        return (kernel * weights).sum(dim=(1, 2)) / count

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (derivative,) = ctx.saved_tensors
        return derivative * grad.view(-1, 1, 1), None, None


def _mmd_weights(n_source: int, n_target: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The ``[1, n, n]`` weights that turn a pooled kernel matrix into the biased MMD² by one sum."""
    sign = torch.cat([torch.full((n_source,), 1.0 / n_source), torch.full((n_target,), -1.0 / n_target)])
    return torch.outer(sign, sign).to(dtype=dtype, device=device).unsqueeze(0)


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL per model: ``||C_S - C_T||_F² / (4 H²)`` with unbiased feature covariances.

    Parameters
    ----------
    source : torch.Tensor of shape [M, N_S, H]
    target : torch.Tensor of shape [M, N_T, H]

    Returns
    -------
    torch.Tensor of shape [M]
    """
    def covariance(features: torch.Tensor) -> torch.Tensor:
        centred = features - features.mean(dim=1, keepdim=True)
        return centred.transpose(1, 2) @ centred / max(features.shape[1] - 1, 1)

    width = source.shape[-1]
    return (covariance(source) - covariance(target)).pow(2).sum(dim=(1, 2)) / (4.0 * width ** 2)


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``-coefficient`` per model."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, coefficient: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(coefficient)
        return features.view_as(features)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (coefficient,) = ctx.saved_tensors
        return -coefficient.view(-1, *([1] * (grad.dim() - 1))) * grad, None


def reverse_gradient(features: torch.Tensor, coefficient: torch.Tensor) -> torch.Tensor:
    """Gradient reversal layer with one coefficient per model (``coefficient`` of shape [M])."""
    return _ReverseGradient.apply(features, coefficient)


def dann_ramp(progress: float) -> float:
    """The usual DANN schedule of the reversal weight: ``2 / (1 + exp(-10 p)) - 1`` for p in [0, 1]."""
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


def domain_classifier_loss(logits_source: torch.Tensor, logits_target: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary cross-entropy of a one-logit domain classifier (source 0, target 1), per model.

    Returns the loss ``[M]`` (each domain weighted one half) and the accuracy ``[M]``.
    """
    loss = 0.5 * (F.binary_cross_entropy_with_logits(logits_source, torch.zeros_like(logits_source),
                                                     reduction="none").mean(dim=1)
                  + F.binary_cross_entropy_with_logits(logits_target, torch.ones_like(logits_target),
                                                       reduction="none").mean(dim=1))
    accuracy = 0.5 * ((logits_source < 0).float().mean(dim=1) + (logits_target > 0).float().mean(dim=1))
    return loss, accuracy
