"""Sweeps of trained models: the alignment weight lambda, and the terms of the Ben-David bound.

``lambda_sweep`` trains a whole lambda grid × seeds as ONE batched job (lambda is a per-model
tensor in the trainer). ``ben_david_sweep`` estimates, at each value of a scenario knob, the
terms of Ben-David et al. (2010): ``eps_T(h) <= eps_S(h) + 1/2 d_HΔH(S, T) + lambda*``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from core.budget import Work, data_points, full_batch_loop, minibatch_loop, model_criteria
from core.data.domains import DomainData, TrainingInputs, generate
from core.errors import InputError
from core.knobs import POOL_ONLY, Knob, KnobSet, seeds_knob
from core.labs.adaptation import check_seeds, method_label, model_seed, score_models
from core.labs.lambda_models import LAMBDA_HIGH, LAMBDA_LOW, lambda_grid, selection_json, summarise
from core.labs.model_selection import CRITERIA, criterion_scores
from core.metrics import divergence
from core.metrics.shift_report import SWEEP_RANGES, knob_label
from core.scenario import KNOBS_BY_NAME, NUMERIC_KNOBS, Scenario
from core.training.methods import METHODS, SWEEP_METHODS
from core.training.train import ModelSpec, TrainedModels, TrainSettings, steps_knob, train_models

FEATURE_MMD_POINTS = 500  # target test points used for the feature-space MMD² of each model
BOUND_RANGES = {**SWEEP_RANGES, "rotation": (0.0, 90.0)}  # where the bound page sweeps each knob
NO_ADAPTED = "none"
BOUND_ADAPTABLE = tuple(m.name for m in METHODS if m.aligns)
BELOW_MEASURED_WHY = (  # why a seed's estimated bound can fall below its measured target error
    "the bound holds for the true terms, but the estimates can sum below the measured error: ε_S is the source "
    "training error (optimistic); the proxy A-distance estimates d_H with one MLP family, not d_HΔH; λ* is "
    "estimated on finite samples")


@dataclass(frozen=True)
class LambdaSweepPageSettings(KnobSet):
    """The MMD-vs-λ page's form, and ``python -m core sweep``'s flags (``--lambdas`` there overrides the grid)."""

    method: str = "mmd"
    count: int = 12
    seeds: int = 3
    steps: int = TrainSettings.steps
    LEARNS: ClassVar[str] = POOL_ONLY  # what its models learn from: its transfer setting
    KNOBS: ClassVar[tuple[Knob, ...]] = (
        Knob("method", str, "mmd", "Method", "MMD penalises λ × MMD² between source and target features; DANN trains "
             "a domain classifier whose gradient reaches the features reversed and scaled by λ.",
             choices=SWEEP_METHODS, display=method_label),
        Knob("count", int, 12, "Values of λ", f"λ = 0 (source-only training) plus this many minus one values, "
             f"log-spaced from {LAMBDA_LOW:g} to {LAMBDA_HIGH:g}.", low=3, high=32, step=1),
        seeds_knob("Models per λ from different initialisations and mini-batches; the bands span the seeds' min to "
                   "max."),
        steps_knob(f"Adam steps per model, each on a mini-batch of {TrainSettings.batch_size} source and "
                   f"{TrainSettings.batch_size} target points."),
    )

    def lambdas(self) -> tuple[float, ...]:
        return lambda_grid(self.count)

    def work(self, scenario: Scenario) -> Work:
        """Every λ × seed as one batch (for :mod:`core.budget`)."""
        points = scenario.n_source + scenario.n_target + scenario.n_test
        return (minibatch_loop(self.steps, {self.method: self.count * self.seeds}, scenario.n_target,
                               scenario.is_image)
                + model_criteria(self.count * self.seeds, points) + data_points(points))

    def train_settings(self) -> TrainSettings:
        return TrainSettings(steps=self.steps)


@dataclass(frozen=True)
class BoundPageSettings(KnobSet):
    """The Ben-David page's form, and ``python -m core bound``'s flags (``--vary`` there overrides knob and
    points)."""

    knob: str = "rotation"
    points: int = 7
    seeds: int = 3
    adapted: str = "dann"
    LEARNS: ClassVar[str] = POOL_ONLY  # what its models learn from: its transfer setting
    KNOBS: ClassVar[tuple[Knob, ...]] = (
        Knob("knob", str, "rotation", "Knob to sweep", "Every other knob stays as in the scenario; the values are "
             "evenly spaced over the knob's range (rotation 0 to 90°).", choices=tuple(BOUND_RANGES),
             display=knob_label),
        Knob("points", int, 7, "Points", "Values of the knob, evenly spaced.", low=3, high=9, step=1),
        seeds_knob("Models and domain classifiers per point; the bound's terms are means over seeds."),
        Knob("adapted", str, "dann", "Adapted model", "Also measure this method's target error (none: the "
             "source-only model only).", choices=(NO_ADAPTED, *BOUND_ADAPTABLE),
             display=lambda name: name if name == NO_ADAPTED else method_label(name)),
    )

    def values(self) -> tuple[float, ...]:
        """The knob's values: :attr:`points` evenly spaced over its range, as the knob rounds them."""
        low, high = BOUND_RANGES[self.knob]
        knob = KNOBS_BY_NAME[self.knob]
        return tuple(dict.fromkeys(knob.parse(float(v)) for v in np.linspace(low, high, self.points)))

    def adapted_method(self) -> str | None:
        return None if self.adapted == NO_ADAPTED else self.adapted

    def work(self, scenario: Scenario) -> Work:
        """Per point: the source-only (and adapted) models and the ideal joint ones; every point's domain
        classifiers as one batch (for :mod:`core.budget`)."""
        methods = {"source_only": self.seeds, **({self.adapted: self.seeds} if self.adapted_method() else {})}
        steps = TrainSettings.steps
        points, rows = len(self.values()), scenario.n_source + scenario.n_target
        point = (minibatch_loop(steps, methods, scenario.n_target, scenario.is_image)
                 + minibatch_loop(steps, {"source_only": self.seeds}, scenario.n_target, scenario.is_image)
                 + data_points(rows + scenario.n_test))
        return point.times(points) + full_batch_loop(divergence.PAD_STEPS, self.seeds * points, rows)


