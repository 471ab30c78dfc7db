"""Forgetting and its remedies: how much source accuracy each remedy keeps, and what it gives up on the target.

Full fine-tuning and the chosen remedies (L2-SP, EWC, replay, distillation from the source network), each at
several strengths, are fine-tuned at ONE label count as one batch (:func:`~core.labs.finetune_runs.run_finetuning`
with ``strengths``). :func:`trade_off` reduces the run to one :class:`TradeOffPoint` per strategy and strength:
the target test accuracy GAINED over the pretrained source network (each seed against its own pretrained network,
in points) and the source accuracy after fine-tuning, mean and min-max over the seeds that trained; and, for each
remedy point, its :class:`Exchange` with full fine-tuning, paired by seed: source points kept, target points given
up, and a one-sided paired t-test of "it keeps source accuracy".

:func:`verdict` names the remedy point that kept the most source accuracy per point of target accuracy given up
(the rule is in its docstring). No streamlit, no plotly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from core.budget import Work
from core.formatting import signed
from core.knobs import WITH_TARGET_LABELS, Knob, KnobSet, format_number, seeds_knob
from core.labs.adaptation import NEGATIVE_TRANSFER_MARGIN
from core.labs.finetune_runs import (
    DISTILL_WEIGHTS,
    L2SP_WEIGHTS,
    LABEL_OPTIONS,
    MAX_LABELS,
    FinetunePageSettings,
    check_labels,
    epochs_knob,
    finetune_work,
    max_labels,
    run_finetuning,
    strategy_label,
)
from core.metrics.paired import ALPHA, format_p, one_sided_p
from core.scenario import IMAGE_LABELS_PER_CLASS, KNOBS_BY_NAME, Scenario
from core.training.finetune import STRENGTH_SETTINGS, FinetuneSettings

REFERENCE = "full_finetune"  # what every remedy is measured against
REMEDIES = tuple(STRENGTH_SETTINGS)  # l2sp, ewc, replay, distill
STRENGTH_SYMBOLS = {"l2sp": "α", "ewc": "λ", "replay": "k", "distill": "β"}
STRENGTH_KNOBS = {"l2sp": "l2sp_weights", "ewc": "ewc_weights", "replay": "replay_counts",
                  "distill": "distill_weights"}  # the page's knob that lists each remedy's strengths
FREE_MARGIN = 100 * NEGATIVE_TRANSFER_MARGIN  # points: giving up at most this much target accuracy is within noise
REPLAY_OPTIONS = (0, 1, 2, 5, 10, 20, 50, 100)
DEFAULT_STRENGTHS = {"l2sp": (0.1, 1.0, 10.0, 100.0), "ewc": (1.0, 10.0, 100.0, 1000.0), "replay": (1, 5, 20, 50),
                     "distill": (0.0001, 0.001, 0.01, 0.1, 1.0)}  # weak to strong: each within FinetuneSettings' range
DEFAULT_LABELS = 5


def _strengths_knob(remedy: str, kind: type, high: float, options: tuple) -> Knob:
    """A remedy's strengths: one model per value; its help is the Fine-tuning page's for the one strength."""
    setting = STRENGTH_SETTINGS[remedy]
    one = FinetunePageSettings.knob_named(setting)
    return Knob(STRENGTH_KNOBS[remedy], kind, DEFAULT_STRENGTHS[remedy], f"{strategy_label(remedy)}: strengths "
                f"({STRENGTH_SYMBOLS[remedy]})", f"One model per strength (a point of its line). {one.help}",
                low=0, high=high, many=True, options=options)


@dataclass(frozen=True)
class ForgettingPageSettings(KnobSet):
    """The Forgetting page's form, and ``python -m core forgetting``'s flags."""

    remedies: tuple[str, ...] = REMEDIES
    labels: int = DEFAULT_LABELS
    seeds: int = 5
    epochs: int = FinetuneSettings.epochs
    l2sp_weights: tuple[float, ...] = DEFAULT_STRENGTHS["l2sp"]
    ewc_weights: tuple[float, ...] = DEFAULT_STRENGTHS["ewc"]
    replay_counts: tuple[int, ...] = DEFAULT_STRENGTHS["replay"]
    distill_weights: tuple[float, ...] = DEFAULT_STRENGTHS["distill"]
    LEARNS: ClassVar[str] = WITH_TARGET_LABELS  # what its models learn from: its transfer setting
    KNOBS: ClassVar[tuple[Knob, ...]] = (
        Knob("remedies", str, REMEDIES, "Remedies", "Full fine-tuning is always trained: every remedy is measured "
             "against it, seed by seed.", choices=REMEDIES, many=True, display=strategy_label),
        Knob("labels", int, DEFAULT_LABELS, "Labelled target samples per class", "Every model is fine-tuned on this "
             f"many labelled target points per class (at most {IMAGE_LABELS_PER_CLASS} on digits).",
             low=1, high=MAX_LABELS, options=LABEL_OPTIONS),
        seeds_knob("Pretrained networks, initialisations and labelled samples; error bars span the seeds' min to max, "
                   "and each remedy is paired with full fine-tuning seed by seed.", default=5),
        epochs_knob(),
        _strengths_knob("l2sp", float, 1000.0, L2SP_WEIGHTS),
        _strengths_knob("ewc", float, 1000.0, L2SP_WEIGHTS),
        _strengths_knob("replay", int, 100, REPLAY_OPTIONS),
        _strengths_knob("distill", float, 1.0, DISTILL_WEIGHTS),
    )

    def strategies_to_train(self) -> tuple[str, ...]:
        """Full fine-tuning, then the chosen remedies."""
        return (REFERENCE, *self.remedies)

    def strengths(self) -> dict[str, tuple[float, ...]]:
        """Per chosen remedy, its strengths."""
        return {remedy: getattr(self, STRENGTH_KNOBS[remedy]) for remedy in self.remedies}

    def labels_for(self, scenario: Scenario) -> tuple[int, ...]:
        """The one label count, checked against what ``scenario`` can draw (100 per class; 20 on digits)."""
        return check_labels((self.labels,), "labels", maximum=max_labels(scenario))

    def finetune_settings(self) -> FinetuneSettings:
        return FinetuneSettings(epochs=self.epochs)

    def trained(self) -> ForgettingPageSettings:
        """These settings with the strengths of remedies not chosen at their defaults (they train nothing), so
        that two forms that train the same models share one key."""
        unused = [STRENGTH_KNOBS[r] for r in REMEDIES if r not in self.remedies]
        return self.replace(**{name: self.knob_named(name).default for name in unused})

    def work(self, scenario: Scenario) -> Work:
        """What :func:`run_forgetting` will compute (for :mod:`core.budget`)."""
        return finetune_work(scenario, self.strategies_to_train(), self.labels_for(scenario), self.seeds,
                             self.finetune_settings(), strengths=self.strengths())


@dataclass
class ForgettingRun:
    """The scored models of a forgetting run.

    ``points``: one dict per fine-tuned model (:class:`~core.labs.finetune_runs.FinetuneRun`'s, remedies with
    their ``strength``); ``pretrained``: the pretrained source network's ``target_acc`` and ``source_acc`` per
    ``seed``, before fine-tuning. ``scenario`` is the run's (its ``labels_per_class`` is the labelled pool).
    """

    scenario: Scenario
    settings: ForgettingPageSettings
    points: list[dict]
    pretrained: list[dict]
    train_seconds: float
    device: str

    @property
    def labels(self) -> int:
        return self.settings.labels

    def to_json(self) -> dict:
        """The scenario, the settings, the summary and verdict, and every model's scores."""
        summary = trade_off(self)
        return {"scenario": self.scenario.to_dict(), "device": self.device, "train_seconds": self.train_seconds,
                "settings": self.settings.to_json(), "finetune_settings": self.settings.finetune_settings().to_json(),
                "summary": [point.to_json() for point in summary.points], "verdict": verdict(summary).text,
                "points": self.points, "pretrained": self.pretrained}


