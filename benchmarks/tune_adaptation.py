"""The adaptation defaults on the tuning scenarios: data seeds that no reported figure uses.

Defaults (steps, rates, schedules, the pseudo-label spreading) are chosen by this script's figures, never on the
reported scenarios (data seed 0, the README's tables) nor on any target test split of them:
``python benchmarks/tune_adaptation.py [--data-seeds 101-110] [--rotations 35,50] [--seeds 5]``.

For each rotation it trains every method × model seed on each tuning data seed (moons, noise 0.1, 500 + 500
points, the app's default :class:`~core.training.train.TrainSettings`) and prints per method: the mean over data
seeds of the mean target accuracy over model seeds, the mean over data seeds of the sd over model seeds, and the
worst data seed's mean.
"""

from __future__ import annotations

import argparse
import statistics

from _common import setup

from core.labs.adaptation import run_adaptation  # noqa: E402
from core.scenario import Scenario  # noqa: E402
from core.training.methods import METHODS_BY_NAME  # noqa: E402


def _seed_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seeds", default="101-110", help="tuning data seeds, a range such as 101-110")
    parser.add_argument("--rotations", default="35,50")
    parser.add_argument("--seeds", type=int, default=5, help="model seeds per data seed")
    parser.add_argument("--methods", default=",".join(METHODS_BY_NAME))
    args = parser.parse_args()
    print(setup())
    methods = args.methods.split(",")
    data_seeds = _seed_range(args.data_seeds)
    for rotation in (float(r) for r in args.rotations.split(",")):
        means: dict[str, list[float]] = {m: [] for m in methods}
        sds: dict[str, list[float]] = {m: [] for m in methods}
        for data_seed in data_seeds:
            run = run_adaptation(Scenario(rotation=rotation, seed=data_seed), methods, args.seeds)
            for row in run.summary():
                means[row["method"]].append(row["target_acc_mean"])
                sds[row["method"]].append(row["target_acc_sd"])
        print(f"\nrotation {rotation:g}°, data seeds {args.data_seeds}, {args.seeds} model seeds each")
        print(f"{'method':<16}{'mean acc':>10}{'mean sd':>10}{'worst seed':>12}")
        for method in methods:
            print(f"{method:<16}{statistics.mean(means[method]):>10.3f}{statistics.mean(sds[method]):>10.3f}"
                  f"{min(means[method]):>12.3f}")


if __name__ == "__main__":
    main()
