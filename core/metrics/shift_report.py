"""Everything the Domain Shift page and ``python -m core shift`` report about a scenario."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from core.budget import (
    SIZE_KNOBS,
    WORK_BUDGET_S,
    Work,
    check,
    data_points,
    full_batch_loop,
    kernel_statistics,
    permutation_test,
)
from core.data.domains import DomainData, generate
from core.errors import InputError
from core.knobs import BY_METHOD, Knob, KnobSet
from core.metrics import divergence
from core.scenario import KNOBS_BY_NAME, Scenario

DEFAULT_PERMUTATIONS = 500
DEFAULT_PAD_SEEDS = 3
MAX_PERMUTATIONS = 10_000  # the permutation matrix is [points, permutations] float32: 160 MB at 4,000 points
PERMUTATIONS_KNOB = Knob("permutations", int, DEFAULT_PERMUTATIONS, "Permutations",
                         "Permutations of the MMD test.", low=1, high=MAX_PERMUTATIONS, step=1)
PAD_SEEDS_KNOB = Knob("pad_seeds", int, DEFAULT_PAD_SEEDS, "Domain-classifier seeds",
                      "Seeds of the proxy A-distance's domain classifier.", low=1, high=20, step=1)
SIGNIFICANCE = 0.05  # the level at which the permutation test's p-value reads as "a shift"
SOURCE_RULE_NEIGHBOURS = 15  # the source's rule, as a k-nearest-neighbour classifier fitted on the source
# The range each knob is swept over on the divergence-growth chart (neutral value first);
# invert, blur and background apply to digits only (see sweep_knobs).
SWEEP_RANGES: dict[str, tuple[float, float]] = {
    "rotation": (0.0, 180.0),
    "shift_x": (0.0, 3.0),
    "shift_y": (0.0, 3.0),
    "scale": (1.0, 3.0),
    "target_noise": (0.0, 1.0),
    "selection": (0.0, 3.0),
    "invert": (0.0, 1.0),
    "blur": (0.0, 2.0),
    "background": (0.0, 1.0),
    "prior": (0.0, 1.0),
    "concept": (0.0, 1.0),
}


SWEEP_POINTS = 9  # the Domain shift page's default number of points along the swept knob


def knob_label(name: str) -> str:
    return KNOBS_BY_NAME[name].label


@dataclass(frozen=True)
class DivergenceSweepPageSettings(KnobSet):
    """The Domain shift page's sweep: which knob, how many points along its range (:data:`SWEEP_RANGES`)."""

    knob: str = "rotation"
    points: int = SWEEP_POINTS
    LEARNS: ClassVar[str] = BY_METHOD  # what its models learn from: its transfer setting
    KNOBS: ClassVar[tuple[Knob, ...]] = (
        Knob("knob", str, "rotation", "Knob to sweep", "Every other knob stays as in the sidebar.",
             choices=tuple(SWEEP_RANGES), display=knob_label),
        Knob("points", int, SWEEP_POINTS, "Points", "Values of the knob, evenly spaced over its range.", low=5,
             high=13, step=2),
    )

    def work(self, scenario: Scenario) -> Work:
        """The page's report and its sweep's domain classifiers (for :mod:`core.budget`)."""
        rows = scenario.n_source + scenario.n_target
        sweep = (full_batch_loop(divergence.PAD_STEPS, DEFAULT_PAD_SEEDS * self.points, rows)
                 + (kernel_statistics(rows) + data_points(rows)).times(self.points))
        return report_work(scenario) + sweep

    def knob_for(self, scenario: Scenario) -> str:
        """The chosen knob, or the first one the scenario's dataset offers when it does not apply there."""
        offered = sweep_knobs(scenario)
        return self.knob if self.knob in offered else offered[0]


def sweep_knobs(scenario: Scenario) -> tuple[str, ...]:
    """The knobs of :data:`SWEEP_RANGES` that apply to the scenario's dataset, in that order."""
    return tuple(name for name in SWEEP_RANGES if KNOBS_BY_NAME[name].applies(scenario.dataset))


