"""Divergences between a source sample ``x`` [m, d] and a target sample ``y`` [n, d].

Conventions (used everywhere in Domain Shift Lab)
-------------------------------------------------
Kernel
    Gaussian, ``k(a, b) = exp(-||a - b||^2 / (2 sigma^2))``, so ``k(a, a) = 1``. With
    ``bandwidth_multipliers=(c_1, ..., c_K)`` the kernel is the mean of the Gaussian kernels
    at bandwidths ``c_k * sigma`` (a multi-bandwidth kernel; still ``k(a, a) = 1``).
Bandwidth
    The median heuristic on the *pooled* sample (:func:`median_bandwidth`): ``sigma`` is the
    median Euclidean distance over distinct pairs of points of ``x`` and ``y`` together.
Estimators
    ``"biased"`` is the V-statistic (all pairs, diagonal included): it is a squared RKHS
    norm, hence never negative, and is what plots show by default. ``"unbiased"`` is the
    U-statistic (diagonal terms removed): its expectation is the population MMD^2, so under
    no shift it fluctuates around 0 and **can be negative**. Say which one a figure shows.
Proxy A-distance
    ``d_A = 2 (1 - 2 err)`` clipped to [0, 2], where ``err`` is the *balanced* held-out
    error of a domain classifier trained on the other half of the data. It depends on the
    classifier's hypothesis class, which is reported with the value.

All inputs are numpy float arrays; invalid input raises :class:`core.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.device import pick_device
from core.errors import InputError
from core.nn.models import train_binary_classifiers
from core.nn.standardise import standardise_with_train

__all__ = [
    "PermutationTest",
    "ProxyADistance",
    "coral_distance",
    "median_bandwidth",
    "mmd2",
    "mmd2_linear",
    "mmd_permutation_test",
    "per_class_mmd2",
    "proxy_a_distance",
    "proxy_a_distance_many",
]

DEFAULT_BLOCK_SIZE = 1024
"""Rows and columns of one kernel tile in :func:`mmd2` (a 1024 x 1024 float64 tile is 8 MiB)."""

_FALLBACK_BANDWIDTH = 1.0
_PERMUTATION_CHUNK_ELEMENTS = 1 << 22  # N * permutations per matrix product (16 MiB float32)

# Proxy A-distance training recipes: full-batch Adam on standardised inputs.
PERMUTATION_POINTS = 2000  # points per domain the permutation test sees at most (a seeded subsample above)
_PAD_RECIPES = {
    "mlp": {"hidden": (32, 32), "steps": 100, "lr": 0.02},
    "linear": {"hidden": (), "steps": 100, "lr": 0.1},
}


# --------------------------------------------------------------------------- validation


def _sample(value, name: str, min_points: int = 1) -> np.ndarray:
    """Return ``value`` as a finite float64 array [n, d] with ``n >= min_points``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(name, "must be a numeric array of shape [n_points, n_features]") from None
    if array.ndim != 2:
        raise InputError(
            name, f"must be a 2-D array [n_points, n_features], got shape {tuple(array.shape)}"
        )
    if array.shape[1] < 1:
        raise InputError(name, "needs at least one feature")
    if array.shape[0] < min_points:
        raise InputError(
            name, f"needs at least {min_points} point(s), got {array.shape[0]}"
        )
    if not np.isfinite(array).all():
        raise InputError(name, "contains NaN or infinite values")
    return array


def _pair(x, y, min_points: int = 1) -> tuple[np.ndarray, np.ndarray]:
    x = _sample(x, "x", min_points)
    y = _sample(y, "y", min_points)
    if x.shape[1] != y.shape[1]:
        raise InputError(
            "y", f"has {y.shape[1]} features but the source sample x has {x.shape[1]}"
        )
    return x, y


