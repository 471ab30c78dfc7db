"""Input standardisation is written once (core/nn/standardise.py): one guard for NumPy and torch alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.nn.standardise import STD_FLOOR, input_statistics, standardise, standardise_with_train

pytestmark = pytest.mark.unit


def test_a_constant_feature_keeps_std_one_in_numpy_and_in_torch():
    x = np.column_stack([np.arange(6.0), np.full(6, 3.7)])
    mean, std = input_statistics(x)
    np.testing.assert_array_equal(std, [np.arange(6.0).std(), 1.0])
    np.testing.assert_allclose(standardise(np.array([[0.0, 4.0]]), mean, std), [[-2.5 / std[0], 0.3]])
    train, other = standardise_with_train(torch.tensor(x, dtype=torch.float32), torch.tensor([[0.0, 4.0]]))
    assert float(train[:, 1].abs().max()) < 1e-6 and float(other[0, 1]) == pytest.approx(0.3, abs=1e-6)
    assert STD_FLOOR == 1e-12


def test_images_are_standardised_per_channel():
    rng = np.random.default_rng(0)
    x = rng.random((20, 2 * 3 * 3))
    x[:, 0] = 0.5  # a pixel that never varies takes its channel's std, not its own (0)
    mean, std = input_statistics(x, (2, 3, 3))
    channel = x.reshape(20, 2, 9)
    np.testing.assert_allclose(mean, np.repeat(channel.mean(axis=(0, 2)), 9))
    np.testing.assert_allclose(std, np.repeat(channel.std(axis=(0, 2)), 9))
