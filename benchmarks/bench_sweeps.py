"""Timings of the theory sweeps: a lambda grid trained as one batch, and the Ben-David bound sweep.

Run ``python benchmarks/bench_sweeps.py [--repeats 3]``. Prints medians against the budgets of
issue 4: a 16-lambda × 3-seed sweep ≤ 4 s, a 7-point × 3-seed Ben-David sweep ≤ 6 s.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import median_seconds, setup

from core.labs import sweeps
from core.scenario import Scenario

LAMBDAS = [0.0] + [float(v) for v in np.round(np.logspace(-2, 1, 15), 4)]  # 16 weights incl. 0
ROTATIONS = [0, 15, 30, 45, 60, 75, 90]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{setup()}; medians of {args.repeats}")
    scenario = Scenario(rotation=35)
    for method in sweeps.SWEEP_METHODS:
        seconds, answer = median_seconds(
            lambda method=method: sweeps.lambda_sweep(scenario, method, LAMBDAS, n_seeds=3), args.repeats)
        print(f"lambda sweep, {method}, 16 lambdas × 3 seeds = 48 models (one batch): {seconds:.3f} s "
              f"(training {answer['train_seconds']:.3f} s); budget 4 s, ratio {seconds / 4:.2f}")
    seconds, _ = median_seconds(lambda: sweeps.ben_david_sweep(Scenario(), "rotation", ROTATIONS, n_seeds=3),
                                args.repeats)
    print(f"Ben-David sweep, 7 rotations × 3 seeds (source-only, oracle joint, proxy A-distance): {seconds:.3f} s; "
          f"budget 6 s, ratio {seconds / 6:.2f}")
    seconds, _ = median_seconds(lambda: sweeps.ben_david_sweep(Scenario(), "rotation", ROTATIONS, n_seeds=3,
                                                               adapted="dann"), args.repeats)
    print(f"the same with an adapted method (dann): {seconds:.3f} s; budget 6 s, ratio {seconds / 6:.2f}")


if __name__ == "__main__":
    main()
