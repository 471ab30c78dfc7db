"""An adaptation run: train the chosen methods × seeds on a scenario, then score them.

This is what the Adaptation page and ``python -m core train`` call. Scores use the target
TEST split only (and the source sample for source accuracy); training never sees them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn.metrics import confusion_matrix

from core.budget import Work, data_points, minibatch_loop, scoring, snapshots
from core.data.domains import DomainData, generate
from core.errors import InputError
from core.knobs import BY_METHOD, Knob, KnobSet, seeds_knob
from core.labs.replay import REPLAY_FRAMES, LiveFrame, LiveFrames, Replay, build_replay, replay_plan
from core.metrics.paired import median_model, paired_drop
from core.scenario import Scenario
from core.training.methods import METHODS, METHODS_BY_NAME
from core.training.train import (
    ModelSpec,
    TrainedModels,
    TrainSettings,
    align_weight_knob,
    learning_rate_knob,
    steps_knob,
    train_models,
)

NEGATIVE_TRANSFER_MARGIN = 0.01  # a mean target accuracy this far below source-only is flagged (1 point)
NOT_TRANSFER = ("source_only", "target_only")  # the two baselines: neither transfers anything


BASELINE = "source_only"  # always trained: every method is compared with it


def method_label(name: str) -> str:
    return METHODS_BY_NAME[name].label


@dataclass(frozen=True)
class AdaptationPageSettings(KnobSet):
    """The Adaptation page's form, and ``python -m core train``'s flags: which methods, how many seeds, how they
    train."""

    methods: tuple[str, ...] = tuple(m.name for m in METHODS if m.on_page_by_default)
    seeds: int = 3
    lam: float = TrainSettings.lam
    steps: int = TrainSettings.steps
    lr: float = TrainSettings.lr
    LEARNS: ClassVar[str] = BY_METHOD  # what its models learn from: its transfer setting
    KNOBS: ClassVar[tuple[Knob, ...]] = (
        Knob("methods", str, tuple(m.name for m in METHODS if m.on_page_by_default), "Methods",
             "Source only is always trained: it is the baseline every method is compared with.",
             choices=tuple(m.name for m in METHODS), many=True, min_count=0, display=method_label),
        seeds_knob("Models per method, from different initialisations and mini-batches; results show the mean ± sd "
                   "over seeds."),
        align_weight_knob("Weight of the alignment term of MMD, DANN, CORAL and self-training; OT moves the source "
                          "min(λ, 1) of the way to the target; importance weighting raises its weights to the power "
                          "min(λ, 1); label-shift correction shifts the outputs by min(λ, 1) · log(q / p). λ = 0 "
                          "gives source-only."),
        steps_knob(f"Adam steps per model, each on a mini-batch of {TrainSettings.batch_size} source and "
                   f"{TrainSettings.batch_size} target points."),
        learning_rate_knob(),
    )

    def train_settings(self) -> TrainSettings:
        return TrainSettings(lam=self.lam, steps=self.steps, lr=self.lr)

    def work(self, scenario: Scenario) -> Work:
        """What :func:`run_adaptation` will compute (for :mod:`core.budget`)."""
        methods, _ = self.methods_to_train(scenario)
        return adaptation_work(scenario, methods, self.seeds, self.steps)

    def methods_to_train(self, scenario: Scenario) -> tuple[tuple[str, ...], list[str]]:
        """The methods to train, in the registry's order, with the baseline; and the chosen ones skipped because
        they need labelled target samples and the scenario has none."""
        names = set(self.methods)
        skipped = [m.name for m in METHODS
                   if m.name in names and m.needs_target_labels and scenario.labels_per_class == 0]
        methods = tuple(m.name for m in METHODS if m.name == BASELINE or (m.name in names and m.name not in skipped))
        return methods, skipped


def adaptation_work(scenario: Scenario, methods: Sequence[str], n_seeds: int, steps: int, replay: bool = True) -> Work:
    """One batch of ``methods`` × ``n_seeds`` models for ``steps`` steps on ``scenario``'s domains (with the
    snapshots of its replay)."""
    loop = minibatch_loop(steps, {method: n_seeds for method in methods}, pool=scenario.n_target,
                          images=scenario.is_image)
    models = len(methods) * n_seeds
    work = (loop + data_points(scenario.n_source + scenario.n_target + scenario.n_test)
            + scoring(models, scenario.n_source + scenario.n_test))
    return work + snapshots(models, REPLAY_FRAMES) if replay else work


def check_seeds(n_seeds: int) -> int:
    """Seeds per cell must lie in [1, 10]; returns them as an int."""
    if not 1 <= int(n_seeds) <= 10:
        raise InputError("seeds", f"expected an integer in [1, 10], got {n_seeds}")
    return int(n_seeds)


def model_seed(scenario: Scenario, index: int) -> int:
    """The initialisation seed of a run's ``index``-th model seed (differs across data seeds)."""
    return scenario.seed * 1000 + index


