"""Self-supervised pretraining: a network learns the source's structure from unlabelled inputs alone.

The pretext task is rotation prediction (Gidaris et al., 2018): every unlabelled input is shown in
four rotations (0°, 90°, 180°, 270°) and the network learns which one it sees. To answer, it must
learn what an upright input looks like (for points, where the source's mass lies and how it is
shaped; for digits, the strokes' orientation), which is the structure the fine-tuning reuses. No
label of either domain is used; the pretext head (four outputs) is discarded and a new head is
drawn for the target's classes.

Points are rotated about the origin of their standardised coordinates (the source's mean); images
(square ones) by quarter turns of every channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from core.errors import InputError
from core.nn.networks import Architecture, Networks
from core.nn.standardise import standardise
from core.training.finetune import fit_new_networks

QUARTER_TURNS = 4  # the pretext's classes: 0°, 90°, 180°, 270°


def rotated_copies(x: np.ndarray, image_shape: tuple[int, int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Every row of ``x`` ``[N, d]`` turned by 0, 1, 2 and 3 quarter turns: ``[4N, d]``, and the turns ``[4N]``.

    Two-dimensional points turn about the origin; flattened images (``image_shape`` ``(C, H, W)``, square)
    turn in their plane. Other inputs have no rotation: an :class:`~core.errors.InputError`.
    """
    x = np.asarray(x, dtype=np.float32)
    if image_shape is None:
        if x.shape[1] != 2:
            raise InputError("strategies", "self-supervised pretraining rotates 2-D points or square images; these "
                             f"inputs have {x.shape[1]} features")
        turns = [x]
        for _ in range(QUARTER_TURNS - 1):
            turns.append(np.stack([-turns[-1][:, 1], turns[-1][:, 0]], axis=1))  # (a, b) -> (-b, a): +90°
    else:
        channels, height, width = image_shape
        if height != width:
            raise InputError("strategies", "self-supervised pretraining turns square images; these are "
                             f"{height}×{width}")
        images = x.reshape(-1, channels, height, width)
        turns = [np.rot90(images, k, axes=(2, 3)).reshape(len(x), -1) for k in range(QUARTER_TURNS)]
    labels = np.repeat(np.arange(QUARTER_TURNS), len(x))
    return np.ascontiguousarray(np.concatenate(turns)), labels


def pretrain_by_rotation(x: np.ndarray, seeds: Sequence[int], architecture: Architecture, steps: int, lr: float,
                         device: torch.device) -> Networks:
    """One network per seed pretrained full-batch on the rotation task over the unlabelled ``x`` (inputs
    standardised by ``x``'s statistics); its head has :data:`QUARTER_TURNS` outputs, to be replaced."""
    mean, std = architecture.input_statistics(x)
    turned, turns = rotated_copies(standardise(x, mean, std), architecture.image_shape)
    n_models = len(seeds)
    weights = np.full((n_models, len(turns)), 1.0 / len(turns))
    net, _ = fit_new_networks(turned, turns, weights, architecture, seeds, QUARTER_TURNS, steps, lr, device)
    return Networks.from_net(net, np.tile(mean, (n_models, 1)), np.tile(std, (n_models, 1)))
