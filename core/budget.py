"""The work budget: one estimate of what a request will cost, checked before anything runs.

Every page's run, every command and the transferability check describe what they are about to
compute as :class:`Work`: batched training loops (models × steps, and the rows a full-batch step
reads), permutation tests (permutations × points²) and the data they generate. One table of rates
turns that into seconds on 2 CPU cores; :func:`check` refuses a request above the budget with one
line that names the setting to lower and the largest value it may take with the others unchanged.

The rates were fitted to runs timed on the project's 2-core machine (torch with 2 threads), and
``.venv/bin/python benchmarks/bench_budget.py`` prints each page's estimate beside its measured time,
at its defaults and at the largest settings the budget allows. They lean high: an estimate is a promise
that a run fits the budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from core.errors import InputError
from core.knobs import Knob, KnobSet

SIZE_KNOBS = ("n_source", "n_target", "n_test")  # the scenario's knobs that size a run

WORK_BUDGET_S = 20.0  # the longest run a page (or, without --budget, a command) may start, on 2 CPU cores
LARGEST_BUDGET_S = 3600.0  # what --budget may raise it to on the command line
SHOW_ESTIMATE_FROM_S = 3.0  # pages say how long a run will take from this estimate on

# Mini-batch loops (core.training.train.train_models), MLP on points: each step costs a fixed part
# plus a part per model; a method's own term adds per step and per model of that method.
MINIBATCH_STEP_S = 2.2e-3
MINIBATCH_MODEL_STEP_S = 0.07e-3
METHOD_STEP_S: dict[str, tuple[float, float]] = {  # (per step when present, per model-step of the method)
    "target_only": (0.5e-3, 0.0), "finetune": (1.0e-3, 0.0), "mmd": (1.1e-3, 0.1e-3), "dann": (0.7e-3, 0.05e-3),
    "coral": (0.25e-3, 0.03e-3), "self_training": (0.65e-3, 0.0),
}
METHOD_RUN_S: dict[str, tuple[float, float]] = {  # (per run, per 1,000 target-pool points)
    "ot": (0.3, 0.05), "importance_weighting": (0.25, 0.13), "dann": (0.1, 0.0),
}
# self-training's label spreading over the pool, per (pool / 1,000)²: once, per step, per model-step
SPREADING_S = (0.09, 0.5e-3, 0.025e-3)
# The same loops on 16 × 16 images (a CNN), whatever the methods.
CNN_STEP_S = 12e-3
CNN_MODEL_STEP_S = 3.5e-3
# Full-batch loops (fine-tuning, distillation, the proxy A-distance's domain classifiers): a step of a
# group of models of one size, plus each model's rows.
FULL_BATCH_GROUP_STEP_S = 2.2e-3
FULL_BATCH_MODEL_STEP_S = 0.04e-3
FULL_BATCH_ROW_STEP_S = 0.21e-6  # per model, per row, per step
CNN_FULL_BATCH_STEP_S = 4e-3  # the same on images: per step of a group of models
CNN_FULL_BATCH_ROW_STEP_S = 0.025e-3  # and per model, per row (an image), per step
PERMUTATION_S = 0.15e-3  # one permutation of the MMD test, per (points / 1,000)²
KERNEL_S = 0.027  # an MMD statistic on every point (the kernel matrix), per (points / 1,000)²
SCORING_S = 1.0e-3  # one model's predictions, per 1,000 points
SNAPSHOT_S = 0.5e-3  # one model's snapshot for the live view and the replay (a plot grid, fixed points)
CRITERIA_S = 0.026  # the label-free criteria and feature MMD² of one model, per 1,000 points of the scenario
POINTS_S = 0.02  # generating, scoring and drawing, per 1,000 points of a dataset


@dataclass(frozen=True)
class Work:
    """What a request computes, as named parts with their estimated seconds on 2 CPU cores."""

    parts: tuple[tuple[str, float], ...] = ()

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.parts)

    def __add__(self, other: Work) -> Work:
        return Work(self.parts + other.parts)

    def times(self, count: int) -> Work:
        """This work done ``count`` times (a sweep's points)."""
        return Work(tuple((f"{name} × {count}", seconds * count) for name, seconds in self.parts))


def total(works: Iterable[Work]) -> Work:
    result = Work()
    for work in works:
        result = result + work
    return result


def minibatch_loop(steps: int, models_by_method: Mapping[str, int], pool: int = 0, images: bool = False) -> Work:
    """A batched mini-batch loop (:func:`core.training.train.train_models`): ``models_by_method`` models of each
    method trained for ``steps`` steps; ``pool`` target-pool points (self-training spreads labels over them)."""
    models = sum(models_by_method.values())
    if images:
        return Work(((f"{models} CNNs × {steps} steps", steps * (CNN_STEP_S + CNN_MODEL_STEP_S * models)),))
    per_step = MINIBATCH_STEP_S + MINIBATCH_MODEL_STEP_S * models
    once = 0.0
    for method, count in models_by_method.items():
        step, model_step = METHOD_STEP_S.get(method, (0.0, 0.0))
        per_step += step + model_step * count
        run, per_thousand = METHOD_RUN_S.get(method, (0.0, 0.0))
        once += run + per_thousand * pool / 1000
        if method == "self_training":
            once += SPREADING_S[0] * (pool / 1000) ** 2
            per_step += (SPREADING_S[1] + SPREADING_S[2] * count) * (pool / 1000) ** 2
    return Work(((f"{models} models × {steps} steps", steps * per_step + once),))


def full_batch_loop(steps: int, models: int, rows: int, groups: int = 1, images: bool = False) -> Work:
    """``models`` networks trained together full-batch for ``steps`` steps on ``rows`` rows each, in ``groups``
    loops of models of one size."""
    if images:
        per_step = CNN_FULL_BATCH_STEP_S * groups + CNN_FULL_BATCH_ROW_STEP_S * models * rows
    else:
        per_step = (FULL_BATCH_GROUP_STEP_S * groups + FULL_BATCH_MODEL_STEP_S * models
                    + FULL_BATCH_ROW_STEP_S * models * rows)
    return Work(((f"{models} full-batch models × {steps} steps", steps * per_step),))


def permutation_test(permutations: int, points: int) -> Work:
    return Work(((f"{permutations} permutations of {points} points", PERMUTATION_S * permutations
                  * (points / 1000) ** 2),))


def kernel_statistics(points: int, count: int = 1) -> Work:
    """``count`` MMD statistics between two samples of ``points`` points together."""
    return Work(((f"{count} MMD statistics on {points} points", count * KERNEL_S * (points / 1000) ** 2),))


def scoring(models: int, points: int) -> Work:
    """``models`` models predicting ``points`` points (test split, source)."""
    return Work(((f"{models} models scored on {points} points", SCORING_S * models * points / 1000),))


def snapshots(models: int, count: int) -> Work:
    """``count`` snapshots of ``models`` models (the live view and the replay of an adaptation run)."""
    return Work(((f"{count} snapshots of {models} models", SNAPSHOT_S * models * count),))


def model_criteria(models: int, points: int) -> Work:
    """The label-free selection criteria and the feature MMD² of ``models`` models on a scenario of ``points``."""
    return Work(((f"criteria of {models} models", CRITERIA_S * models * points / 1000),))


def data_points(points: int) -> Work:
    return Work(((f"{points} points", POINTS_S * points / 1000),))


def describe(seconds: float) -> str:
    """``about 12 s`` (whole seconds from 2 on, else ``under 2 s``)."""
    return "under 2 s" if seconds < 2 else f"about {math.ceil(seconds):.0f} s"


def _candidates(knobs: Iterable[Knob], values: Mapping[str, object], cost: Callable[[dict], float]) -> list[Knob]:
    """The numeric one-value knobs whose lowering shortens the run (λ does not), the most raised (against its
    default) first."""
    now = cost(dict(values))
    numeric = [k for k in knobs if k.kind in (int, float) and not k.many and k.low is not None
               and isinstance(values.get(k.name), (int, float)) and values[k.name] > k.low
               and cost({**values, k.name: k.parse(k.low)}) < now]
    return sorted(numeric, key=lambda k: -(values[k.name] / k.default if k.default else math.inf))


def _largest_within(knob: Knob, values: Mapping[str, object], cost: Callable[[dict], float],
                    limit: float) -> float | None:
    """The largest value of ``knob`` on its step grid, up to the current one, whose run is within ``limit``."""
    step = knob.step or 1
    low, current = float(knob.low), float(values[knob.name])
    grid_top = int(math.floor((current - low) / step + 1e-9))

    def fits(index: int) -> bool:
        return cost({**values, knob.name: knob.parse(low + index * step)}) <= limit

    if not fits(0):
        return None
    lo, hi = 0, grid_top
    while lo < hi:  # the cost grows with the knob: bisect for the last index that fits
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return knob.parse(low + lo * step)


def check(cost: Callable[[dict], float], values: Mapping[str, object], knobs: Iterable[Knob],
          name_of: Callable[[Knob], str] = lambda knob: knob.name, limit: float = WORK_BUDGET_S) -> float:
    """The estimated seconds of the request with ``values``; over ``limit``, an :class:`InputError` naming the
    knob to lower (the most raised one that alone brings the run within the limit) and its largest value.

    ``cost`` maps a dict of knob values to the estimated seconds (it is called again with one knob lowered).
    """
    seconds = cost(dict(values))
    if seconds <= limit:
        return seconds
    knobs = list(knobs)
    over = f"this run would take {describe(seconds)} on 2 CPU cores, over the {limit:g} s a run may take"
    lowered = knob_to_lower(cost, values, knobs, limit)
    if lowered is not None:
        knob, largest = lowered
        raise InputError(name_of(knob), f"{over}; with the other settings as they are, at most "
                                        f"{knob.text(largest)} (now {knob.text(values[knob.name])})")
    raise InputError(name_of(most_raised(knobs, values, cost)), f"{over}, even with one setting at its lowest: "
                                                                "lower several of them")


def most_raised(knobs: Iterable[Knob], values: Mapping[str, object], cost: Callable[[dict], float]) -> Knob:
    """The knob furthest above its default among those whose lowering shortens the run (else the first knob)."""
    knobs = list(knobs)
    return (_candidates(knobs, values, cost) or knobs)[0]


def knob_to_lower(cost: Callable[[dict], float], values: Mapping[str, object], knobs: Iterable[Knob],
                  limit: float = WORK_BUDGET_S) -> tuple[Knob, object] | None:
    """The most raised knob that alone brings the request within ``limit``, and its largest value there."""
    for knob in _candidates(knobs, values, cost):
        largest = _largest_within(knob, values, cost, limit)
        if largest is not None:
            return knob, largest
    return None


@dataclass(frozen=True)
class Request:
    """A page's ``settings`` (a KnobSet with a ``work(scenario)`` method) on ``scenario``, as :func:`check` sees it:
    the knobs it may name are the settings' own and the scenario's sizes (:data:`SIZE_KNOBS`)."""

    settings: KnobSet
    scenario: KnobSet
    work_of: Callable[[KnobSet, KnobSet], Work] | None = None  # instead of ``settings.work(scenario)``

    @property
    def values(self) -> dict:
        return {**self.scenario.to_dict(), **self.settings.to_dict()}

    @property
    def knobs(self) -> list[Knob]:
        return [*self.settings.KNOBS, *(self.scenario.knob_named(name) for name in self._sizes)]

    @property
    def _sizes(self) -> list[str]:
        return [name for name in SIZE_KNOBS if name in self.scenario.knob_names()]

    def with_values(self, values: Mapping[str, object]) -> Request:
        return Request(self.settings.replace(**{name: values[name] for name in self.settings.knob_names()}),
                       self.scenario.replace(**{name: values[name] for name in self._sizes}), self.work_of)

    def cost(self, values: Mapping[str, object]) -> float:
        return self.with_values(values).work.seconds

    @property
    def work(self) -> Work:
        if self.work_of is not None:
            return self.work_of(self.settings, self.scenario)
        return self.settings.work(self.scenario)

    def check(self, name_of: Callable[[Knob], str] = lambda knob: knob.name, limit: float = WORK_BUDGET_S) -> float:
        """:func:`check` for this request: its estimated seconds, or an :class:`InputError` over ``limit``."""
        return check(self.cost, self.values, self.knobs, name_of, limit)