def run_forgetting(scenario: Scenario, settings: ForgettingPageSettings = ForgettingPageSettings(),
                   progress: Callable[[float], None] | None = None, device=None) -> ForgettingRun:
    """Fine-tune full fine-tuning and every chosen remedy at each of its strengths, at the one label count, as one
    batch (:func:`~core.labs.finetune_runs.run_finetuning`), and score them."""
    started = time.perf_counter()
    run = run_finetuning(scenario, settings.strategies_to_train(), settings.labels_for(scenario), settings.seeds,
                         settings.finetune_settings(), device=device, progress=progress,
                         strengths=settings.strengths())
    return ForgettingRun(run.scenario, settings, run.points, run.pretrained, time.perf_counter() - started,
                         run.device)


# --- the summary ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Mean, min and max over the seeds that trained (None when none did)."""

    mean: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not len(values):
            return cls(None, None, None)
        return cls(float(np.mean(values)), float(np.min(values)), float(np.max(values)))


@dataclass(frozen=True)
class Exchange:
    """A remedy point against full fine-tuning, paired by seed (seeds where either diverged are left out).

    ``kept``: mean of (remedy source accuracy − full fine-tuning's), in points; ``given_up``: mean of (full
    fine-tuning's target accuracy − the remedy's), in points (negative: the remedy gained more); ``p_value``: a
    one-sided paired t-test of H1 "the remedy keeps more source accuracy" (None with fewer than two pairs).
    """

    kept: float
    given_up: float
    pairs: int
    p_value: float | None

    @property
    def free(self) -> bool:
        """Gives up no target accuracy, within :data:`FREE_MARGIN` points (the app's margin of seed noise)."""
        return self.given_up <= FREE_MARGIN

    @property
    def keeps(self) -> bool:
        """Keeps source accuracy on average, at the 0.1 point shown."""
        return round(self.kept, 1) > 0

    @property
    def per_point(self) -> float | None:
        """Source points kept per target point given up; None when it gives up none (:attr:`free`)."""
        return None if self.free else self.kept / self.given_up

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA

    def test_text(self) -> str:
        if self.p_value is None:
            return "one seed: not tested"
        return f"one-sided paired t-test over {self.pairs} seeds, {format_p(self.p_value)}"


