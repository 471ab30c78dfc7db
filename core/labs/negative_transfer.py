"""Where transfer hurts: the gain over scratch on a grid of shift magnitude × labels, and the rules of thumb.

The gain of a strategy in a cell is its mean target test accuracy minus scratch's, both over
the same seeds (the same labelled points). A cell is negative when the gain is below
``-NEGATIVE_TRANSFER_MARGIN`` (1 point, as on the other pages) and a one-sided paired t-test over
the seeds supports the drop; a larger drop the test does not support is inconclusive
(:mod:`core.metrics.paired`, the rule of every page).

The common rules of thumb (e.g. the CS231n notes on transfer learning) pick a strategy from two
questions: is the target data small, and is it similar to the source? Here "small" means at most
:data:`SMALL_LABELS` labels per class, and "similar" means the pretrained network loses at most
:data:`SIMILAR_DROP` of its source accuracy on the target. A rule holds in a cell when one of
the strategies it recommends is within :data:`RULE_TOLERANCE` of the best strategy trained there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from core.budget import Work, total
from core.knobs import WITH_TARGET_LABELS, Knob, KnobSet, seeds_knob
from core.labs.adaptation import NEGATIVE_TRANSFER_MARGIN
from core.labs.finetune_runs import (
    DEFAULT_LABELS,
    REFERENCE,
    FinetuneRun,
    LabelCounts,
    epochs_knob,
    finetune_work,
    labels_knob,
    strategy_label,
)
from core.metrics.paired import INCONCLUSIVE, paired_drop
from core.scenario import Scenario
from core.training.finetune import STRATEGIES, FinetuneSettings

SMALL_LABELS = 10
SIMILAR_DROP = 0.10
RULE_TOLERANCE = 0.01
TRANSFER_STRATEGIES = tuple(s.name for s in STRATEGIES if s.name != REFERENCE)
MAPS = (  # (knob, its values: the rows of a map) of the Negative transfer page
    ("rotation", tuple(float(v) for v in np.arange(0, 181, 30))),
    ("concept", tuple(float(v) for v in np.linspace(0, 1, 5))),
)
RULES: dict[tuple[bool, bool], tuple[tuple[str, ...], str]] = {  # (small, similar) -> (strategies, advice)
    (True, True): (("feature_extraction",), "freeze the body, train a new head"),
    (False, True): (("full_finetune",), "fine-tune every layer"),
    (True, False): (("feature_extraction",), "freeze and train a classifier (on earlier layers if you can)"),
    (False, False): (("full_finetune", "scratch"), "fine-tune every layer, or train from scratch"),
}


@dataclass(frozen=True)
class TransferMapPageSettings(LabelCounts, KnobSet):
    """The Negative transfer page's form, and ``python -m core transfer-map``'s flags (``--vary`` there picks
    the rows)."""

    strategies: tuple[str, ...] = ("feature_extraction", "full_finetune")
    mapped: str = "full_finetune"
    labels: tuple[int, ...] = DEFAULT_LABELS
    seeds: int = 3
    epochs: int = FinetuneSettings.epochs
    LEARNS: ClassVar[str] = WITH_TARGET_LABELS  # what its models learn from: its transfer setting
    KNOBS: ClassVar[tuple[Knob, ...]] = (
        Knob("strategies", str, ("feature_extraction", "full_finetune"), "Transfer strategies to train",
             "Scratch is always trained: every gain is measured against it, on the same labelled samples.",
             choices=TRANSFER_STRATEGIES, many=True, min_count=0, display=strategy_label),
        Knob("mapped", str, "full_finetune", "Strategy whose gain is mapped",
             "Always trained, even when not among the strategies chosen.", choices=TRANSFER_STRATEGIES,
             display=strategy_label),
        labels_knob("Labelled target samples per class (columns)"),
        seeds_knob("Per cell; the gain is the mean over seeds of the paired difference with scratch."),
        epochs_knob(),
    )

    def strategies_to_train(self) -> tuple[str, ...]:
        """Scratch, the mapped strategy and the chosen ones, in the registry's order."""
        chosen = {REFERENCE, self.mapped, *self.strategies}
        return tuple(s.name for s in STRATEGIES if s.name in chosen)

    def finetune_settings(self) -> FinetuneSettings:
        """The Fine-tuning page's defaults, with this page's epochs."""
        return FinetuneSettings(epochs=self.epochs)

    def work(self, scenario: Scenario, rows: Sequence[int] = tuple(len(values) for _, values in MAPS)) -> Work:
        """Maps of ``rows`` rows each (default: both of :data:`MAPS`), for :mod:`core.budget`."""
        return total(finetune_work(scenario, self.strategies_to_train(), self.labels_for(scenario), self.seeds,
                                   self.finetune_settings(), n_values=n) for n in rows)