def _n_classes(data: DomainData) -> int:
    return max(set(data.source_classes) | set(data.target_classes)) + 1


def parse_numbers(text: str, field: str, most: int) -> list[float]:
    """``"0,0.1,1"`` -> ``[0.0, 0.1, 1.0]``, at most ``most`` values (each one more run); a one-line error names
    ``field`` otherwise."""
    parts = [part for part in text.split(",") if part.strip()]
    if len(parts) > most:
        raise InputError(field, f"expected at most {most} comma-separated numbers, got {len(parts)}")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise InputError(field, f"expected comma-separated numbers, got {text[:80]!r}") from None
    if not values or not all(np.isfinite(values)):
        raise InputError(field, f"expected comma-separated numbers, got {text[:80]!r}")
    return values


def feature_mmd2(trained, data: DomainData, seed: int = 0) -> np.ndarray:
    """Biased MMD² between source and target-test features of every model (median-heuristic σ per model)."""
    rng = np.random.default_rng(seed)
    test = data.target_test_x[rng.permutation(len(data.target_test_x))[:FEATURE_MMD_POINTS]]
    source_features, target_features = trained.features(data.source_x), trained.features(test)
    return np.array([divergence.mmd2(s, t) for s, t in zip(source_features, target_features)])


def lambda_sweep(scenario: Scenario, method: str, lambdas: Sequence[float], n_seeds: int = 3,
                 settings: TrainSettings = TrainSettings(), device=None, data: DomainData | None = None) -> dict:
    """Train ``method`` at every lambda × seed as one batch; score each model and its feature MMD².

    Returns ``{"scenario", "method", "train_seconds", "points": [{"align_weight", "seed", "target_acc",
    "source_acc", "feature_mmd2", "diverged", "source_val_risk", "iwv_risk", "dev_risk"}, ...],
    "oracle_best_lambda", "oracle_best_target_acc", "label_free_selection"}`` (``align_weight`` is the
    alignment weight λ; λ = 0 trains exactly like source-only). The ``*_risk`` values are the label-free
    criteria of :mod:`core.labs.model_selection` (on a held-out source sample and the unlabelled pool);
    ``label_free_selection`` holds each criterion's λ beside the oracle's (:func:`~core.labs.lambda_models.
    selection_json`) and how the held-out source and the weights looked.
    """
    return lambda_sweep_with_models(scenario, method, lambdas, n_seeds, settings, device, data)[0]


