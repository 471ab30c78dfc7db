"""Timings of the divergences in core.metrics.divergence at n = 1,000 points per domain.

Run ``python benchmarks/bench_divergence.py [--repeats 7]``. Torch (and numpy's BLAS) use
2 threads. Source: two moons; target: two moons rotated by 90 degrees about their mean.
Prints the median wall time over repeats of each divergence (after one warm-up call), the
permutation test's time per permutation, and the speed-up of the matrix-product permutation
statistics over a naive loop that recomputes each statistic from the same kernel matrix.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import median_seconds, setup
from sklearn.datasets import make_moons

from core.metrics import divergence as dv

N_PER_DOMAIN = 1000
N_PERMUTATIONS = 500
RATIO_PERMUTATIONS = 50
MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)


def rotated_moons(n: int, seed: int, angle_deg: float) -> np.ndarray:
    x, _ = make_moons(n_samples=n, noise=0.1, random_state=seed)
    centre = x.mean(axis=0)
    a = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (x - centre) @ rotation.T + centre


def naive_permutation_statistics(kernel: np.ndarray, m: int, permutations: np.ndarray) -> np.ndarray:
    """Reference: gather the three sub-matrices of K for each permutation."""
    out = np.empty(len(permutations))
    for b, perm in enumerate(permutations):
        s, t = perm[:m], perm[m:]
        out[b] = (
            kernel[np.ix_(s, s)].mean(dtype=np.float64)
            + kernel[np.ix_(t, t)].mean(dtype=np.float64)
            - 2.0 * kernel[np.ix_(s, t)].mean(dtype=np.float64)
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(setup())

    x = rotated_moons(N_PER_DOMAIN, seed=0, angle_deg=0.0)
    y = rotated_moons(N_PER_DOMAIN, seed=1, angle_deg=90.0)
    sigma = dv.median_bandwidth(x, y)
    cpu = torch.device("cpu")

    cases = [
        ("median bandwidth (2,000 pooled points)", lambda: dv.median_bandwidth(x, y)),
        ("MMD² biased (incl. bandwidth)", lambda: dv.mmd2(x, y)),
        ("MMD² biased (sigma given)", lambda: dv.mmd2(x, y, sigma=sigma)),
        ("MMD² unbiased (sigma given)", lambda: dv.mmd2(x, y, sigma=sigma, estimator="unbiased")),
        (
            "MMD² multi-bandwidth ×5 (sigma given)",
            lambda: dv.mmd2(x, y, sigma=sigma, bandwidth_multipliers=MULTIPLIERS),
        ),
        ("MMD² linear-time (sigma given)", lambda: dv.mmd2_linear(x, y, sigma=sigma)),
        ("CORAL distance", lambda: dv.coral_distance(x, y)),
        (
            "proxy A-distance, MLP, 3 seeds",
            lambda: dv.proxy_a_distance(x, y, "mlp", n_seeds=3, device=cpu).mean,
        ),
        (
            "proxy A-distance, linear, 3 seeds",
            lambda: dv.proxy_a_distance(x, y, "linear", n_seeds=3, device=cpu).mean,
        ),
        (
            f"MMD permutation test, {N_PERMUTATIONS} perms",
            lambda: dv.mmd_permutation_test(x, y, sigma=sigma, n_permutations=N_PERMUTATIONS).p_value,
        ),
    ]

    print(f"n = {N_PER_DOMAIN} per domain (two moons vs two moons rotated 90°), "
          f"torch threads = {torch.get_num_threads()}, repeats = {args.repeats}, sigma = {sigma:.4f}")
    print(f"{'divergence':<42} {'median ms':>10} {'value':>12}")
    print("-" * 66)
    timings = {}
    for name, fn in cases:
        seconds, value = median_seconds(fn, args.repeats)
        timings[name] = seconds
        print(f"{name:<42} {1000 * seconds:>10.2f} {float(value):>12.5g}")
    permutation_seconds = timings[cases[-1][0]]
    print("-" * 66)
    print(f"permutation test: {1e6 * permutation_seconds / N_PERMUTATIONS:.1f} µs per permutation "
          "(kernel matrix, bandwidth given, included)")

    # Matrix product vs naive loop, from the same kernel matrix and the same permutations.
    z = np.concatenate([x, y])
    kernel = dv._pooled_kernel_matrix(z - z.mean(axis=0), dv._gammas(sigma, None))
    permutations = np.random.default_rng(0).permuted(
        np.tile(np.arange(len(z)), (RATIO_PERMUTATIONS, 1)), axis=1
    )
    fast_s, fast = median_seconds(
        lambda: dv._permuted_biased_mmd2(kernel, N_PER_DOMAIN, permutations), args.repeats
    )
    naive_s, naive = median_seconds(
        lambda: naive_permutation_statistics(kernel, N_PER_DOMAIN, permutations), args.repeats
    )
    agree = np.max(np.abs(fast - naive))
    print(f"{RATIO_PERMUTATIONS} permutations from one kernel matrix: matrix product "
          f"{1000 * fast_s:.2f} ms, naive loop {1000 * naive_s:.2f} ms, "
          f"ratio {naive_s / fast_s:.1f}x (max |difference| {agree:.1e})")


if __name__ == "__main__":
    main()
