"""Timings of the fine-tuning lab: the efficiency grid, batching, the maps, distillation and the pages.

Run ``python benchmarks/bench_finetune.py [--repeats 3] [--no-pages]``. Prints medians, side by
side in one run: (1) the issue's efficiency grid, 5 strategies × 6 label counts × 3 seeds = 90
models with pretraining, against its 10 s budget; (2) the fine-tuning phase of those 90 models
in one batch padded to the largest labelled set, in the engine's size buckets, and one at a time
with the same code (and the rotation map's, padded against bucketed); (3) the
Fine-tuning page's default grid (DANN pretraining included) against the grid of the 8 strategies
before issue 21 and against every strategy, the Negative
transfer page's two maps and the Distillation page's default run; (4) each page's first run and
cached rerun under AppTest. Set ``DSL_TORCH_THREADS=1`` for the served app's thread count and
``DSL_DEVICE=cuda`` (or let it pick) on a GPU machine.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import median_seconds, page_seconds, setup

from core.labs.distillation import run_distillation
from core.labs.finetune_runs import DEFAULT_STRATEGIES, OPTIONAL_STRATEGIES, prepare_finetuning, run_finetuning
from core.scenario import Scenario
from core.training.finetune import STRATEGIES, FinetuneSettings, fit_batched, fit_by_size

SCENARIO = Scenario(rotation=35)  # moons, noise 0.1, 500 source + 500 target pool, 1,000 test
GRID_STRATEGIES = ("scratch", "feature_extraction", "full_finetune", "progressive", "l2sp")
LABELS = (1, 2, 5, 10, 20, 50)
MAP_STRATEGIES = ("scratch", "feature_extraction", "full_finetune")
# the strategies issue 21 added to the page's default grid: its budget is 1.5× the grid's time without them
ADDED = ("ewc", "replay", "distill", "adapter", "self_supervised")
MAPS = (("rotation", (0, 30, 60, 90, 120, 150, 180)), ("concept", (0, 0.25, 0.5, 0.75, 1.0)))


def batching_seconds(repeats: int, *maps) -> tuple[dict[str, float], int]:
    """Seconds of a run's fine-tuning phase: one batch padded to the largest labelled set, the engine's
    size buckets (:func:`core.training.finetune.fit_by_size`), and one model at a time (same code)."""
    prepared = prepare_finetuning(SCENARIO if not maps else Scenario(), *(maps or (GRID_STRATEGIES, LABELS, 3)))
    n_models = len(prepared.plan)

    def one_at_a_time() -> None:
        for m in range(n_models):
            fit_batched(prepared.starts.select([m]).network(prepared.device), prepared.problem.select([m]))

    seconds = {"one padded batch": median_seconds(lambda: fit_batched(prepared.starts.network(prepared.device),
                                                                        prepared.problem), repeats)[0],
               "size buckets": median_seconds(lambda: fit_by_size(prepared.starts, prepared.problem,
                                                                  prepared.device), repeats)[0]}
    if not maps:
        seconds["one at a time"] = median_seconds(one_at_a_time, max(1, repeats // 2))[0]
    return seconds, n_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pages", action="store_true", help="skip the AppTest page timings")
    args = parser.parse_args()
    print(f"{setup()}; medians of {args.repeats}")

    wall, run = median_seconds(lambda: run_finetuning(SCENARIO, GRID_STRATEGIES, LABELS, 3), args.repeats)
    print(f"efficiency grid, {len(GRID_STRATEGIES)} strategies × {len(LABELS)} label counts × 3 seeds = "
          f"{len(run.points)} models (pretraining included) on {run.device}: {wall:.3f} s; budget 10 s, "
          f"ratio {wall / 10:.2f}")

    seconds, n_models = batching_seconds(args.repeats)
    print(f"  its fine-tuning phase, {n_models} models × {FinetuneSettings().epochs} epochs: "
          + ", ".join(f"{name} {value:.3f} s" for name, value in seconds.items())
          + f"; one at a time ÷ size buckets {seconds['one at a time'] / seconds['size buckets']:.1f}×")

    every = tuple(s.name for s in STRATEGIES)
    before = tuple(s for s in every if s not in ADDED)
    wall_before, _ = median_seconds(lambda: run_finetuning(SCENARIO, before, LABELS, 3), args.repeats)
    wall, run = median_seconds(lambda: run_finetuning(SCENARIO, DEFAULT_STRATEGIES, LABELS, 3), args.repeats)
    wall_every, _ = median_seconds(lambda: run_finetuning(SCENARIO, every, LABELS, 3), args.repeats)
    print(f"Fine-tuning page's default grid, {len(DEFAULT_STRATEGIES)} strategies (DANN pretraining for "
          f"adapt_finetune) = {len(run.points)} models: {wall:.3f} s; the {len(before)} strategies before issue 21: "
          f"{wall_before:.3f} s; ratio {wall / wall_before:.2f} (budget 1.5); every strategy ({len(every)}, with "
          f"{', '.join(OPTIONAL_STRATEGIES)}): {wall_every:.3f} s, ratio {wall_every / wall_before:.2f}")

    def both_maps():
        return [run_finetuning(Scenario(), MAP_STRATEGIES, LABELS, 3, knob=knob, values=values)
                for knob, values in MAPS]

    wall, runs = median_seconds(both_maps, args.repeats)
    print(f"Negative transfer page's two maps ({' and '.join(k for k, _ in MAPS)}), "
          f"{sum(len(r.points) for r in runs)} models: {wall:.3f} s")
    knob, values = MAPS[0]
    seconds, n_models = batching_seconds(args.repeats, MAP_STRATEGIES, LABELS, 3, FinetuneSettings(), knob, values)
    print(f"  the {knob} map's fine-tuning phase, {n_models} models: "
          f"one padded batch {seconds['one padded batch']:.3f} s, size buckets {seconds['size buckets']:.3f} s, "
          f"{seconds['one padded batch'] / seconds['size buckets']:.1f}× less")

    wall, run = median_seconds(lambda: run_distillation(SCENARIO, 3), args.repeats)
    students = len(run.rows) - 3
    print(f"distillation default, 3 teachers ({run.teacher_parameters} parameters) and {students} students "
          f"({run.student_parameters} parameters): {wall:.3f} s; soft student target acc. "
          f"{np.mean(run.accuracies('student_soft')):.3f}")

    if not args.no_pages:
        if torch.get_num_threads() > 1:
            print("(pages run their script in a thread of their own, where torch on more than one thread was 1.5-2× "
                  "slower here; the served app uses 1: DSL_TORCH_THREADS=1 gives its figures)")
        for page in ("finetune", "negative_transfer", "distillation"):
            first, rerun = page_seconds(page, args.repeats)
            print(f"page {page} (AppTest, whole script incl. figures): first run {first:.3f} s, "
                  f"cached rerun {rerun:.4f} s (budget 0.1 s, ratio {rerun / 0.1:.2f})")


if __name__ == "__main__":
    main()
