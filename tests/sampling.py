"""Checks for class counts that are drawn at random (a multinomial draw), not fixed."""

from __future__ import annotations

import numpy as np

Z_LIMIT = 4.0  # a count more than 4 binomial sds from its expectation: p < 6.4e-5 per class


def assert_multinomial_shares(y: np.ndarray, proportions: dict[int, float], z: float = Z_LIMIT) -> None:
    """Each class's count in ``y`` lies within ``z`` binomial standard deviations of ``n × share``."""
    n = len(y)
    for k, share in proportions.items():
        count = int(np.sum(y == k))
        sd = np.sqrt(n * share * (1 - share))
        assert abs(count - n * share) <= z * max(sd, 0.5), (k, count, n * share, sd)