@dataclass
class AdaptationRun:
    """Trained models of a run and their scores.

    ``rows`` has one dict per model: ``method``, ``seed`` (0 .. n_seeds-1), ``lam``,
    ``target_acc`` (target test split), ``source_acc`` (labelled source sample) and
    ``diverged`` (a message, or ``None``).
    """

    scenario: Scenario
    methods: tuple[str, ...]
    n_seeds: int
    settings: TrainSettings
    trained: TrainedModels
    rows: list[dict]
    confusion: dict[str, np.ndarray]
    classes: tuple[int, ...]
    replay: Replay | None = None

    @property
    def train_seconds(self) -> float:
        return self.trained.train_seconds

    def summary(self) -> list[dict]:
        """Per method: mean and sd over seeds of target and source accuracy, the change against
        source-only, and the paired test against source-only of a transfer method (not one of the
        two baselines): negative transfer when its mean target accuracy is more than a margin below
        and the test rejects "no drop" (:mod:`core.metrics.paired`), inconclusive when only the first
        holds."""
        baseline = self._mean("source_only", "target_acc")
        baseline_per_seed = self.per_seed("source_only")
        out = []
        for method in self.methods:
            target = self._values(method, "target_acc")
            source = self._values(method, "source_acc")
            delta = None if baseline is None or not len(target) else float(np.mean(target) - baseline)
            verdict = (paired_drop(self.per_seed(method), baseline_per_seed, NEGATIVE_TRANSFER_MARGIN)
                       if method not in NOT_TRANSFER and "source_only" in self.methods else None)
            out.append({
                "method": method,
                "label": METHODS_BY_NAME[method].label,
                "target_acc_mean": mean_or_none(target), "target_acc_sd": sd_or_none(target),
                "source_acc_mean": mean_or_none(source), "source_acc_sd": sd_or_none(source),
                "delta_vs_source_only": delta,
                "negative_transfer": bool(verdict is not None and verdict.negative),
                "transfer_test": None if verdict is None else verdict.to_json(),
                "seeds_trained": len(target),
                "seeds_diverged": sum(1 for r in self.rows if r["method"] == method and r["diverged"]),
            })
        return out

    def shown_model(self, method: str, seed: int | None = None) -> int | None:
        """Index into ``trained.specs`` of the model a picture of ``method`` shows: seed ``seed``, or by default
        the median seed, whose target test accuracy is the median of the seeds that trained (the lower of the two
        middle ones for an even count; equal accuracies in seed order). ``None`` when that model diverged."""
        diverged = self.trained.diverged
        healthy = [m for m, spec in enumerate(self.trained.specs) if spec.method == method and not diverged[m]]
        if seed is not None:
            return next((m for m in healthy if self.rows[m]["seed"] == seed), None)
        return median_model([(m, self.rows[m]["target_acc"], self.rows[m]["seed"]) for m in healthy])

    def per_seed(self, method: str, key: str = "target_acc") -> np.ndarray:
        """``key`` of each seed of ``method`` in seed order, NaN for a diverged model (pairs runs across methods:
        seed ``s`` of every method starts from the same initialisation and mini-batches)."""
        values = np.full(self.n_seeds, np.nan)
        for row in self.rows:
            if row["method"] == method and not row["diverged"]:
                values[row["seed"]] = row[key]
        return values

    def _values(self, method: str, key: str) -> np.ndarray:
        """``key`` of the seeds of ``method`` that trained, in seed order."""
        values = self.per_seed(method, key)
        return values[np.isfinite(values)]

    def _mean(self, method: str, key: str) -> float | None:
        values = self._values(method, key)
        return float(values.mean()) if len(values) else None

    def to_json(self) -> dict:
        """``scenario``, ``device``, ``train_seconds``, ``settings``, ``results`` (one row per model), ``summary``."""
        return {
            "scenario": self.scenario.to_dict(),
            "device": self.trained.device,
            "train_seconds": self.train_seconds,
            "settings": {**AdaptationPageSettings(self.methods, self.n_seeds, self.settings.lam, self.settings.steps,
                                                  self.settings.lr).to_json(),
                         "hidden": list(self.settings.hidden), "batch_size": self.settings.batch_size},
            "results": self.rows,
            "summary": self.summary(),
            "diverged_models": [row["diverged"] for row in self.rows if row["diverged"]],
        }