def _check_sigma(sigma) -> float:
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise InputError("sigma", f"must be a positive number, got {sigma!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise InputError("sigma", f"must be a positive finite number, got {sigma!r}")
    return value


def _gammas(sigma: float, bandwidth_multipliers) -> np.ndarray:
    """Return ``1 / (2 (c sigma)^2)`` for each multiplier ``c`` (``c = 1`` when None)."""
    if bandwidth_multipliers is None:
        multipliers = np.array([1.0])
    else:
        multipliers = np.asarray(bandwidth_multipliers, dtype=np.float64).ravel()
        if multipliers.size == 0 or not np.all(np.isfinite(multipliers)) or np.any(multipliers <= 0):
            raise InputError(
                "bandwidth_multipliers", "must be a non-empty list of positive numbers"
            )
    return 1.0 / (2.0 * (multipliers * sigma) ** 2)


def _check_block_size(block_size) -> int:
    if int(block_size) < 1:
        raise InputError("block_size", f"must be a positive integer, got {block_size}")
    return int(block_size)


# --------------------------------------------------------------------------- kernels


def _squared_distances(a: np.ndarray, b: np.ndarray, a_sq: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d2 = a @ b.T
    d2 *= -2.0
    d2 += a_sq[:, None]
    d2 += b_sq[None, :]
    np.maximum(d2, 0.0, out=d2)
    return d2


def _kernel_from_d2(d2: np.ndarray, gammas: np.ndarray) -> np.ndarray:
    """Mean over ``gammas`` of ``exp(-gamma * d2)``.

    The exponential dominates the cost, so when a gamma is ``2^j`` times the previous one
    (``j <= 8``; e.g. bandwidth multipliers 0.25, 0.5, 1, 2, 4 give ratios of 4) its kernel
    is the previous kernel squared ``j`` times instead of a new ``exp``.
    """
    if gammas.size == 1:
        return np.exp(-gammas[0] * d2)
    ordered = np.sort(gammas)
    current = np.exp(-ordered[0] * d2)
    total = current.copy()
    for previous, gamma in zip(ordered[:-1], ordered[1:]):
        ratio = gamma / previous
        doublings = int(round(np.log2(ratio)))
        if 0 <= doublings <= 8 and abs(ratio - 2.0**doublings) <= 1e-12 * ratio:
            for _ in range(doublings):
                np.multiply(current, current, out=current)
        else:
            current = np.exp(-gamma * d2)
        total += current
    total /= gammas.size
    return total


def _kernel_sum(a: np.ndarray, b: np.ndarray | None, gammas: np.ndarray, block_size: int) -> float:
    """Sum of ``k(a_i, b_j)`` over all i, j, tile by tile (``b=None`` means ``b = a``).

    With ``b=None`` only tiles on or above the diagonal are computed and the others are
    counted twice (the kernel matrix is symmetric).
    """
    symmetric = b is None
    if symmetric:
        b = a
    a_sq = np.einsum("ij,ij->i", a, a)
    b_sq = a_sq if symmetric else np.einsum("ij,ij->i", b, b)
    total = 0.0
    for i0 in range(0, a.shape[0], block_size):
        i1 = min(i0 + block_size, a.shape[0])
        for j0 in range(i0 if symmetric else 0, b.shape[0], block_size):
            j1 = min(j0 + block_size, b.shape[0])
            d2 = _squared_distances(a[i0:i1], b[j0:j1], a_sq[i0:i1], b_sq[j0:j1])
            if symmetric and i0 == j0:
                np.fill_diagonal(d2, 0.0)
            tile = float(_kernel_from_d2(d2, gammas).sum(dtype=np.float64))
            total += 2.0 * tile if (symmetric and j0 != i0) else tile
    return total


def _center(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subtract the pooled mean (distances are unchanged; cancellation is reduced)."""
    mean = (x.sum(axis=0) + y.sum(axis=0)) / (x.shape[0] + y.shape[0])
    return x - mean, y - mean


# --------------------------------------------------------------------------- bandwidth


def median_bandwidth(x, y, max_points: int = 2000, seed: int = 0) -> float:
    """Median heuristic: the median Euclidean distance between distinct pooled points.

    Parameters
    ----------
    x : array-like of shape [m, d]
        Source sample.
    y : array-like of shape [n, d]
        Target sample.
    max_points : int, default=2000
        When ``m + n`` is larger, the median is taken on ``max_points`` pooled points drawn
        without replacement with ``numpy.random.default_rng(seed)`` (deterministic).
    seed : int, default=0
        Seed of that subsample.

    Returns
    -------
    sigma : float
        The bandwidth of ``k(a, b) = exp(-||a - b||^2 / (2 sigma^2))``; ``1.0`` when the
        median distance is 0 (e.g. more than half of the pairs are duplicates) or there is
        only one point.
    """
    x, y = _pair(x, y)
    if int(max_points) < 2:
        raise InputError("max_points", f"must be at least 2, got {max_points}")
    z = np.concatenate(_center(x, y))
    if z.shape[0] > max_points:
        index = np.random.default_rng(seed).choice(z.shape[0], size=int(max_points), replace=False)
        z = z[np.sort(index)]
    n_points = z.shape[0]
    if n_points < 2:
        return _FALLBACK_BANDWIDTH
    # Squared distances of distinct pairs only (the strict upper triangle), by row blocks.
    sq = np.einsum("ij,ij->i", z, z)
    n_pairs = n_points * (n_points - 1) // 2
    condensed = np.empty(n_pairs, dtype=np.float64)
    position = 0
    for i0 in range(0, n_points - 1, 256):
        i1 = min(i0 + 256, n_points - 1)
        block = _squared_distances(z[i0:i1], z[i0 + 1 :], sq[i0:i1], sq[i0 + 1 :])
        for r in range(i1 - i0):  # row i = i0 + r needs columns j > i, i.e. block[r, r:]
            row = block[r, r:]
            condensed[position : position + row.shape[0]] = row
            position += row.shape[0]
    middle = [(n_pairs - 1) // 2, n_pairs // 2]
    condensed.partition(middle)
    sigma = 0.5 * float(np.sqrt(condensed[middle[0]]) + np.sqrt(condensed[middle[1]]))
    if not np.isfinite(sigma) or sigma <= 0:
        return _FALLBACK_BANDWIDTH
    return float(sigma)


# --------------------------------------------------------------------------- MMD


def mmd2(
    x,
    y,
    sigma: float | None = None,
    estimator: str = "biased",
    bandwidth_multipliers: Sequence[float] | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> float:
    """Squared maximum mean discrepancy between ``x`` and ``y`` (Gaussian kernel).

    ``MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y)`` with
    ``k(a, b) = exp(-||a - b||^2 / (2 sigma^2))``.

    Parameters
    ----------
    x : array-like of shape [m, d]
        Source sample.
    y : array-like of shape [n, d]
        Target sample (``n`` may differ from ``m``).
    sigma : float, optional
        Kernel bandwidth; default :func:`median_bandwidth` of the pooled sample.
    estimator : {"biased", "unbiased"}, default="biased"
        ``"biased"``: the V-statistic ``S_xx / m^2 + S_yy / n^2 - 2 S_xy / (m n)`` over all
        pairs; never negative. ``"unbiased"``: the U-statistic
        ``(S_xx - m) / (m (m - 1)) + (S_yy - n) / (n (n - 1)) - 2 S_xy / (m n)`` without
        the ``k(a, a) = 1`` terms; unbiased for the population MMD^2 and therefore **can be
        negative** when the two laws are equal or close. Needs ``m, n >= 2``.
    bandwidth_multipliers : sequence of float, optional
        E.g. ``(0.25, 0.5, 1, 2, 4)``: use the mean of the Gaussian kernels with bandwidths
        ``c * sigma`` (a multi-bandwidth kernel), which is less sensitive to the choice of
        ``sigma``.
    block_size : int, default=1024
        The kernel sums are accumulated (in float64) over tiles of
        ``block_size x block_size`` entries, so memory stays bounded for large samples
        (15,000 points per side are fine).

    Returns
    -------
    mmd2 : float

    See Also
    --------
    mmd2_linear : linear-time estimator for very large samples.
    mmd_permutation_test : is the MMD significantly larger than under no shift?
    """
    if estimator not in ("biased", "unbiased"):
        raise InputError("estimator", f"must be 'biased' or 'unbiased', got {estimator!r}")
    x, y = _pair(x, y, min_points=2 if estimator == "unbiased" else 1)
    sums = _kernel_sums(x, y, sigma, bandwidth_multipliers, block_size)
    return _biased(*sums) if estimator == "biased" else _unbiased(*sums)


def mmd2_estimates(
    x,
    y,
    sigma: float | None = None,
    bandwidth_multipliers: Sequence[float] | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[float, float]:
    """The biased and the unbiased MMD^2 from one pass over the kernel sums.

    Same arguments and conventions as :func:`mmd2`; returns ``(biased, unbiased)`` equal to
    ``mmd2(..., estimator="biased")`` and ``mmd2(..., estimator="unbiased")``.
    """
    x, y = _pair(x, y, min_points=2)
    sums = _kernel_sums(x, y, sigma, bandwidth_multipliers, block_size)
    return _biased(*sums), _unbiased(*sums)


def _kernel_sums(x, y, sigma, bandwidth_multipliers, block_size) -> tuple[float, float, float, int, int]:
    """``(S_xx, S_yy, S_xy, m, n)``: the kernel sums over all pairs, diagonals included."""
    block_size = _check_block_size(block_size)
    sigma = median_bandwidth(x, y) if sigma is None else _check_sigma(sigma)
    gammas = _gammas(sigma, bandwidth_multipliers)
    x, y = _center(x, y)
    s_xx = _kernel_sum(x, None, gammas, block_size)
    s_yy = _kernel_sum(y, None, gammas, block_size)
    s_xy = _kernel_sum(x, y, gammas, block_size)
    return s_xx, s_yy, s_xy, x.shape[0], y.shape[0]


def _biased(s_xx: float, s_yy: float, s_xy: float, m: int, n: int) -> float:
    value = s_xx / m**2 + s_yy / n**2 - 2.0 * s_xy / (m * n)
    return max(float(value), 0.0)  # a squared norm: clip rounding below 0


def _unbiased(s_xx: float, s_yy: float, s_xy: float, m: int, n: int) -> float:
    # k(a, a) = 1 for every bandwidth, so the diagonal of each within-domain sum is m (or n)
    return float((s_xx - m) / (m * (m - 1)) + (s_yy - n) / (n * (n - 1)) - 2.0 * s_xy / (m * n))


def mmd2_linear(x, y, sigma: float | None = None, seed: int = 0) -> float:
    """Linear-time unbiased MMD^2 estimate (Gretton et al., 2012, JMLR, Lemma 14).

    Both samples are shuffled with ``numpy.random.default_rng(seed)``, truncated to
    ``n' = 2 * floor(min(m, n) / 2)`` points and cut into ``n' / 2`` disjoint quadruples
    ``(x_{2i}, x_{2i+1}, y_{2i}, y_{2i+1})``; the estimate is the mean over quadruples of
    ``h = k(x_{2i}, x_{2i+1}) + k(y_{2i}, y_{2i+1}) - k(x_{2i}, y_{2i+1}) - k(x_{2i+1}, y_{2i})``.
    O(n) time and memory, unbiased but with a much larger variance than :func:`mmd2`, and it
    **can be negative**.

    Parameters
    ----------
    x : array-like of shape [m, d]
        Source sample.
    y : array-like of shape [n, d]
        Target sample.
    sigma : float, optional
        Kernel bandwidth; default :func:`median_bandwidth` (on at most 2,000 pooled points).
    seed : int, default=0
        Seed of the shuffle.

    Returns
    -------
    mmd2 : float
    """
    x, y = _pair(x, y, min_points=2)
    sigma = median_bandwidth(x, y) if sigma is None else _check_sigma(sigma)
    gamma = 1.0 / (2.0 * sigma**2)
    rng = np.random.default_rng(seed)
    half = min(x.shape[0], y.shape[0]) // 2
    xs = x[rng.permutation(x.shape[0])[: 2 * half]]
    ys = y[rng.permutation(y.shape[0])[: 2 * half]]
    x1, x2, y1, y2 = xs[0::2], xs[1::2], ys[0::2], ys[1::2]

    def k(a, b):
        diff = a - b
        return np.exp(-gamma * np.einsum("ij,ij->i", diff, diff))

    h = k(x1, x2) + k(y1, y2) - k(x1, y2) - k(x2, y1)
    return float(h.mean())


@dataclass(frozen=True, eq=False)
class PermutationTest:
    """Result of :func:`mmd_permutation_test`.

    Attributes
    ----------
    statistic : float
        Biased MMD^2 (V-statistic) of the points used.
    p_value : float
        ``(1 + #{null >= statistic}) / (1 + n_permutations)``, never 0.
    null_statistics : numpy.ndarray of shape [n_permutations]
        Biased MMD^2 of each random relabelling of the pooled points.
    n_permutations : int
    n_source_used : int
        Source points used (after the deterministic subsample).
    n_target_used : int
        Target points used.
    sigma : float
        Kernel bandwidth used.
    """

    statistic: float
    p_value: float
    null_statistics: np.ndarray
    n_permutations: int
    n_source_used: int
    n_target_used: int
    sigma: float


def _pooled_kernel_matrix(
    z: np.ndarray, gammas: np.ndarray, dtype=np.float32, block_size: int = DEFAULT_BLOCK_SIZE
) -> np.ndarray:
    """Kernel matrix ``K[i, j] = k(z_i, z_j)`` of a (centred) pooled sample, built by row blocks."""
    n_points = z.shape[0]
    sq = np.einsum("ij,ij->i", z, z)
    kernel = np.empty((n_points, n_points), dtype=dtype)
    for i0 in range(0, n_points, block_size):
        i1 = min(i0 + block_size, n_points)
        kernel[i0:i1] = _kernel_from_d2(_squared_distances(z[i0:i1], z, sq[i0:i1], sq), gammas)
    np.fill_diagonal(kernel, 1.0)
    return kernel


def _permuted_biased_mmd2(
    kernel: np.ndarray, n_source: int, permutations: np.ndarray, chunk_size: int | None = None
) -> np.ndarray:
    """Biased MMD^2 for each relabelling: row ``b`` of ``permutations`` puts its first
    ``n_source`` pooled indices in the source sample and the rest in the target sample.

    With signed weights ``a`` (``1/m`` on source positions, ``-1/n`` on target positions)
    the biased MMD^2 is ``a^T K a``; for ``A = [N, B]`` all of them are
    ``sum(A * (K @ A), axis=0)``, evaluated in chunks of permutations.
    """
    n_points = kernel.shape[0]
    m, n = n_source, n_points - n_source
    permutations = np.atleast_2d(permutations)
    n_perm = permutations.shape[0]
    if chunk_size is None:
        chunk_size = max(1, _PERMUTATION_CHUNK_ELEMENTS // n_points)
    out = np.empty(n_perm, dtype=np.float64)
    for c0 in range(0, n_perm, chunk_size):
        block = permutations[c0 : c0 + chunk_size]
        weights = np.full((n_points, block.shape[0]), -1.0 / n, dtype=kernel.dtype)
        weights[block[:, :m].T, np.arange(block.shape[0])[None, :]] = 1.0 / m
        projected = kernel @ weights
        out[c0 : c0 + block.shape[0]] = np.einsum(
            "ij,ij->j", weights, projected, dtype=np.float64
        )
    return np.maximum(out, 0.0)


def mmd_permutation_test(
    x,
    y,
    sigma: float | None = None,
    n_permutations: int = 500,
    seed: int = 0,
    max_points_per_domain: int = PERMUTATION_POINTS,
    bandwidth_multipliers: Sequence[float] | None = None,
) -> PermutationTest:
    """Permutation test of "no shift" (``P_S = P_T``) with the biased MMD^2 statistic.

    The pooled kernel matrix is built once (float32); the statistic of every random
    relabelling of the pooled points is then one column of a matrix product (see Notes).

    Parameters
    ----------
    x : array-like of shape [m, d]
        Source sample.
    y : array-like of shape [n, d]
        Target sample.
    sigma : float, optional
        Kernel bandwidth; default :func:`median_bandwidth` of the points used.
    n_permutations : int, default=500
        Number of random relabellings ``B``.
    seed : int, default=0
        Seeds ``numpy.random.default_rng`` for the subsample and the permutations.
    max_points_per_domain : int, default=2000
        A larger domain is replaced by a deterministic subsample of this many points
        (drawn without replacement), bounding the kernel matrix to
        ``(2 * max_points_per_domain)^2`` entries.
    bandwidth_multipliers : sequence of float, optional
        Multi-bandwidth kernel, as in :func:`mmd2`.

    Returns
    -------
    result : PermutationTest

    Notes
    -----
    With ``a`` the signed weight vector (``1/m`` on source positions, ``-1/n`` on target
    positions) the biased MMD^2 is ``a^T K a``. Stacking ``B`` relabelled weight vectors as
    the columns of ``A = [N, B]``, all null statistics are ``sum(A * (K @ A), axis=0)``:
    one BLAS matrix product instead of ``B`` gathers of sub-matrices. The observed statistic
    goes through the same computation, and the p-value is
    ``(1 + #{null >= observed}) / (1 + B)``.
    """
    x, y = _pair(x, y)
    if int(n_permutations) < 1:
        raise InputError("n_permutations", f"must be at least 1, got {n_permutations}")
    if int(max_points_per_domain) < 1:
        raise InputError(
            "max_points_per_domain", f"must be at least 1, got {max_points_per_domain}"
        )
    n_permutations = int(n_permutations)
    rng = np.random.default_rng(seed)
    if x.shape[0] > max_points_per_domain:
        x = x[np.sort(rng.choice(x.shape[0], int(max_points_per_domain), replace=False))]
    if y.shape[0] > max_points_per_domain:
        y = y[np.sort(rng.choice(y.shape[0], int(max_points_per_domain), replace=False))]
    sigma = median_bandwidth(x, y, seed=seed) if sigma is None else _check_sigma(sigma)
    gammas = _gammas(sigma, bandwidth_multipliers)
    m, n = x.shape[0], y.shape[0]
    n_points = m + n
    if n == 0 or m == 0:
        raise InputError("x", "both samples need at least one point")
    kernel = _pooled_kernel_matrix(np.concatenate(_center(x, y)), gammas)

    permutations = rng.permuted(np.tile(np.arange(n_points), (n_permutations, 1)), axis=1)
    observed = float(_permuted_biased_mmd2(kernel, m, np.arange(n_points)[None, :])[0])
    null = _permuted_biased_mmd2(kernel, m, permutations)
    p_value = (1.0 + float(np.count_nonzero(null >= observed))) / (1.0 + n_permutations)
    return PermutationTest(
        statistic=observed,
        p_value=p_value,
        null_statistics=null,
        n_permutations=n_permutations,
        n_source_used=m,
        n_target_used=n,
        sigma=float(sigma),
    )


# --------------------------------------------------------------------------- proxy A-distance


@dataclass(frozen=True)
class ProxyADistance:
    """Proxy A-distance over several seeds.

    Attributes
    ----------
    mean : float
        Mean of ``per_seed``.
    std : float
        Sample standard deviation (``ddof=1``) over seeds; 0 for a single seed.
    per_seed : tuple of float
        ``d_A = 2 (1 - 2 err)`` clipped to [0, 2], one per seed.
    balanced_errors : tuple of float
        Held-out balanced error ``err`` (mean of the two per-domain error rates), per seed.
    classifier : str
        The hypothesis class and training, e.g. ``"MLP 2→32→32→1 (ReLU), Adam, full batch"``.
    """

    mean: float
    std: float
    per_seed: tuple[float, ...]
    balanced_errors: tuple[float, ...]
    classifier: str


PAD_STEPS = _PAD_RECIPES["mlp"]["steps"]


def _pad_recipe(classifier: str, hidden, steps, lr) -> tuple[tuple[int, ...], int, float]:
    if classifier not in _PAD_RECIPES:
        raise InputError("classifier", f"must be 'mlp' or 'linear', got {classifier!r}")
    recipe = _PAD_RECIPES[classifier]
    if classifier == "linear":
        hidden = ()
    else:
        hidden = recipe["hidden"] if hidden is None else tuple(int(h) for h in hidden)
        if not hidden:
            raise InputError("hidden", "an MLP needs at least one hidden layer (or use 'linear')")
    steps = recipe["steps"] if steps is None else int(steps)
    lr = recipe["lr"] if lr is None else float(lr)
    if steps < 1:
        raise InputError("steps", f"must be at least 1, got {steps}")
    if not np.isfinite(lr) or lr <= 0:
        raise InputError("lr", f"must be a positive number, got {lr}")
    return hidden, steps, lr


def _describe_classifier(d: int, hidden: tuple[int, ...]) -> str:
    if not hidden:
        return "linear (logistic regression), Adam, full batch"
    arrows = "→".join(str(w) for w in (d, *hidden, 1))
    return f"MLP {arrows} (ReLU), Adam, full batch"


def _split_plan(m: int, n: int, n_seeds: int, seed: int):
    """Per seed: stratified 50/50 split indices and the network's initialisation seed."""
    plans = []
    for s in range(n_seeds):
        rng = np.random.default_rng([int(seed), s])
        perm_x, perm_y = rng.permutation(m), rng.permutation(n)
        plans.append(
            {
                "x_train": perm_x[: m // 2],
                "x_test": perm_x[m // 2 :],
                "y_train": perm_y[: n // 2],
                "y_test": perm_y[n // 2 :],
                "init_seed": int(rng.integers(0, 2**31 - 1)),
            }
        )
    return plans


def _pad_equal_sizes(pairs, n_seeds, seed, hidden, steps, lr, weight_decay, device):
    """All pairs share (m, n, d): train every (pair, seed) model in one BatchedMLP."""
    m, n, d = pairs[0][0].shape[0], pairs[0][1].shape[0], pairs[0][0].shape[1]
    plans = _split_plan(m, n, n_seeds, seed)
    m_tr, n_tr = m // 2, n // 2
    m_te = m - m_tr  # the test rows: m - m_tr source, then n - n_tr target
    x_train, x_test, seeds = [], [], []
    for x, y in pairs:
        for plan in plans:
            x_train.append(np.concatenate([x[plan["x_train"]], y[plan["y_train"]]]))
            x_test.append(np.concatenate([x[plan["x_test"]], y[plan["y_test"]]]))
            seeds.append(plan["init_seed"])
    target_device = torch.device(device) if device is not None else pick_device()
    train_t = torch.as_tensor(np.stack(x_train), dtype=torch.float32, device=target_device)
    test_t = torch.as_tensor(np.stack(x_test), dtype=torch.float32, device=target_device)
    train_t, test_t = standardise_with_train(train_t, test_t)
    labels = np.concatenate([np.zeros(m_tr), np.ones(n_tr)])
    # Class-balanced: each domain carries half of the total weight, whatever its size.
    weights = np.concatenate([np.full(m_tr, 0.5 / m_tr), np.full(n_tr, 0.5 / n_tr)])
    model = train_binary_classifiers(
        train_t,
        labels,
        weights,
        hidden=hidden,
        seeds=seeds,
        steps=steps,
        lr=lr,
        weight_decay=weight_decay,
        device=target_device,
    )
    with torch.no_grad():
        predicted_target = (model(test_t)[..., 0] > 0).cpu().numpy()  # [M, m_te + n_te]
    source_error = predicted_target[:, :m_te].mean(axis=1)
    target_error = 1.0 - predicted_target[:, m_te:].mean(axis=1)
    balanced = 0.5 * (source_error + target_error)
    distance = np.clip(2.0 * (1.0 - 2.0 * balanced), 0.0, 2.0)
    description = _describe_classifier(d, hidden)
    results = []
    for p in range(len(pairs)):
        per_seed = distance[p * n_seeds : (p + 1) * n_seeds]
        errors = balanced[p * n_seeds : (p + 1) * n_seeds]
        results.append(
            ProxyADistance(
                mean=float(per_seed.mean()),
                std=float(per_seed.std(ddof=1)) if n_seeds > 1 else 0.0,
                per_seed=tuple(float(v) for v in per_seed),
                balanced_errors=tuple(float(v) for v in errors),
                classifier=description,
            )
        )
    return results


def proxy_a_distance_many(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    classifier: str = "mlp",
    n_seeds: int = 3,
    seed: int = 0,
    hidden: tuple[int, ...] | None = None,
    steps: int | None = None,
    lr: float | None = None,
    weight_decay: float = 0.0,
    device: torch.device | str | None = None,
) -> list[ProxyADistance]:
    """Proxy A-distance of several (source, target) pairs, e.g. the points of a shift sweep.

    The domain classifiers of all pairs with the same sizes ``(m, n, d)`` and all seeds are
    trained as one batched program (``len(pairs) * n_seeds`` networks when, as in a sweep,
    every pair has the same sizes); pairs of other sizes form their own batches. Either way, the
    result for a pair is that of ``proxy_a_distance`` of that pair with the same arguments: the
    splits and initialisations depend on ``seed`` and the seed index, not on the pair's position
    (only floating-point rounding of the batched products differs, which can flip a held-out point
    lying on a decision boundary).

    Parameters
    ----------
    pairs : sequence of (x, y)
        Source samples ``x`` [m, d] and target samples ``y`` [n, d].
    classifier, n_seeds, seed, hidden, steps, lr, weight_decay, device
        As in :func:`proxy_a_distance`.

    Returns
    -------
    results : list of ProxyADistance
        One per pair, in order.
    """
    if int(n_seeds) < 1:
        raise InputError("n_seeds", f"must be at least 1, got {n_seeds}")
    n_seeds = int(n_seeds)
    hidden, steps, lr = _pad_recipe(classifier, hidden, steps, lr)
    checked = []
    for i, pair in enumerate(pairs):
        try:
            x, y = pair
        except (TypeError, ValueError):
            raise InputError("pairs", f"item {i} is not an (x, y) pair") from None
        checked.append(_pair(x, y, min_points=2))
    if not checked:
        return []
    # One batched program per group of pairs with equal sizes (a single group in a sweep).
    groups: dict[tuple, list[int]] = {}
    for i, (x, y) in enumerate(checked):
        groups.setdefault((x.shape, y.shape), []).append(i)
    results: list[ProxyADistance | None] = [None] * len(checked)
    for indices in groups.values():
        group = [checked[i] for i in indices]
        for i, result in zip(
            indices,
            _pad_equal_sizes(group, n_seeds, seed, hidden, steps, lr, weight_decay, device),
        ):
            results[i] = result
    return results


def proxy_a_distance(
    x,
    y,
    classifier: str = "mlp",
    n_seeds: int = 3,
    seed: int = 0,
    hidden: tuple[int, ...] | None = None,
    steps: int | None = None,
    lr: float | None = None,
    weight_decay: float = 0.0,
    device: torch.device | str | None = None,
) -> ProxyADistance:
    """Proxy A-distance ``d_A = 2 (1 - 2 err)`` (Ben-David et al., 2007), over seeds.

    For each seed: a stratified 50/50 split of each domain into a train half and a held-out
    half; a domain classifier (source = 0, target = 1, one logit,
    ``binary_cross_entropy_with_logits``) trained on the train half with class-balanced
    weights (each domain carries half of the loss, so unequal sizes do not matter); ``err``
    is its *balanced* error on the held-out half (the mean of the per-domain error rates),
    so that identical laws give ``err ≈ 0.5`` and ``d_A ≈ 0`` even for domains of unequal
    size. ``d_A`` is clipped to [0, 2]. Inputs are standardised with the train half's
    statistics. All seeds are trained as one batched network (:mod:`core.nn.models`).

    Parameters
    ----------
    x : array-like of shape [m, d]
        Source sample (``m >= 2``).
    y : array-like of shape [n, d]
        Target sample (``n >= 2``).
    classifier : {"mlp", "linear"}, default="mlp"
        Hypothesis class: an MLP with ReLU (default ``hidden=(32, 32)``, 100 Adam steps,
        learning rate 0.02) or logistic regression (100 steps, learning rate 0.1). The
        value depends on this class; it is reported in ``result.classifier``.
    n_seeds : int, default=3
        Number of splits / initialisations.
    seed : int, default=0
        Base seed: seed index ``s`` uses ``numpy.random.default_rng([seed, s])``.
    hidden : tuple of int, optional
        Hidden widths of the MLP (ignored for ``"linear"``).
    steps : int, optional
        Full-batch Adam steps (default depends on ``classifier``).
    lr : float, optional
        Adam learning rate (default depends on ``classifier``).
    weight_decay : float, default=0.0
        Decoupled weight decay.
    device : torch.device or str, optional
        Training device (default :func:`core.device.pick_device`).

    Returns
    -------
    result : ProxyADistance
        Mean, sample standard deviation and per-seed values, plus the classifier used.
    """
    return proxy_a_distance_many(
        [(x, y)],
        classifier=classifier,
        n_seeds=n_seeds,
        seed=seed,
        hidden=hidden,
        steps=steps,
        lr=lr,
        weight_decay=weight_decay,
        device=device,
    )[0]


# --------------------------------------------------------------------------- CORAL, per class


def coral_distance(x, y) -> float:
    """CORAL distance ``||C_S - C_T||_F^2 / (4 d^2)`` (Sun & Saenko, 2016).

    Parameters
    ----------
    x : array-like of shape [m, d]
        Source sample (``m >= 2``).
    y : array-like of shape [n, d]
        Target sample (``n >= 2``).

    Returns
    -------
    distance : float
        With ``C_S``, ``C_T`` the unbiased (``1 / (n - 1)``) feature covariance matrices.
        Only second moments are compared: a pure translation gives 0.
    """
    x, y = _pair(x, y, min_points=2)
    d = x.shape[1]
    c_s = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    c_t = np.atleast_2d(np.cov(y, rowvar=False, ddof=1))
    return float(np.sum((c_s - c_t) ** 2) / (4.0 * d * d))


def per_class_mmd2(
    x, x_labels, y, y_labels, sigma: float | None = None
) -> dict[int, float]:
    """Biased MMD^2 between the same-class subsets of source and target.

    **Needs target labels**: an oracle quantity that explains *where* a shift lies (e.g.
    which class moved); it is not available in unsupervised adaptation and must not be
    used to select models.

    Parameters
    ----------
    x : array-like of shape [m, d]
        Source sample.
    x_labels : array-like of shape [m]
        Integer source labels.
    y : array-like of shape [n, d]
        Target sample.
    y_labels : array-like of shape [n]
        Integer target labels.
    sigma : float, optional
        One shared bandwidth for every class; default :func:`median_bandwidth` of the whole
        pooled sample (so the per-class values are comparable).

    Returns
    -------
    mmd2_by_class : dict of int to float
        For each class with at least 2 points in both domains, the biased MMD^2 of
        ``x[x_labels == c]`` and ``y[y_labels == c]``.
    """
    x, y = _pair(x, y)
    x_labels = np.asarray(x_labels).ravel()
    y_labels = np.asarray(y_labels).ravel()
    if x_labels.shape[0] != x.shape[0]:
        raise InputError("x_labels", f"has {x_labels.shape[0]} labels for {x.shape[0]} points")
    if y_labels.shape[0] != y.shape[0]:
        raise InputError("y_labels", f"has {y_labels.shape[0]} labels for {y.shape[0]} points")
    sigma = median_bandwidth(x, y) if sigma is None else _check_sigma(sigma)
    result: dict[int, float] = {}
    for label in np.intersect1d(x_labels, y_labels):
        xs, ys = x[x_labels == label], y[y_labels == label]
        if xs.shape[0] >= 2 and ys.shape[0] >= 2:
            result[int(label)] = mmd2(xs, ys, sigma=sigma)
    return result
