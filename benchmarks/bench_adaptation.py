"""Timings of the adaptation engine: the page's default run, batching, and the device in use.

Run ``python benchmarks/bench_adaptation.py [--repeats 5]``. Prints medians, side by side in
one run: (0) the cost of the default run's snapshots (live frames and replay) and what its replay weighs;
(1) the Adaptation page's default run (every method × 3 seeds, 500 + 500 points),
uncached, against its 3 s budget, and the whole page's first run and cached rerun (AppTest,
budget 0.1 s); (2) 16 models trained as one batch against the same 16 trained one after
another with the same code, and the ratio (budget: ≥ 5×), for a mixed batch and per method.
"""

from __future__ import annotations

import argparse
import statistics

from _common import median_seconds, page_seconds, setup

from core.data.domains import generate
from core.labs.adaptation import run_adaptation
from core.scenario import Scenario
from core.training.methods import METHODS_BY_NAME
from core.training.train import ModelSpec, TrainSettings, train_models

SCENARIO = Scenario(rotation=35)  # moons, noise 0.1, 500 source + 500 target pool, 1,000 test
BATCH_METHODS = ("source_only", "mmd", "dann", "coral")  # × 4 seeds = 16 models


def default_run(replay: bool = True) -> float:
    run = run_adaptation(SCENARIO, list(METHODS_BY_NAME), n_seeds=3, replay=replay)
    return run.train_seconds


def replay_cost(repeats: int) -> str:
    """The default run's training with and without its snapshots (interleaved), and what its replay weighs."""
    with_replay, without = [], []
    for _ in range(repeats):
        with_replay.append(default_run(True))
        without.append(default_run(False))
    on, off = statistics.median(with_replay), statistics.median(without)
    frames: list = []
    run = run_adaptation(SCENARIO, list(METHODS_BY_NAME), n_seeds=3, on_frame=frames.append)
    return (f"snapshots ({len(run.replay.steps)} of them, {len(run.replay.points.x)} points, "
            f"{len(run.replay.xs)}² grid): training {on:.3f} s with, {off:.3f} s without: +{on / off - 1:.0%} "
            f"(budget +20%); the replay weighs {run.replay.n_bytes / 1e6:.2f} MB; {len(frames)} live frames")


def sixteen_specs() -> list[ModelSpec]:
    return [ModelSpec(method, seed, 1.0) for method in BATCH_METHODS for seed in range(4)]


def batching_ratio(inputs, specs, settings, repeats: int) -> tuple[float, float]:
    """Seconds for ``specs`` trained as one batch and one after another (same code)."""
    batched, _ = median_seconds(lambda: train_models(inputs, specs, settings, n_classes=2), repeats)
    one_by_one, _ = median_seconds(lambda: [train_models(inputs, [spec], settings, n_classes=2) for spec in specs],
                                   max(1, repeats // 2))
    return batched, one_by_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{setup()}; medians of {args.repeats}")
    inputs = generate(SCENARIO).training_inputs()
    settings = TrainSettings()

    first, rerun = page_seconds("adaptation", args.repeats)
    print(f"Adaptation page at its defaults (AppTest, whole script incl. figures): first run {first:.3f} s "
          f"(budget 3 s), cached rerun {rerun:.4f} s (budget 0.1 s, ratio {rerun / 0.1:.2f})")
    wall, train_seconds = median_seconds(default_run, args.repeats)
    n_models = len(METHODS_BY_NAME) * 3
    print(f"default run, {len(METHODS_BY_NAME)} methods × 3 seeds = {n_models} models, {settings.steps} steps: "
          f"{wall:.3f} s wall (training {train_seconds:.3f} s); budget 3 s, ratio {wall / 3:.2f}")

    print(replay_cost(args.repeats))

    batched, one_by_one = batching_ratio(inputs, sixteen_specs(), settings, args.repeats)
    print(f"16 models ({', '.join(BATCH_METHODS)} × 4 seeds): batched {batched:.3f} s, one after another "
          f"{one_by_one:.3f} s, speed-up {one_by_one / batched:.1f}× (budget ≥ 5×); "
          f"{batched / 16 * 1000:.1f} ms per model batched")
    for method in METHODS_BY_NAME:
        if method in ("target_only", "finetune"):
            continue
        specs = [ModelSpec(method, seed, 1.0) for seed in range(16)]
        batched, one_by_one = batching_ratio(inputs, specs, settings, 1)
        print(f"  16 × {method:<14} batched {batched:.3f} s, one after another {one_by_one:.3f} s, "
              f"speed-up {one_by_one / batched:.1f}×")

if __name__ == "__main__":
    main()