def lambda_sweep_with_models(scenario: Scenario, method: str, lambdas: Sequence[float], n_seeds: int = 3,
                             settings: TrainSettings = TrainSettings(), device=None,
                             data: DomainData | None = None,
                             progress: Callable[[float], None] | None = None) -> tuple[dict, TrainedModels]:
    """:func:`lambda_sweep`'s answer and the trained models (for drawing each lambda's boundary).

    ``progress`` receives the fraction of training done.
    """
    if method not in SWEEP_METHODS:
        raise InputError("--method", "expected one of " + ", ".join(SWEEP_METHODS) + f", got {method!r}")
    n_seeds = check_seeds(n_seeds)
    lambdas = [float(v) for v in lambdas]
    if not lambdas or not all(0.0 <= v <= 100.0 for v in lambdas):
        raise InputError("--lambdas", f"expected weights in [0, 100], got {lambdas}")
    data = data if data is not None else generate(scenario)
    specs = [ModelSpec(method, model_seed(scenario, s), lam) for lam in lambdas for s in range(n_seeds)]
    trained = train_models(data.training_inputs(), specs, settings, _n_classes(data), device=device,
                           progress=progress)
    _, target_acc, source_acc = score_models(data, trained)
    mmd2 = feature_mmd2(trained, data, seed=scenario.seed)
    scores = criterion_scores(trained, data)
    stopped = trained.diverged

    def risk(name: str, m: int) -> float | None:
        value = scores.risks[name][m]
        return None if stopped[m] or not np.isfinite(value) else float(value)

    points = [{"align_weight": spec.lam, "seed": m % n_seeds,
               "target_acc": None if stopped[m] else float(target_acc[m]),
               "source_acc": None if stopped[m] else float(source_acc[m]),
               "feature_mmd2": None if stopped[m] else float(mmd2[m]),
               "diverged": bool(stopped[m]),
               **{c.key: risk(c.name, m) for c in CRITERIA}} for m, spec in enumerate(specs)]
    answer = {"scenario": scenario.to_dict(), "method": method, "train_seconds": trained.train_seconds,
              "points": points, **selection_json(summarise(points))}
    answer["label_free_selection"]["validation"] = scores.to_json()
    return answer, trained


@dataclass(frozen=True)
class BoundPoint:
    """The Ben-David terms at one knob value, per seed (errors are 1 - accuracy)."""

    value: float
    source_error: tuple[float, ...]
    divergence: tuple[float, ...]
    ideal_joint_error: tuple[float, ...]
    target_error: tuple[float, ...]
    adapted_target_error: tuple[float, ...] | None

    def mean(self, name: str) -> float | None:
        """Mean over seeds of a term (``"bound"`` included)."""
        values = getattr(self, name)
        return None if values is None else float(np.mean(values))

    @property
    def bound(self) -> tuple[float, ...]:
        """Per seed: ``eps_S + 1/2 d + lambda*``."""
        return tuple(float(s + d + j) for s, d, j in zip(self.source_error, self.divergence, self.ideal_joint_error))

    @property
    def seeds_below_measured(self) -> tuple[bool, ...]:
        """Per seed: that seed's estimated bound is below that seed's measured target error."""
        return tuple(b < t for b, t in zip(self.bound, self.target_error))

    @property
    def bound_below_measured(self) -> bool:
        """True when any seed's estimated bound falls below its own measured target error."""
        return any(self.seeds_below_measured)

    @property
    def seeds_below_share(self) -> str:
        """``"k of n seeds"``: how many seeds' bounds fall below their measured error."""
        return f"{sum(self.seeds_below_measured)} of {len(self.seeds_below_measured)} seeds"

    @property
    def below_measured_note(self) -> str:
        """``"bound below measured error in k of n seeds"``, or ``""`` when no seed is below."""
        return f"bound below measured error in {self.seeds_below_share}" if self.bound_below_measured else ""


def ideal_joint_inputs(data: DomainData) -> TrainingInputs:
    """ORACLE: labelled source plus the target pool WITH its true labels, for lambda* only.

    Ben-David's lambda* is the error of the best joint hypothesis; estimating it needs target
    labels, which no method may use. This is the one place that hands the pool's labels to a
    trainer, and its result is reported as an oracle quantity, never used to choose a model.
    """
    return TrainingInputs(source_x=np.concatenate([data.source_x, data.target_pool_x]),
                          source_y=np.concatenate([data.source_y, data.target_pool_y_oracle]),
                          target_pool_x=data.target_pool_x,
                          target_labelled_x=data.target_labelled_x[:0],
                          target_labelled_y=data.target_labelled_y[:0], image_shape=data.image_shape)


def _errors(accuracies: np.ndarray) -> tuple[float, ...]:
    return tuple(float(1 - a) for a in accuracies)