@dataclass(frozen=True)
class TradeOffPoint:
    """One strategy at one strength (None: full fine-tuning): ``gained`` (target test accuracy minus the same
    seed's pretrained network's, points) and ``source`` (source accuracy after fine-tuning) over the ``seeds`` that
    trained; ``diverged`` seeds are left out; ``exchange`` with full fine-tuning (None for it, or without pairs)."""

    strategy: str
    strength: float | None
    gained: Spread
    source: Spread
    seeds: int
    diverged: int
    exchange: Exchange | None

    @property
    def name(self) -> str:
        """``EWC λ=10``; full fine-tuning by its name."""
        return strategy_label(self.strategy) + ("" if self.strength is None else f" {self.strength_text}")

    @property
    def strength_text(self) -> str:
        """``λ=10`` (empty for full fine-tuning)."""
        return "" if self.strength is None else f"{STRENGTH_SYMBOLS[self.strategy]}={format_number(self.strength)}"

    def to_json(self) -> dict:
        exchange = None if self.exchange is None else {**vars(self.exchange), "free": self.exchange.free,
                                                        "per_point": self.exchange.per_point}
        return {"strategy": self.strategy, "strength": self.strength, "seeds": self.seeds, "diverged": self.diverged,
                "target_gained_points": vars(self.gained), "source_acc": vars(self.source),
                "versus_full_finetune": exchange}


