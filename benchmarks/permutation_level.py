"""The MMD permutation test's level on the app's own no-shift scenarios: how often it rejects "no shift" when
there is none.

Run ``python benchmarks/permutation_level.py [--scenarios 200] [--permutations 200] [--alpha 0.05]
[--rotation 0]``: for data seeds 0 .. scenarios-1 it generates the default scenario (moons, 500 + 500 points,
no shift unless ``--rotation`` is given), runs the test on the source and the target pool, and prints the
rejection rate at ``alpha`` (without shift, a test that holds its level rejects about ``alpha`` of them, within
the binomial interval printed beside it; with a rotation, the rate is the test's power) and the mean p-value
(about 0.5 for a well-calibrated test without shift).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import setup

from core.data.domains import generate  # noqa: E402
from core.metrics.divergence import mmd_permutation_test  # noqa: E402
from core.scenario import Scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--rotation", type=float, default=0.0, help="degrees; 0 measures the level, >0 the power")
    args = parser.parse_args()
    print(setup())
    started = time.perf_counter()
    p_values = np.array([mmd_permutation_test(data.source_x, data.target_pool_x, n_permutations=args.permutations,
                                              seed=seed).p_value
                         for seed in range(args.scenarios)
                         for data in [generate(Scenario(seed=seed, rotation=args.rotation))]])
    rate = float((p_values < args.alpha).mean())
    half_width = 1.96 * np.sqrt(args.alpha * (1 - args.alpha) / args.scenarios)
    print(f"{args.scenarios} scenarios rotated {args.rotation:g}°, {args.permutations} permutations: rejection rate "
          f"at alpha {args.alpha:g}: {rate:.3f} (a test at its level: {args.alpha:g} ± {half_width:.3f}, 95% "
          f"binomial); mean p {p_values.mean():.3f} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