def _bound_point(scenario: Scenario, value: float, n_seeds: int, adapted: str | None,
                 settings: TrainSettings, device, pad) -> BoundPoint:
    data = generate(scenario)
    methods = ["source_only"] + ([adapted] if adapted else [])
    specs = [ModelSpec(method, model_seed(scenario, s), settings.lam) for method in methods for s in range(n_seeds)]
    trained = train_models(data.training_inputs(), specs, settings, _n_classes(data), device=device)
    _, target_acc, source_acc = score_models(data, trained)
    joint = train_models(ideal_joint_inputs(data), specs[:n_seeds], settings, _n_classes(data), device=device)
    _, joint_target_acc, joint_source_acc = score_models(data, joint)
    return BoundPoint(
        value=value,
        source_error=_errors(source_acc[:n_seeds]),
        divergence=tuple(0.5 * v for v in pad.per_seed),
        ideal_joint_error=tuple(float(2 - s - t) for s, t in zip(joint_source_acc, joint_target_acc)),
        target_error=_errors(target_acc[:n_seeds]),
        adapted_target_error=_errors(target_acc[n_seeds:]) if adapted else None,
    )


def check_vary_knob(knob: str) -> str:
    """The knob a bound sweep varies must be a numeric scenario key."""
    if knob not in NUMERIC_KNOBS:
        raise InputError("--vary", f"{knob!r} is not a numeric scenario key; use one of " + ", ".join(NUMERIC_KNOBS))
    return knob


def ben_david_sweep(scenario: Scenario, knob: str, values: Sequence[float], n_seeds: int = 3,
                    adapted: str | None = None, settings: TrainSettings = TrainSettings(), device=None,
                    progress: Callable[[float], None] | None = None) -> list[BoundPoint]:
    """The bound's terms at each value of ``knob`` (the other knobs as in ``scenario``).

    Per value and seed: ``eps_S(h)`` and ``eps_T(h)`` of a source-only MLP (and ``eps_T`` of the
    ``adapted`` method), the divergence term ``1/2 d_A`` from a proxy A-distance with the MLP
    domain classifier of :func:`core.metrics.divergence.proxy_a_distance` (all points' classifiers
    trained as one batch), and ``lambda* = eps_S(h*) + eps_T(h*)`` of the ideal joint
    hypothesis (ORACLE: trained on labelled source and labelled target pool together).
    ``progress`` is called with the share of points done.
    """
    check_vary_knob(knob)
    n_seeds = check_seeds(n_seeds)
    scenarios = [scenario.replace(**{knob: KNOBS_BY_NAME[knob].parse(v)}) for v in values]
    datasets = [generate(s) for s in scenarios]
    pads = divergence.proxy_a_distance_many([(d.source_x, d.target_x) for d in datasets], classifier="mlp",
                                            n_seeds=n_seeds, seed=scenario.seed, device=device)
    points = []
    for done, (point_scenario, pad) in enumerate(zip(scenarios, pads), start=1):
        points.append(_bound_point(point_scenario, getattr(point_scenario, knob), n_seeds, adapted, settings,
                                   device, pad))
        if progress is not None:
            progress(done / len(scenarios))
    return points


def bound_json(scenario: Scenario, knob: str, points: Sequence[BoundPoint]) -> dict:
    """``{"scenario", "points": [{knob, "source_error", "divergence", "ideal_joint_error", "bound", "target_error",
    "bound_below_measured", "seeds_below_measured", "per_seed"}]}`` (``divergence`` is ½·d_HΔH;
    ``ideal_joint_error`` the oracle λ* of Ben-David et al.; the flag compares each seed's bound with its own error)."""
    out = []
    for p in points:
        row = {knob: p.value, "source_error": p.mean("source_error"), "divergence": p.mean("divergence"),
               "ideal_joint_error": p.mean("ideal_joint_error"), "bound": p.mean("bound"),
               "target_error": p.mean("target_error"),
               "bound_below_measured": p.bound_below_measured,
               "seeds_below_measured": sum(p.seeds_below_measured),
               "per_seed": {"source_error": p.source_error, "divergence": p.divergence,
                            "ideal_joint_error": p.ideal_joint_error, "bound": p.bound,
                            "target_error": p.target_error, "bound_below_measured": p.seeds_below_measured}}
        if p.adapted_target_error is not None:
            row["adapted_target_error"] = p.mean("adapted_target_error")
        out.append(row)
    return {"scenario": scenario.to_dict(), "points": out}