@dataclass(frozen=True)
class TradeOff:
    """Every point of a run, full fine-tuning first then the remedies in registry order, strengths ascending; the
    pretrained network's accuracies over seeds; and what the run was (scenario, labels per class, seeds)."""

    scenario: Scenario
    labels: int
    n_seeds: int
    points: tuple[TradeOffPoint, ...]
    pretrained_source: Spread
    pretrained_target: Spread

    @property
    def reference(self) -> TradeOffPoint | None:
        return next((p for p in self.points if p.strategy == REFERENCE), None)

    def remedy_points(self, remedy: str | None = None) -> list[TradeOffPoint]:
        """The remedies' points (of one remedy, when named)."""
        return [p for p in self.points if p.strategy != REFERENCE and remedy in (None, p.strategy)]


def trade_off(run: ForgettingRun) -> TradeOff:
    """A run's :class:`TradeOff` (see :func:`summarise`)."""
    return summarise(run.points, run.pretrained, run.scenario, run.labels, run.settings.seeds)


def summarise(points: Sequence[dict], pretrained: Sequence[dict], scenario: Scenario, labels: int,
              n_seeds: int) -> TradeOff:
    """Per (strategy, strength) of ``points``: the target accuracy gained over the same seed's ``pretrained``
    network and the source accuracy after, over the seeds that trained, and the :class:`Exchange` with full
    fine-tuning paired by seed."""
    before = {p["seed"]: p for p in pretrained}
    reference = {p["seed"]: p for p in points if p["strategy"] == REFERENCE and p["target_acc"] is not None}
    groups: dict[tuple[str, float | None], list[dict]] = {}
    order = (REFERENCE, *REMEDIES)
    for point in sorted(points, key=lambda p: (order.index(p["strategy"]), p.get("strength") or 0.0, p["seed"])):
        groups.setdefault((point["strategy"], point.get("strength")), []).append(point)
    summary = []
    for (strategy, strength), members in groups.items():
        trained = [p for p in members if p["target_acc"] is not None]
        gained = [100 * (p["target_acc"] - before[p["seed"]]["target_acc"]) for p in trained]
        exchange = None if strategy == REFERENCE else _exchange(trained, reference)
        source = Spread.of([p["source_acc"] for p in trained])
        summary.append(TradeOffPoint(strategy, strength, Spread.of(gained), source, len(trained),
                                     len(members) - len(trained), exchange))
    return TradeOff(scenario, labels, n_seeds, tuple(summary), Spread.of([p["source_acc"] for p in pretrained]),
                    Spread.of([p["target_acc"] for p in pretrained]))


def _exchange(trained: Sequence[dict], reference: dict[int, dict]) -> Exchange | None:
    pairs = [(p, reference[p["seed"]]) for p in trained if p["seed"] in reference]
    if not pairs:
        return None
    kept = np.array([100 * (p["source_acc"] - ref["source_acc"]) for p, ref in pairs])
    given_up = np.array([100 * (ref["target_acc"] - p["target_acc"]) for p, ref in pairs])
    return Exchange(float(kept.mean()), float(given_up.mean()), len(pairs), one_sided_p(-kept))


# --- the verdict ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The remedy point that kept the most source accuracy per point of target accuracy (None when no remedy
    point kept any), the points tied with it, and the sentence that says so."""

    best: TradeOffPoint | None
    tied: tuple[TradeOffPoint, ...]
    text: str


def _rank(point: TradeOffPoint) -> tuple:
    """Larger is better: a point that gives up nothing first (by the source it keeps), then by source kept per
    target point given up; both rounded as shown (0.1 point, 0.01 per point), so that equal shown values tie."""
    exchange = point.exchange
    if exchange.free:
        return (1, round(exchange.kept, 1))
    return (0, round(exchange.per_point, 2))


def where(scenario: Scenario) -> str:
    """``At rotation 35°``, or the scenario's changed keys (its labelled pool left out)."""
    changed = {k: v for k, v in scenario.changed().items() if k != "labels_per_class"}
    if not changed:
        return "Without shift (the default scenario)"
    if set(changed) == {"rotation"}:
        return f"At rotation {format_number(changed['rotation'])}°"
    return "At " + ", ".join(f"{k}={KNOBS_BY_NAME[k].text(v)}" for k, v in changed.items())