@dataclass(frozen=True)
class GainMap:
    """The grid ``values`` (rows) × ``labels`` (columns) of one varied knob.

    ``accuracy[s]`` is strategy ``s``'s mean target test accuracy ``[V, L]``; ``gain[s]`` its mean
    gain over scratch, and ``gain_low`` / ``gain_high`` the min and max over seeds of the paired
    per-seed gain; ``best`` names the most accurate strategy per cell; ``similar[v]`` says whether
    the pretrained network kept its accuracy at ``values[v]``.
    """

    knob: str
    values: np.ndarray
    labels: np.ndarray
    strategies: tuple[str, ...]
    accuracy: dict[str, np.ndarray]
    gain: dict[str, np.ndarray]
    gain_low: dict[str, np.ndarray]
    gain_high: dict[str, np.ndarray]
    best: np.ndarray
    pretrained_target: np.ndarray
    pretrained_source: np.ndarray
    similar: np.ndarray
    verdicts: dict[str, np.ndarray]  # per strategy, [V, L] of TransferVerdict against scratch
    margin: float = NEGATIVE_TRANSFER_MARGIN
    trained_parameters: dict[str, int] = field(default_factory=dict)  # per strategy, of one network

    def negative(self, strategy: str) -> np.ndarray:
        """Boolean ``[V, L]``: cells where ``strategy`` is more than the margin below scratch and the paired test
        over seeds supports it (:mod:`core.metrics.paired`)."""
        return np.vectorize(lambda v: v.negative, otypes=[bool])(self.verdicts[strategy])

    def inconclusive(self, strategy: str) -> np.ndarray:
        """Boolean ``[V, L]``: cells where the mean drop exceeds the margin but the test does not support it."""
        return np.vectorize(lambda v: v.verdict == INCONCLUSIVE, otypes=[bool])(self.verdicts[strategy])

    @property
    def transfer_strategies(self) -> tuple[str, ...]:
        return tuple(s for s in self.strategies if s != REFERENCE)


def gain_map(run: FinetuneRun) -> GainMap:
    """Reduce a run that varied a knob (``run.knob``) to the per-cell accuracies, gains and best strategy."""
    if run.knob is None or REFERENCE not in run.strategies:
        raise ValueError("a gain map needs a run that varied a knob and trained scratch")
    values, labels = np.array(run.values), np.array(run.labels)
    shape = (len(values), len(labels), run.n_seeds)
    per_seed = {s: np.full(shape, np.nan) for s in run.strategies}
    for p in run.points:
        if p["target_acc"] is not None:
            v = int(np.flatnonzero(values == p[run.knob])[0])
            j = int(np.flatnonzero(labels == p["labels_per_class"])[0])
            per_seed[p["strategy"]][v, j, p["seed"]] = p["target_acc"]
    with np.errstate(all="ignore"):
        accuracy = {s: np.nanmean(a, axis=2) for s, a in per_seed.items()}
        paired = {s: per_seed[s] - per_seed[REFERENCE] for s in run.strategies}
        gain = {s: accuracy[s] - accuracy[REFERENCE] for s in run.strategies}
        low = {s: np.nanmin(d, axis=2) for s, d in paired.items()}
        high = {s: np.nanmax(d, axis=2) for s, d in paired.items()}
    stacked = np.stack([np.nan_to_num(accuracy[s], nan=-1.0) for s in run.strategies])
    best = np.array(run.strategies, dtype=object)[stacked.argmax(axis=0)]
    pretrained_target, pretrained_source = (_pretrained_mean(run, metric) for metric in ("target_acc", "source_acc"))
    similar = (pretrained_source - pretrained_target) <= SIMILAR_DROP
    verdicts = {s: np.array([[paired_drop(per_seed[s][v, j], per_seed[REFERENCE][v, j], NEGATIVE_TRANSFER_MARGIN)
                              for j in range(len(labels))] for v in range(len(values))], dtype=object)
                for s in run.strategies}
    return GainMap(run.knob, values, labels, run.strategies, accuracy, gain, low, high, best, pretrained_target,
                   pretrained_source, similar, verdicts, trained_parameters=run.trained_parameters)


def _pretrained_mean(run: FinetuneRun, metric: str) -> np.ndarray:
    """``[V]``: the pretrained source network's mean ``metric`` over seeds at each knob value."""
    return np.array([np.mean([p[metric] for p in run.pretrained if p[run.knob] == v]) for v in run.values])


@dataclass(frozen=True)
class RuleCheck:
    """One quadrant of the rules of thumb, checked on the cells that fall in it."""

    small: bool
    similar: bool
    recommended: tuple[str, ...]
    advice: str
    cells: int
    holds: int
    checked: bool  # False when none of the recommended strategies was trained

    @property
    def quadrant(self) -> str:
        """E.g. "small and different"."""
        return f"{'small' if self.small else 'large'} and {'similar' if self.similar else 'different'}"

    @property
    def share(self) -> float | None:
        return self.holds / self.cells if self.cells and self.checked else None


def rule_holds(grid: GainMap) -> np.ndarray:
    """``[V, L]`` of True / False / None: does the rule of thumb's pick come within the tolerance of the best?"""
    out = np.full((len(grid.values), len(grid.labels)), None, dtype=object)
    for v in range(len(grid.values)):
        for j, n in enumerate(grid.labels):
            recommended = [s for s in RULES[(n <= SMALL_LABELS, bool(grid.similar[v]))][0] if s in grid.strategies]
            if not recommended:
                continue
            best = max(grid.accuracy[s][v, j] for s in grid.strategies)
            out[v, j] = bool(max(grid.accuracy[s][v, j] for s in recommended) >= best - RULE_TOLERANCE)
    return out


def rule_checks(grid: GainMap) -> list[RuleCheck]:
    """The four quadrants (small/large × similar/different) with how often their rule holds."""
    holds = rule_holds(grid)
    small = grid.labels[None, :] <= SMALL_LABELS
    similar = grid.similar[:, None]
    checks = []
    for (is_small, is_similar), (recommended, advice) in RULES.items():
        cells = (small == is_small) & (similar == is_similar)
        verdicts = holds[cells]
        checked = any(s in grid.strategies for s in recommended)
        checks.append(RuleCheck(is_small, is_similar, recommended, advice, int(cells.sum()),
                                int(sum(1 for h in verdicts if h)), checked))
    return checks
