"""What the MMD-vs-lambda page needs beyond :func:`core.labs.sweeps.lambda_sweep_with_models`:
the default grid, per-lambda summaries and each lambda's decision surface. No streamlit, no plotly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.data.domains import DomainData
from core.errors import InputError
from core.labs.adaptation import NEGATIVE_TRANSFER_MARGIN
from core.labs.embedding import grid_probabilities
from core.labs.model_selection import CRITERIA, CRITERIA_BY_NAME
from core.metrics.paired import INCONCLUSIVE, TransferVerdict, paired_drop
from core.training.train import TrainedModels

LAMBDA_LOW, LAMBDA_HIGH = 0.01, 10.0  # the positive part of the default grid
ANIMATION_RESOLUTION = 70  # grid points per axis of each animation frame (frames travel as JSON)
METRICS = ("target_acc", "source_acc", "feature_mmd2")  # the per-model numbers a sweep summarises
PICK_RULE = ("each criterion's risk is averaged over the seeds that trained at each λ, and the criterion picks the "
             "λ with the lowest mean (ties go to the smallest λ); the oracle picks the λ with the highest mean target "
             "test accuracy")


def lambda_grid(n_lambdas: int, low: float = LAMBDA_LOW, high: float = LAMBDA_HIGH) -> tuple[float, ...]:
    """``0`` followed by ``n_lambdas - 1`` log-spaced weights from ``low`` to ``high`` (3 significant digits)."""
    if not 3 <= int(n_lambdas) <= 32:
        raise InputError("lambdas", f"expected a grid of 3 to 32 weights, got {n_lambdas}")
    positive = np.logspace(np.log10(low), np.log10(high), int(n_lambdas) - 1)
    return (0.0,) + tuple(float(f"{v:.3g}") for v in positive)


@dataclass(frozen=True)
class LambdaSummary:
    """Per-lambda statistics over the seeds that trained (NaN where every seed diverged).

    ``mean``, ``low`` and ``high`` map each of :data:`METRICS` to ``[L]`` arrays (``low`` and
    ``high``: the min and max over seeds, the band drawn). ``verdicts[i]`` compares ``lambdas[i] > 0``
    with lambda = 0 (source-only training) seed by seed (:func:`core.metrics.paired.paired_drop`);
    ``oracle_best`` indexes the lambda with the highest mean target TEST accuracy: an ORACLE choice (it reads
    the target test labels, which no practitioner has). ``criteria`` maps each label-free criterion of
    :mod:`core.labs.model_selection` present in the points to its mean risk per lambda over the seeds, and
    ``picks`` to the lambda index with the lowest mean risk (None where no model has a risk).
    """

    lambdas: np.ndarray
    mean: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    diverged: np.ndarray
    n_seeds: int
    baseline: float | None
    verdicts: tuple[TransferVerdict | None, ...]
    oracle_best: int | None
    margin: float
    criteria: dict[str, np.ndarray] = field(default_factory=dict)
    picks: dict[str, int | None] = field(default_factory=dict)

    @property
    def negative(self) -> np.ndarray:
        """Where λ's paired test against λ = 0 finds negative transfer (:mod:`core.metrics.paired`)."""
        return np.array([v is not None and v.negative for v in self.verdicts], dtype=bool)

    @property
    def inconclusive(self) -> np.ndarray:
        """Where λ's mean drop exceeds the margin but the paired test cannot tell it from seed noise."""
        return np.array([v is not None and v.verdict == INCONCLUSIVE for v in self.verdicts], dtype=bool)


def summarise(points: Sequence[dict], margin: float = NEGATIVE_TRANSFER_MARGIN) -> LambdaSummary:
    """Reduce a sweep's points to per-lambda mean, min and max over seeds, the baseline, the oracle's best
    lambda and each label-free criterion's pick (:data:`PICK_RULE`)."""
    lambdas = np.array(sorted({p["align_weight"] for p in points}), dtype=float)
    mean, low, high = ({name: np.full(len(lambdas), np.nan) for name in METRICS} for _ in range(3))
    diverged = np.zeros(len(lambdas), dtype=int)
    for i, lam in enumerate(lambdas):
        rows = [p for p in points if p["align_weight"] == lam]
        diverged[i] = sum(p["diverged"] for p in rows)
        for name in METRICS:
            values = np.array([p[name] for p in rows if p[name] is not None], dtype=float)
            if values.size:
                mean[name][i], low[name][i], high[name][i] = values.mean(), values.min(), values.max()
    target = mean["target_acc"]
    baseline = float(target[0]) if lambdas[0] == 0.0 and np.isfinite(target[0]) else None
    n_seeds = 1 + max(p["seed"] for p in points)
    per_seed = np.full((len(lambdas), n_seeds), np.nan)
    for p in points:
        if p["target_acc"] is not None:
            per_seed[int(np.flatnonzero(lambdas == p["align_weight"])[0]), p["seed"]] = p["target_acc"]
    verdicts = tuple(paired_drop(per_seed[i], per_seed[0], margin) if baseline is not None and lam > 0 else None
                     for i, lam in enumerate(lambdas))
    oracle_best = int(np.nanargmax(target)) if np.isfinite(target).any() else None
    criteria, picks = {}, {}
    for criterion in CRITERIA:
        if not any(criterion.key in p for p in points):
            continue
        risk = np.full(len(lambdas), np.nan)
        for i, lam in enumerate(lambdas):
            values = [p[criterion.key] for p in points if p["align_weight"] == lam and p.get(criterion.key) is not None]
            if values:
                risk[i] = float(np.mean(values))
        criteria[criterion.name] = risk
        picks[criterion.name] = int(np.nanargmin(risk)) if np.isfinite(risk).any() else None
    return LambdaSummary(lambdas, mean, low, high, diverged, n_seeds, baseline, verdicts, oracle_best, margin,
                         criteria, picks)


