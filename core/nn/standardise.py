"""Input standardisation, written once: subtract the mean, divide by the standard deviation.

A standard deviation at or below :data:`STD_FLOOR` (a constant feature, a pixel that never varies)
counts as 1, so that such a feature maps to (about) 0 instead of blowing up rounding noise or a
target value that does vary. NumPy arrays and torch tensors alike; the statistics are taken in the
input's own dtype.
"""

from __future__ import annotations

import numpy as np
import torch

STD_FLOOR = 1e-12


def mean_and_std(x, axis) -> tuple:
    """Mean and guarded (population) std of ``x`` over ``axis``, the axes kept for broadcasting."""
    if torch.is_tensor(x):
        mean, std = x.mean(dim=axis, keepdim=True), x.std(dim=axis, keepdim=True, unbiased=False)
        return mean, torch.where(std > STD_FLOOR, std, 1.0)
    mean, std = x.mean(axis=axis, keepdims=True), x.std(axis=axis, keepdims=True)
    return mean, np.where(std > STD_FLOOR, std, 1.0)


def standardise(x, mean, std):
    """``(x - mean) / std``."""
    return (x - mean) / std


def input_statistics(x: np.ndarray, image_shape: tuple[int, int, int] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std ``[d]`` that inputs ``[N, d]`` are standardised with: per feature for points; per colour
    channel for flattened images of ``image_shape`` ``(C, H, W)`` (one value over all pixels of a channel, so
    that a pixel that never varies in the source, a corner, cannot blow up a target pixel that does)."""
    if image_shape is None:
        mean, std = mean_and_std(x, 0)
        return mean[0], std[0]
    channels = np.asarray(x, dtype=np.float64).reshape(len(x), image_shape[0], -1)
    mean, std = mean_and_std(channels, (0, 2))
    return np.repeat(mean.ravel(), channels.shape[2]), np.repeat(std.ravel(), channels.shape[2])


def standardise_with_train(train: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Inputs standardised per model with the mean and std of the training split.

    Parameters
    ----------
    train : torch.Tensor of shape [M, N, d] or [N, d]
        Training inputs; statistics are taken over the sample axis (``-2``), separately for
        each model.
    *others : torch.Tensor
        Further inputs (held-out splits, grids) with the same leading shape convention,
        standardised with ``train``'s statistics.

    Returns
    -------
    standardised : tuple of torch.Tensor
        ``(train_std, *others_std)``.
    """
    mean, std = mean_and_std(train, -2)
    return tuple(standardise(t, mean, std) for t in (train, *others))