@dataclass(frozen=True)
class ShiftReport:
    """The divergences between all source points and all target points of a scenario.

    ``mmd2`` is the biased V-statistic (never negative); ``mmd2_unbiased`` the U-statistic
    (can be slightly negative under no shift). Kernel ``exp(-||x-y||² / (2σ²))`` with σ =
    ``mmd_bandwidth``, the median pairwise distance on the pooled sample. ``per_class_mmd2``
    uses target labels: an oracle quantity, for explanation only.
    """

    scenario: Scenario
    n_source: int
    n_target: int
    mmd_bandwidth: float
    mmd2: float
    mmd2_unbiased: float
    mmd2_multi_bandwidth: float
    mmd2_linear: float
    mmd_pvalue: float
    mmd_permutations: int
    mmd_pvalue_points: tuple[int, int]
    proxy_a_distance: float
    proxy_a_distance_std: float
    proxy_a_distance_per_seed: tuple[float, ...]
    proxy_a_classifier: str
    proxy_a_distance_linear: float
    proxy_a_distance_linear_std: float
    proxy_a_linear_classifier: str
    coral_distance: float
    per_class_mmd2: dict[int, float] = field(default_factory=dict)
    source_rule_accuracy: float | None = None  # oracle: the source's kNN rule scored on the target's labels
    chance_accuracy: float | None = None  # the largest target class's share: what one constant guess scores

    def label_swap(self) -> str | None:
        """A warning when the inputs look alike (no significant MMD) while the source's own rule labels the
        target worse than one constant guess would: the classes swapped places (moons rotated 180°, concept
        shift). ``None`` otherwise. The accuracy is an oracle quantity and says so."""
        if self.mmd_pvalue < SIGNIFICANCE or self.source_rule_accuracy is None or self.chance_accuracy is None:
            return None
        if self.source_rule_accuracy >= self.chance_accuracy:
            return None
        return (f"The inputs look alike (MMD permutation p = {self.mmd_pvalue:.3f}), yet the source's own rule "
                f"({SOURCE_RULE_NEIGHBOURS}-nearest neighbours on the source) labels only "
                f"{self.source_rule_accuracy:.1%} of the target correctly (oracle: uses the target's labels), below "
                f"the {self.chance_accuracy:.1%} of always guessing its largest class: the labels moved while the "
                "inputs stayed (a map that sends each class onto another, as moons rotated 180° or XOR rotated "
                "90°, or a change of P(y | x)). No test on the inputs and no unsupervised method can see that; "
                "only target labels can.")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; ``scenario`` holds every key of the scenario."""
        out = asdict(self)
        out["scenario"] = self.scenario.to_dict()
        out["per_class_mmd2"] = {str(k): v for k, v in self.per_class_mmd2.items()}
        out["mmd_pvalue_points"] = list(self.mmd_pvalue_points)
        out["proxy_a_distance_per_seed"] = list(self.proxy_a_distance_per_seed)
        out["label_swap"] = self.label_swap()
        return out


def report_for_data(data: DomainData, n_permutations: int = DEFAULT_PERMUTATIONS,
                    pad_seeds: int = DEFAULT_PAD_SEEDS) -> ShiftReport:
    """Compute every divergence on exactly the points of ``data`` (all source vs all target)."""
    seed = data.scenario.seed
    source, target = data.source_x, data.target_x
    sigma = divergence.median_bandwidth(source, target, seed=seed)
    test = divergence.mmd_permutation_test(source, target, sigma=sigma, n_permutations=n_permutations,
                                           seed=seed)
    pad = divergence.proxy_a_distance(source, target, classifier="mlp", n_seeds=pad_seeds, seed=seed)
    pad_linear = divergence.proxy_a_distance(source, target, classifier="linear", n_seeds=pad_seeds, seed=seed)
    biased, unbiased = divergence.mmd2_estimates(source, target, sigma=sigma)
    return ShiftReport(
        scenario=data.scenario,
        n_source=len(source),
        n_target=len(target),
        mmd_bandwidth=float(sigma),
        mmd2=biased,
        mmd2_unbiased=unbiased,
        mmd2_multi_bandwidth=float(divergence.mmd2(source, target, sigma=sigma, estimator="biased",
                                                   bandwidth_multipliers=(0.25, 0.5, 1.0, 2.0, 4.0))),
        mmd2_linear=float(divergence.mmd2_linear(source, target, sigma=sigma, seed=seed)),
        mmd_pvalue=float(test.p_value),
        mmd_permutations=int(test.n_permutations),
        mmd_pvalue_points=(int(test.n_source_used), int(test.n_target_used)),
        proxy_a_distance=float(pad.mean),
        proxy_a_distance_std=float(pad.std),
        proxy_a_distance_per_seed=tuple(float(v) for v in pad.per_seed),
        proxy_a_classifier=pad.classifier,
        proxy_a_distance_linear=float(pad_linear.mean),
        proxy_a_distance_linear_std=float(pad_linear.std),
        proxy_a_linear_classifier=pad_linear.classifier,
        coral_distance=float(divergence.coral_distance(source, target)),
        per_class_mmd2=divergence.per_class_mmd2(source, data.source_y, target, data.target_y_oracle,
                                                 sigma=sigma),
        source_rule_accuracy=source_rule_accuracy(data),
        chance_accuracy=float(np.bincount(data.target_y_oracle).max() / max(1, len(data.target_y_oracle))),
    )


def source_rule_accuracy(data: DomainData) -> float:
    """Oracle: the share of target points that a :data:`SOURCE_RULE_NEIGHBOURS`-nearest-neighbour classifier
    fitted on the source labels correctly (it uses the target's labels, for explanation only)."""
    from sklearn.neighbors import KNeighborsClassifier

    rule = KNeighborsClassifier(n_neighbors=min(SOURCE_RULE_NEIGHBOURS, len(data.source_y)))
    rule.fit(data.source_x, data.source_y)
    return float((rule.predict(data.target_x) == data.target_y_oracle).mean())


def report_work(scenario: Scenario, n_permutations: int = DEFAULT_PERMUTATIONS,
                pad_seeds: int = DEFAULT_PAD_SEEDS) -> Work:
    """What :func:`shift_report` computes: the permutation test and two families of domain classifiers."""
    rows = scenario.n_source + scenario.n_target
    tested = sum(min(n, divergence.PERMUTATION_POINTS) for n in (scenario.n_source, scenario.n_target))
    return (permutation_test(n_permutations, tested) + full_batch_loop(divergence.PAD_STEPS, pad_seeds, rows).times(2)
            + kernel_statistics(rows, count=2) + data_points(rows + scenario.n_test))


def report_budget(scenario: Scenario, n_permutations: int = DEFAULT_PERMUTATIONS,
                  pad_seeds: int = DEFAULT_PAD_SEEDS, name_of: Callable[[Knob], str] = lambda knob: knob.name,
                  limit: float = WORK_BUDGET_S) -> float:
    """:func:`core.budget.check` for :func:`shift_report`: the permutations, the seeds or the scenario's sizes to
    lower when over ``limit``."""
    sizes = list(SIZE_KNOBS)

    def cost(values: dict) -> float:
        resized = scenario.replace(**{name: values[name] for name in sizes})
        return report_work(resized, values["permutations"], values["pad_seeds"]).seconds

    values = {"permutations": n_permutations, "pad_seeds": pad_seeds, **{n: getattr(scenario, n) for n in sizes}}
    knobs = [PERMUTATIONS_KNOB, PAD_SEEDS_KNOB, *(scenario.knob_named(name) for name in sizes)]
    return check(cost, values, knobs, name_of, limit)


def shift_report(scenario: Scenario, n_permutations: int = DEFAULT_PERMUTATIONS,
                 pad_seeds: int = DEFAULT_PAD_SEEDS) -> ShiftReport:
    """Generate the scenario's domains and compute every divergence."""
    return report_for_data(generate(scenario), n_permutations=n_permutations, pad_seeds=pad_seeds)


def sweep_values(knob: str, n_points: int) -> list[float]:
    """Evenly spaced values over the knob's sweep range, in the knob's canonical form."""
    low, high = SWEEP_RANGES[knob]
    return sorted({KNOBS_BY_NAME[knob].parse(float(v)) for v in np.linspace(low, high, n_points)})


def sweep_base(scenario: Scenario, knob: str) -> Scenario:
    """The scenario with the swept ``knob`` at its default: a sweep sets that knob at every point, so its result
    does not depend on the scenario's own value, and moving that knob can reuse the sweep (its cache key)."""
    return scenario.replace(**{knob: KNOBS_BY_NAME[knob].default})


def divergence_sweep(scenario: Scenario, knob: str, n_points: int = 9,
                     pad_seeds: int = DEFAULT_PAD_SEEDS) -> list[dict[str, float]]:
    """MMD² and proxy A-distance (MLP) at evenly spaced values of one knob, others as in ``scenario``.

    The domain classifiers of every point and seed are trained as one batched program.
    """
    if knob not in sweep_knobs(scenario):
        raise InputError("knob", f"expected one of {', '.join(sweep_knobs(scenario))} with dataset={scenario.dataset}, "
                                 f"got {knob!r}")
    values = sweep_values(knob, n_points)
    datasets = [generate(scenario.replace(**{knob: value})) for value in values]
    pairs = [(d.source_x, d.target_x) for d in datasets]
    pads = divergence.proxy_a_distance_many(pairs, classifier="mlp", n_seeds=pad_seeds, seed=scenario.seed)
    points = []
    for value, (source, target), pad in zip(values, pairs, pads):
        sigma = divergence.median_bandwidth(source, target, seed=scenario.seed)
        points.append({
            "value": value,
            "mmd2": float(divergence.mmd2(source, target, sigma=sigma, estimator="biased")),
            "mmd_bandwidth": float(sigma),
            "proxy_a_distance": float(pad.mean),
            "proxy_a_distance_std": float(pad.std),
        })
    return points
