"""The work budget against the clock: each page's run at its defaults and at its largest allowed settings.

For every page the script builds the settings a visitor can reach (every widget at its maximum, every
list with all its choices, the scenario's sizes at their maximum), lowers what :mod:`core.budget`
names until the estimate fits :data:`core.budget.WORK_BUDGET_S`, then runs the page's computation
and prints the estimate beside the measured time. Run with nothing else on the machine::

    .venv/bin/python benchmarks/bench_budget.py [--only adaptation,finetune]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from _common import setup

from core import budget
from core.errors import InputError
from core.knobs import KnobSet
from core.labs import sweeps
from core.labs.adaptation import AdaptationPageSettings, run_adaptation
from core.labs.distillation import DistillationPageSettings, run_distillation
from core.labs.finetune_runs import LABEL_OPTIONS, FinetunePageSettings, pool_scenario, run_finetuning
from core.labs.forgetting import ForgettingPageSettings, run_forgetting
from core.labs.image_lab import ImagePageSettings, run_image_lab
from core.labs.negative_transfer import MAPS, TransferMapPageSettings
from core.labs.shift_matrix import ShiftMatrixPageSettings, shift_matrix
from core.metrics.shift_report import DivergenceSweepPageSettings, divergence_sweep, shift_report
from core.scenario import Scenario

OPENING = Scenario(rotation=35)
DIGITS = Scenario(dataset="digits", rotation=30)


def _adaptation(s: AdaptationPageSettings, sc: Scenario) -> None:
    run_adaptation(sc, s.methods_to_train(sc)[0], s.seeds, s.train_settings())


def _lambda_sweep(s: sweeps.LambdaSweepPageSettings, sc: Scenario) -> None:
    sweeps.lambda_sweep_with_models(sc, s.method, s.lambdas(), s.seeds, s.train_settings())


def _bound(s: sweeps.BoundPageSettings, sc: Scenario) -> None:
    sweeps.ben_david_sweep(sc, s.knob, s.values(), s.seeds, s.adapted_method())


def _finetune(s: FinetunePageSettings, sc: Scenario) -> None:
    run_finetuning(pool_scenario(sc), s.strategies_to_train(), s.labels_for(sc), s.seeds, s.finetune_settings())


def _transfer_map(s: TransferMapPageSettings, sc: Scenario) -> None:
    for knob, values in MAPS:
        run_finetuning(pool_scenario(sc), s.strategies_to_train(), s.labels_for(sc), s.seeds, s.finetune_settings(),
                       knob, values)


def _distillation(s: DistillationPageSettings, sc: Scenario) -> None:
    run_distillation(sc, s.seeds, s.distill_settings())


def _images(s: ImagePageSettings, sc: Scenario) -> None:
    run_image_lab(sc, s.seeds, s.lab_settings(), s.methods_to_train())


def _matrix(s: ShiftMatrixPageSettings, sc: Scenario) -> None:
    shift_matrix(s.cases, s.methods, s.seeds, s.train_settings())


def _forgetting(s: ForgettingPageSettings, sc: Scenario) -> None:
    run_forgetting(sc, s)


def _domain_shift(s: DivergenceSweepPageSettings, sc: Scenario) -> None:
    shift_report(sc)
    divergence_sweep(sc, s.knob_for(sc), s.points)


PAGES: dict[str, tuple[type[KnobSet], Scenario, Callable]] = {
    "domain_shift": (DivergenceSweepPageSettings, OPENING, _domain_shift),
    "adaptation": (AdaptationPageSettings, OPENING, _adaptation),
    "lambda_sweep": (sweeps.LambdaSweepPageSettings, OPENING, _lambda_sweep),
    "bound": (sweeps.BoundPageSettings, OPENING, _bound),
    "finetune": (FinetunePageSettings, OPENING, _finetune),
    "forgetting": (ForgettingPageSettings, OPENING, _forgetting),
    "negative_transfer": (TransferMapPageSettings, OPENING, _transfer_map),
    "distillation": (DistillationPageSettings, OPENING, _distillation),
    "image_domains": (ImagePageSettings, DIGITS, _images),
    "shift_matrix": (ShiftMatrixPageSettings, OPENING, _matrix),
}


def widest(settings: type[KnobSet], scenario: Scenario) -> budget.Request:
    """Every widget at its maximum, every list with all its choices, the scenario's sizes at their maximum
    (where the dataset allows them)."""
    values = {}
    for knob in settings.KNOBS:
        if knob.many:
            values[knob.name] = LABEL_OPTIONS if knob.name == "labels" else (knob.choices or knob.options)
        elif knob.kind is not str and knob.high is not None:
            values[knob.name] = knob.parse(knob.high)
    wide = settings.from_mapping(values)
    sizes = {name: int(scenario.knob_named(name).high) for name in budget.SIZE_KNOBS}
    try:
        scenario = scenario.replace(**sizes)
    except InputError:
        pass  # digits: the reservoirs set the sizes
    return budget.Request(wide, scenario)


def within_budget(request: budget.Request) -> tuple[budget.Request, list[str]]:
    """Lower what the budget names, one knob at a time, until the estimate fits."""
    lowered = []
    while request.work.seconds > budget.WORK_BUDGET_S:
        found = budget.knob_to_lower(request.cost, request.values, request.knobs)
        if found is None:  # no knob alone: the most raised one goes to its lowest, then look again
            knob = budget.most_raised(request.knobs, request.values, request.cost)
            found = knob, knob.parse(knob.low)
        knob, value = found
        lowered.append(f"{knob.name}={knob.text(value)}")
        request = request.with_values({**request.values, knob.name: value})
    return request, lowered


def timed(run: Callable, request: budget.Request) -> float:
    started = time.perf_counter()
    run(request.settings, request.scenario)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated page names")
    args = parser.parse_args()
    print(setup())
    print(f"budget {budget.WORK_BUDGET_S:g} s")
    _adaptation(AdaptationPageSettings(seeds=1, steps=10), OPENING)  # warm-up: imports, first kernels
    ratios = []
    for name, (settings, scenario, run) in PAGES.items():
        if args.only and name not in args.only.split(","):
            continue
        default = budget.Request(settings(), scenario)
        edge, lowered = within_budget(widest(settings, scenario))
        for label, request in (("defaults", default), ("largest allowed", edge)):
            estimate, measured = request.work.seconds, timed(run, request)
            ratios.append(measured / estimate)
            extra = f"  (lowered {', '.join(lowered)})" if label != "defaults" and lowered else ""
            print(f"{name:18s} {label:16s} estimate {estimate:6.1f} s  measured {measured:6.1f} s  "
                  f"measured/estimate {measured / estimate:4.2f}{extra}", flush=True)
    print(f"measured/estimate: median {statistics.median(ratios):.2f}, max {max(ratios):.2f}")


if __name__ == "__main__":
    main()
