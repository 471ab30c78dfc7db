"""When is a drop against a baseline negative transfer? A paired test over seeds, not a difference of means.

Every page that flags negative transfer compares a method (or strategy, or λ) with its baseline on the
same data and the same model seeds, so the per-seed differences are paired. The rule, everywhere:

- **negative transfer**: the mean paired difference is more than ``margin`` below zero *and* a one-sided
  paired t-test rejects "no drop" at level ``alpha`` (H1: the mean difference is below 0);
- **inconclusive**: the mean drop exceeds the margin but the test does not reject (or fewer than two
  seeds trained), so the drop may be seed noise;
- **no drop**: the mean difference is within the margin or positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
NEGATIVE, INCONCLUSIVE, NO_DROP = "negative", "inconclusive", "no drop"
TEST_NAME = "one-sided paired t-test over seeds"
NEGATIVE_LABEL, INCONCLUSIVE_LABEL = "⚠️ negative transfer", "inconclusive drop"


@dataclass(frozen=True)
class TransferVerdict:
    """The verdict on one comparison: ``verdict`` (:data:`NEGATIVE`, :data:`INCONCLUSIVE` or :data:`NO_DROP`),
    the mean paired difference, the test's p-value (``None`` when it cannot run) and the number of pairs."""

    verdict: str
    mean_delta: float | None
    p_value: float | None
    pairs: int

    @property
    def negative(self) -> bool:
        return self.verdict == NEGATIVE

    def text(self) -> str:
        """A short label for a table cell: empty when there is no drop."""
        if self.verdict == NO_DROP:
            return ""
        p = "p n/a" if self.p_value is None else format_p(self.p_value)
        word = NEGATIVE_LABEL if self.negative else INCONCLUSIVE_LABEL
        return f"{word} ({p}, {self.pairs} seed{'s' if self.pairs != 1 else ''})"

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "mean_delta": self.mean_delta, "p_value": self.p_value,
                "pairs": self.pairs, "test": TEST_NAME}

    @classmethod
    def from_json(cls, answer: dict) -> TransferVerdict:
        return cls(answer["verdict"], answer["mean_delta"], answer["p_value"], answer["pairs"])


def format_p(p: float) -> str:
    """``p = 0.018``, or ``p < 0.001`` below that."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def paired_drop(values: np.ndarray, baseline: np.ndarray, margin: float, alpha: float = ALPHA) -> TransferVerdict:
    """The verdict on ``values`` against ``baseline``, both per seed (same order; NaN where a model diverged,
    which drops that pair)."""
    values, baseline = np.asarray(values, dtype=float), np.asarray(baseline, dtype=float)
    kept = np.isfinite(values) & np.isfinite(baseline)
    delta = values[kept] - baseline[kept]
    pairs = int(delta.size)
    if pairs == 0:
        return TransferVerdict(NO_DROP, None, None, 0)
    mean = float(delta.mean())
    p_value = one_sided_p(delta)
    if mean >= -margin:
        return TransferVerdict(NO_DROP, mean, p_value, pairs)
    significant = p_value is not None and p_value < alpha
    return TransferVerdict(NEGATIVE if significant else INCONCLUSIVE, mean, p_value, pairs)


def one_sided_p(delta: np.ndarray) -> float | None:
    """p-value of H0 "mean difference ≥ 0" against H1 "< 0" from paired differences; ``None`` with fewer than two.

    Identical differences have no spread: p is 0 when they are all below zero, 1 otherwise.
    """
    if delta.size < 2:
        return None
    sd = float(delta.std(ddof=1))
    if sd == 0.0:
        return 0.0 if delta[0] < 0 else 1.0
    t = float(delta.mean()) / (sd / math.sqrt(delta.size))
    return float(stats.t.cdf(t, df=delta.size - 1))


def median_model(candidates: list[tuple[int, float, int]]) -> int | None:
    """The model a picture shows by the median rule: of ``(model, accuracy, seed)`` candidates, the one whose
    accuracy is the median (the lower of the two middle ones for an even count; equal accuracies in seed
    order); ``None`` without candidates."""
    if not candidates:
        return None
    ranked = sorted(candidates, key=lambda c: (c[1], c[2]))
    return ranked[(len(ranked) - 1) // 2][0]
