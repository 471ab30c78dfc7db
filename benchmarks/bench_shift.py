"""Timings of the Domain shift page's work: one scenario, every divergence, the sweep, a cached rerun.

Run ``python benchmarks/bench_shift.py [--repeats 7]`` (torch on 2 threads). Prints medians over
repeats (after a warm-up) for n = 1,000 points per domain, with the budgets of issue 2 beside them.
"""

from __future__ import annotations

import argparse

from _common import ROOT, median_seconds, setup

from core.data.domains import generate
from core.metrics import divergence
from core.metrics.shift_report import divergence_sweep, report_for_data
from core.scenario import Scenario

# 1,000 source points and 1,000 target points (900 pool + 100 test, no labelled ones).
SCENARIO = Scenario(n_source=1000, n_target=900, n_test=100, labels_per_class=0, rotation=35)


def permutation_test(scenario: Scenario) -> None:
    data = generate(scenario)
    divergence.mmd_permutation_test(data.source_x, data.target_x, n_permutations=500, seed=0)


def cached_page_rerun_seconds(repeats: int) -> float:
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "pages" / "domain_shift.py"), default_timeout=120)
    app.run()  # fills the caches
    return median_seconds(app.run, repeats)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    machine = setup()
    data = generate(SCENARIO)
    print(f"scenario: {SCENARIO.to_query()}  ({len(data.source_x)} source, {len(data.target_x)} target points)")
    print(f"{machine}; medians of {args.repeats}")
    rows = [
        ("generate the scenario", median_seconds(lambda: generate(SCENARIO), args.repeats)[0], None),
        ("MMD permutation test, 500 permutations",
         median_seconds(lambda: permutation_test(SCENARIO), args.repeats)[0], 1.0),
        ("generate + every divergence (the page's full report)",
         median_seconds(lambda: report_for_data(generate(SCENARIO)), args.repeats)[0], 0.3),
        ("divergence sweep, 9 rotations (page defaults)",
         median_seconds(lambda: divergence_sweep(Scenario(), "rotation", 9), max(3, args.repeats // 2))[0], None),
        ("Domain shift page rerun, cached scenario (AppTest)", cached_page_rerun_seconds(args.repeats), 0.1),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'what':<{width}}  {'median s':>9}  {'budget s':>8}  {'ratio':>6}")
    for name, seconds, budget in rows:
        ratio = f"{seconds / budget:6.2f}" if budget else ""
        print(f"{name:<{width}}  {seconds:9.4f}  {budget if budget else '':>8}  {ratio:>6}")


if __name__ == "__main__":
    main()
