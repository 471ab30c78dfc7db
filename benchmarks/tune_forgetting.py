"""The remedies for forgetting on the tuning data seeds (never on the reported ones): how much source accuracy
full fine-tuning, L2-SP, EWC, replay and distillation keep, and how much target accuracy they reach, at several
strengths; and the adapters' target accuracy at several bottleneck widths.

Rotation 35°, 5 labels per class, 3 model seeds per data seed; prints the mean over data seeds 101-103 of the
mean over model seeds. The defaults of EWC's λ, replay's k and distillation's β (the strength that kept the most
source accuracy while costing at most 0.5 points of target accuracy against full fine-tuning) and the adapters'
width r (the most accurate on the target) were read off this table::

    .venv/bin/python benchmarks/tune_forgetting.py [--data-seeds 101,102,103]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from _common import setup

from core.labs.finetune_runs import pool_scenario, run_finetuning
from core.scenario import OPENING
from core.training.finetune import FinetuneSettings

VARIANTS = [("full_finetune", {}), ("l2sp", {"l2sp_weight": 1.0})]
VARIANTS += [("ewc", {"ewc_weight": w}) for w in (1.0, 10.0, 100.0, 1000.0)]
VARIANTS += [("replay", {"replay_per_class": k}) for k in (1, 5, 20)]
VARIANTS += [("distill", {"distill_weight": w}) for w in (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)]
VARIANTS += [("adapter", {"adapter_width": r}) for r in (2, 4, 8, 16)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seeds", default="101,102,103")
    parser.add_argument("--labels", type=int, default=5)
    args = parser.parse_args()
    print(setup())
    table: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for data_seed in (int(s) for s in args.data_seeds.split(",")):
        scenario = pool_scenario(OPENING.replace(seed=data_seed))
        for strategy, changes in VARIANTS:
            run = run_finetuning(scenario, (strategy,), (args.labels,), 3, FinetuneSettings(**changes))
            points = [p for p in run.points if p["strategy"] == strategy and not p["diverged"]]
            name = strategy + "".join(f" {k}={v:g}" for k, v in changes.items())
            table[name].append((np.mean([p["target_acc"] for p in points]), np.mean([p["source_acc"] for p in points])))
    print(f"{'variant':<28}{'target acc':>12}{'source acc':>12}")
    for name, rows in table.items():
        target, source = np.mean(rows, axis=0)
        print(f"{name:<28}{target:>12.3f}{source:>12.3f}")


if __name__ == "__main__":
    main()