def mean_or_none(values: np.ndarray) -> float | None:
    """Mean over the seeds that trained, ``None`` when none did."""
    return float(np.mean(values)) if len(values) else None


def sd_or_none(values: np.ndarray) -> float | None:
    """Sample sd (``ddof=1``) over the seeds that trained: 0 for one seed, ``None`` for none."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else (0.0 if len(values) else None)


def score_models(data: DomainData, trained: TrainedModels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Target-test predictions [M, N] and the target-test and source accuracies [M] of every model."""
    target_pred = trained.predict_proba(data.target_test_x).argmax(axis=-1)
    source_pred = trained.predict_proba(data.source_x).argmax(axis=-1)
    target_acc = (target_pred == data.target_test_y).mean(axis=1)
    source_acc = (source_pred == data.source_y).mean(axis=1)
    return target_pred, target_acc, source_acc


def run_adaptation(scenario: Scenario, methods: Sequence[str], n_seeds: int = 3,
                   settings: TrainSettings = TrainSettings(), device=None,
                   progress: Callable[[float], None] | None = None, data: DomainData | None = None,
                   on_frame: Callable[[LiveFrame], None] | None = None, replay: bool = True) -> AdaptationRun:
    """Train ``methods`` × ``n_seeds`` models on the scenario's domains as one batch and score them.

    With ``replay`` the run records snapshots (:mod:`core.labs.replay`) and keeps each method's median seed's as
    its ``replay``; ``on_frame`` then receives a :class:`~core.labs.replay.LiveFrame` at each snapshot.
    """
    methods = tuple(dict.fromkeys(methods))
    n_seeds = check_seeds(n_seeds)
    data = data if data is not None else generate(scenario)
    specs = [ModelSpec(method, model_seed(scenario, s), settings.lam) for method in methods for s in range(n_seeds)]
    classes = tuple(sorted(set(data.source_classes) | set(data.target_classes)))
    plan = points = axes = live = None
    if replay:
        plan, points, axes = replay_plan(data, settings.steps)
        if on_frame is not None:
            live = LiveFrames(specs, [m % n_seeds for m in range(len(specs))], points, axes, settings.steps, on_frame)
    trained = train_models(data.training_inputs(), specs, settings, n_classes=max(classes) + 1, device=device,
                           progress=progress, snapshots=plan, on_snapshot=live)
    target_pred, target_acc, source_acc = score_models(data, trained)
    diverged = {d.model: d.message(seed_label=d.model % n_seeds) for d in trained.diverged_models}
    rows, confusion = [], {}
    for m, spec in enumerate(specs):
        message = diverged.get(m)
        rows.append({"method": spec.method, "seed": m % n_seeds, "lam": spec.lam,
                     "target_acc": None if message else float(target_acc[m]),
                     "source_acc": None if message else float(source_acc[m]),
                     "diverged": message})
    for method in methods:
        members = [m for m, spec in enumerate(specs) if spec.method == method and not trained.diverged[m]]
        matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
        for m in members:
            matrix += confusion_matrix(data.target_test_y, target_pred[m], labels=list(classes))
        confusion[method] = matrix
    run = AdaptationRun(scenario, methods, int(n_seeds), settings, trained, rows, confusion, classes)
    if replay:
        shown = {method: run.shown_model(method) for method in methods}
        run.replay = build_replay(trained.snapshots, shown, {method: None if m is None else rows[m]["seed"]
                                                             for method, m in shown.items()}, points, axes)
        run.trained = dataclasses.replace(trained, snapshots=())  # the replay keeps what the pages show
    return run