def _number(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def selection_json(summary: LambdaSummary) -> dict:
    """The oracle's λ and each label-free criterion's pick, with what each pick costs in target test accuracy.

    ``{"oracle_best_lambda", "oracle_best_target_acc", "label_free_selection": {"rule", "criteria": [{"criterion",
    "label", "uses", "picked_lambda", "risk_at_pick", "oracle_target_acc_at_pick", "oracle_cost"}, ...]}}``.
    Every key that starts with ``oracle`` reads the target test labels (the mean over seeds at a λ);
    ``oracle_cost`` is the oracle's mean target accuracy minus the pick's (0 when they agree).
    """
    target = summary.mean["target_acc"]
    best = summary.oracle_best
    best_acc = None if best is None else _number(target[best])
    rows = []
    for name, risk in summary.criteria.items():
        pick = summary.picks[name]
        criterion = CRITERIA_BY_NAME[name]
        at_pick = None if pick is None else _number(target[pick])
        rows.append({"criterion": name, "label": criterion.label, "uses": criterion.uses,
                     "picked_lambda": None if pick is None else float(summary.lambdas[pick]),
                     "risk_at_pick": None if pick is None else _number(risk[pick]),
                     "oracle_target_acc_at_pick": at_pick,
                     "oracle_cost": None if at_pick is None or best_acc is None else best_acc - at_pick})
    return {"oracle_best_lambda": None if best is None else float(summary.lambdas[best]),
            "oracle_best_target_acc": best_acc,
            "label_free_selection": {"rule": PICK_RULE, "criteria": rows}}


def selection_rows(summary: LambdaSummary) -> list[dict]:
    """The page's table: the oracle's choice, then each criterion's pick (numbers from :func:`selection_json`)."""
    answer = selection_json(summary)
    rows = [{"chosen by": "ORACLE: target test labels", "uses target labels": "yes (oracle)",
             "λ": answer["oracle_best_lambda"], "criterion's accuracy estimate (1 − risk)": None,
             "target test acc. (oracle)": answer["oracle_best_target_acc"],
             "cost vs oracle (oracle)": None if answer["oracle_best_lambda"] is None else 0.0}]
    for row in answer["label_free_selection"]["criteria"]:
        rows.append({"chosen by": row["label"], "uses target labels": "no",
                     "λ": row["picked_lambda"],
                     "criterion's accuracy estimate (1 − risk)": None if row["risk_at_pick"] is None
                     else 1.0 - row["risk_at_pick"],
                     "target test acc. (oracle)": row["oracle_target_acc_at_pick"],
                     "cost vs oracle (oracle)": row["oracle_cost"]})
    return rows


@dataclass(frozen=True)
class LambdaSurfaces:
    """p(y | x) on a grid of the input plane for the first healthy seed at each lambda.

    ``probabilities[i]`` is ``[len(ys), len(xs), K]`` (``None`` where every seed diverged);
    ``models[i]`` the model's index into the sweep's specs.
    """

    lambdas: tuple[float, ...]
    xs: np.ndarray
    ys: np.ndarray
    probabilities: tuple[np.ndarray | None, ...]
    models: tuple[int | None, ...]


def lambda_surfaces(trained: TrainedModels, data: DomainData, resolution: int = ANIMATION_RESOLUTION
                    ) -> LambdaSurfaces:
    """Decision surfaces of each lambda's first healthy seed, on the fixed axes of
    :func:`core.data.domains.plane_ranges`.

    Raises
    ------
    InputError
        When the inputs are not 2-D (``feature_map=lift3d``).
    """
    xs, ys, proba = grid_probabilities(trained, data, resolution)
    lambdas = tuple(dict.fromkeys(spec.lam for spec in trained.specs))
    diverged = trained.diverged
    models = tuple(next((m for m, spec in enumerate(trained.specs) if spec.lam == lam and not diverged[m]), None)
                   for lam in lambdas)
    surfaces = tuple(None if m is None else proba[m] for m in models)
    return LambdaSurfaces(lambdas, xs, ys, surfaces, models)