def verdict(summary: TradeOff) -> Verdict:
    """Which remedy point kept the most source accuracy per point of target accuracy given up, as measured.

    Every remedy point is compared with full fine-tuning seed by seed (:class:`Exchange`). A point *keeps* source
    accuracy when its mean source points kept is above 0 (at the 0.1 point shown); only such points are named. A
    point that gives up at most :data:`FREE_MARGIN` target points (or gains more than full fine-tuning) gives up
    nothing within the noise: its source kept per target point given up is unbounded, so it ranks above every
    point that pays for what it keeps, and among such points the one that keeps the most wins (it dominates: no
    more target given up, more source kept). The others rank by source points kept per target point given up.
    Equal shown values tie; the tie goes to the point that gives up less. Seeds where a model diverged are left
    out of its pairs; a point with none left is not ranked. The ranking between remedies is by means: each remedy
    is tested against full fine-tuning only (one-sided paired t-test of its source kept), never against another.
    """
    context = (f"{where(summary.scenario)} with {summary.labels} labels per class over {summary.n_seeds} "
               f"seed{'s' if summary.n_seeds != 1 else ''}")
    reference = summary.reference
    if reference is None or reference.seeds == 0:
        return Verdict(None, (), f"{context}, full fine-tuning diverged on every seed, so no remedy could be "
                                 "measured against it.")
    compared = [p for p in summary.remedy_points() if p.exchange is not None]
    if not compared:
        return Verdict(None, (), f"{context}, no remedy point trained on a seed where full fine-tuning did, so "
                                 "none could be measured against it.")
    limits = ("; each remedy was compared with full fine-tuning seed by seed, never with another remedy, so the "
              "order among remedies is by means only")
    left_out = [p.name for p in summary.remedy_points() if p.exchange is None]
    if left_out:
        limits = (f"; {', '.join(left_out)} diverged on every seed that full fine-tuning trained on and "
                  f"{'is' if len(left_out) == 1 else 'are'} left out") + limits
    keeping = [p for p in compared if p.exchange.keeps]
    if not keeping:
        most = max(compared, key=lambda p: p.exchange.kept)
        return Verdict(None, (), f"{context}, no remedy point kept source accuracy against full fine-tuning "
                                 f"(its source accuracy: {_percent(reference.source.mean)}): the most any kept was "
                                 f"{signed(most.exchange.kept)} points ({most.name}){limits}.")
    ranked = sorted(keeping, key=lambda p: (_rank(p), -p.exchange.given_up), reverse=True)
    best, exchange = ranked[0], ranked[0].exchange
    tied = tuple(p for p in ranked[1:] if _rank(p) == _rank(best))
    kept = f"{signed(exchange.kept)} source points against full fine-tuning ({exchange.test_text()})"
    if exchange.free:
        rate = (f"it gave up no target accuracy within the noise (target {signed(-exchange.given_up)} points "
                f"against full fine-tuning, within the {FREE_MARGIN:g}-point margin) and kept {kept}")
    else:
        rate = (f"{exchange.per_point:.2f} source points per target point given up, {kept} for "
                f"{exchange.given_up:.1f} target points")
    doubt = "" if exchange.significant or exchange.p_value is None else \
        ", a gain the test cannot tell from seed noise"
    ties = f"; tied at the precision shown with {', '.join(p.name for p in tied)}" if tied else ""
    return Verdict(best, tied, f"{context}, {best.name} kept the most source accuracy per point of target accuracy "
                               f"given up: {rate}{doubt}{ties}{limits}.")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"
