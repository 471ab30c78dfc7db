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
    squared = torch.baddbmm(norms.unsqueeze(2) + norms.unsqueeze(1), pooled, pooled.transpose(1, 2),
                            alpha=-2.0).clamp_min(0.0)
    mean_squared = squared.detach().mean(dim=(1, 2), keepdim=True).clamp_min(1e-8)
    # the widest kernel once; each narrower one (half the bandwidth²) is the previous squared
    multipliers = sorted(MMD_BANDWIDTH_MULTIPLIERS, reverse=True)
    current = torch.exp(-squared / (2.0 * multipliers[0] * mean_squared))
    kernel = current
    for wider, narrower in zip(multipliers, multipliers[1:]):
        for _ in range(round(math.log2(wider / narrower))):
            current = current * current
        kernel = kernel + current
    kernel = kernel / len(multipliers)
    b = source.shape[1]
    return (kernel[:, :b, :b].mean(dim=(1, 2)) + kernel[:, b:, b:].mean(dim=(1, 2))
            - 2.0 * kernel[:, :b, b:].mean(dim=(1, 2)))


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
