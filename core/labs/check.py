"""A transferability check for real tables: how far a target table has shifted from a source table.

Given the chosen numeric features of both tables (:class:`core.data.tables.Selection`), report

- per feature: the standardised mean difference ``(mean_T - mean_S) / sqrt((var_S + var_T) / 2)``
  and the two-sample Kolmogorov-Smirnov statistic with its p-value, ranked by KS;
- on all features together, standardised with the pooled mean and sd: the biased MMD² with a
  Gaussian kernel (median-heuristic bandwidth) and its permutation p-value, and the proxy
  A-distance of a held-out MLP domain classifier (a classifier two-sample test);
- the label proportions of each table, when there is a label column;
- a verdict in plain words, from thresholds stated in :data:`PAD_LEVELS` and :data:`SIGNIFICANCE`.

No streamlit here; the page and ``python -m core check`` call :func:`run_check`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats
from sklearn.decomposition import PCA

from core.data.domains import TrainingInputs, subsample
from core.metrics import divergence
from core.nn.standardise import input_statistics, standardise
from core.training.train import ModelSpec, TrainSettings, train_models

SIGNIFICANCE = 0.05  # the MMD permutation test's level
PAD_LEVELS = ((0.5, "small"), (1.5, "moderate"), (2.01, "large"))  # proxy A-distance below each bound
PRIOR_SHIFT_WARNING = 0.2  # total variation between label proportions that the verdict warns about


@dataclass(frozen=True)
class FeatureShift:
    """How one feature moved: standardised mean difference and the Kolmogorov-Smirnov test."""

    feature: str
    source_mean: float
    target_mean: float
    standardised_mean_difference: float
    ks_statistic: float
    ks_pvalue: float


def feature_ranking(source_x: np.ndarray, target_x: np.ndarray, features: Sequence[str]) -> list[FeatureShift]:
    """Every feature's shift, the largest Kolmogorov-Smirnov statistic first."""
    rows = []
    for j, name in enumerate(features):
        s, t = source_x[:, j], target_x[:, j]
        pooled_sd = np.sqrt((s.var() + t.var()) / 2.0)
        smd = 0.0 if pooled_sd < 1e-12 else float((t.mean() - s.mean()) / pooled_sd)
        ks = stats.ks_2samp(s, t)
        rows.append(FeatureShift(name, float(s.mean()), float(t.mean()), smd, float(ks.statistic),
                                 float(ks.pvalue)))
    return sorted(rows, key=lambda r: (-r.ks_statistic, r.feature))


def label_proportions(y: np.ndarray | None, classes: Sequence[str]) -> dict[str, float] | None:
    """Share of each class in ``y`` (codes into ``classes``), or ``None`` without labels."""
    if y is None:
        return None
    counts = np.bincount(y, minlength=len(classes))
    return {name: float(c / max(1, counts.sum())) for name, c in zip(classes, counts)}


def pooled_standardised(source_x: np.ndarray, target_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both tables standardised with the pooled mean and sd (a constant feature keeps sd 1)."""
    mean, sd = input_statistics(np.concatenate([source_x, target_x]))
    return standardise(source_x, mean, sd), standardise(target_x, mean, sd)


@dataclass(frozen=True)
class Disagreement:
    """How a source-only model and an adapted one (DANN) differ on the target rows, over seeds.

    ``share`` is the share of target rows on which their majority votes over seeds differ;
    ``source_only_acc`` / ``adapted_acc`` their mean target accuracy when the target has labels.
    """

    share: float
    source_only_acc: float | None
    adapted_acc: float | None
    n_seeds: int


def model_disagreement(source_x: np.ndarray, source_y: np.ndarray, target_x: np.ndarray, n_classes: int,
                       target_y: np.ndarray | None = None, n_seeds: int = 3, steps: int = 300) -> Disagreement:
    """Train source-only and DANN models (``n_seeds`` each, one batch) on the labelled source and the
    unlabelled target rows, and compare their predictions on the target."""
    inputs = TrainingInputs(source_x, source_y, target_x, source_x[:0], source_y[:0])
    specs = [ModelSpec(method, seed, 1.0) for method in ("source_only", "dann") for seed in range(n_seeds)]
    trained = train_models(inputs, specs, TrainSettings(steps=steps), n_classes=n_classes)
    predicted = trained.predict_proba(target_x).argmax(axis=-1).reshape(2, n_seeds, -1)
    votes = [np.apply_along_axis(np.bincount, 0, p, minlength=n_classes).argmax(axis=0) for p in predicted]
    accuracy = [None if target_y is None else float((p == target_y).mean()) for p in predicted]
    return Disagreement(float((votes[0] != votes[1]).mean()), accuracy[0], accuracy[1], n_seeds)


def shift_size(pad: float) -> str:
    """``small``, ``moderate`` or ``large`` for a proxy A-distance in [0, 2] (:data:`PAD_LEVELS`)."""
    return next(word for bound, word in PAD_LEVELS if pad < bound)


@dataclass
class CheckReport:
    """Everything the check found (see the module docstring)."""

    n_source: int
    n_target: int
    features: tuple[str, ...]
    ranking: list[FeatureShift]
    mmd2: float
    mmd_pvalue: float
    mmd_permutations: int
    mmd_bandwidth: float
    proxy_a_distance: float
    proxy_a_distance_std: float
    proxy_a_classifier: str
    source_labels: dict[str, float] | None
    target_labels: dict[str, float] | None
    notes: tuple[str, ...]
    disagreement: Disagreement | None = None

    @property
    def significant(self) -> bool:
        return self.mmd_pvalue < SIGNIFICANCE

    @property
    def label_shift(self) -> float | None:
        """Total variation distance between the label proportions (``None`` without labels in both)."""
        if self.source_labels is None or self.target_labels is None:
            return None
        return 0.5 * sum(abs(self.source_labels[k] - self.target_labels[k]) for k in self.source_labels)

    def verdict(self) -> list[str]:
        """The findings in plain words, one sentence each."""
        lines = []
        if not self.significant:
            lines.append(f"No significant shift: the MMD permutation test gives p = {self.mmd_pvalue:.3f} "
                         f"(≥ {SIGNIFICANCE}), and the domain classifier's proxy A-distance is "
                         f"{self.proxy_a_distance:.2f} of at most 2. A model trained on the source should behave "
                         "on the target as it does on held-out source data.")
        else:
            size = shift_size(self.proxy_a_distance)
            top = ", ".join(r.feature for r in self.ranking[:3])
            lines.append(f"The target has shifted ({size} shift): MMD permutation p = {self.mmd_pvalue:.3f} "
                         f"(< {SIGNIFICANCE}), proxy A-distance {self.proxy_a_distance:.2f} of at most 2. "
                         f"The features that moved most: {top}.")
            lines.append({"small": "Risk of negative transfer: low. Expect a modest drop in accuracy; "
                                   "adaptation has little to fix and little room to hurt.",
                          "moderate": "Risk of negative transfer: moderate. Check accuracy on a few labelled "
                                      "target rows before trusting the source model; alignment may help.",
                          "large": "Risk of negative transfer: high. A domain classifier tells the tables apart "
                                   "almost perfectly; the source model may fail on the target, and aligning "
                                   "features can make it worse. Label some target rows and fine-tune."}[size])
        if self.disagreement is not None:
            d = self.disagreement
            accuracy = ("" if d.source_only_acc is None else
                        f" On the target's own labels: source-only {d.source_only_acc:.1%}, "
                        f"adapted {d.adapted_acc:.1%}.")
            lines.append(f"A source-only model and an adapted one (DANN) disagree on {d.share:.1%} of the target rows."
                         + accuracy)
        shift = self.label_shift
        if shift is not None and shift > PRIOR_SHIFT_WARNING:
            lines.append(f"The label proportions differ (total variation {shift:.2f}): prior shift. Methods that "
                         "align the whole feature distributions (MMD, DANN) can mix classes up here.")
        return lines

    def to_json(self) -> dict:
        """A JSON-ready dict: ``mmd2``, ``mmd_pvalue``, ``proxy_a_distance``, ``ranking`` and the rest."""
        answer = asdict(self)
        answer["features"] = list(self.features)
        answer["notes"] = list(self.notes)
        answer["significant"] = self.significant
        answer["label_shift"] = self.label_shift
        answer["verdict"] = self.verdict()
        return answer

    def to_markdown(self) -> str:
        """The report as a Markdown document (the page's download)."""
        lines = ["# Transferability check", "", f"Source: {self.n_source} rows; target: {self.n_target} rows; "
                 f"{len(self.features)} features.", "", "## Verdict", ""]
        lines += [f"- {line}" for line in self.verdict()]
        lines += ["", "## Whole-table divergences", "",
                  f"- MMD² (biased, Gaussian kernel, bandwidth {self.mmd_bandwidth:.3g} on pooled-standardised "
                  f"features): {self.mmd2:.4g}, permutation p-value {self.mmd_pvalue:.4f} "
                  f"({self.mmd_permutations} permutations)",
                  f"- Proxy A-distance: {self.proxy_a_distance:.3f} ± {self.proxy_a_distance_std:.3f} "
                  f"({self.proxy_a_classifier})", "", "## Features, most shifted first", "",
                  "| feature | source mean | target mean | standardised mean difference | KS | KS p-value |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {r.feature} | {r.source_mean:.4g} | {r.target_mean:.4g} | {r.standardised_mean_difference:+.3f} "
                  f"| {r.ks_statistic:.3f} | {r.ks_pvalue:.3g} |" for r in self.ranking]
        if self.source_labels is not None or self.target_labels is not None:
            lines += ["", "## Label proportions", "", "| class | source | target |", "| --- | --- | --- |"]
            names = list((self.source_labels or self.target_labels).keys())
            share = lambda d, k: "—" if d is None else f"{d[k]:.1%}"  # noqa: E731
            lines += [f"| {k} | {share(self.source_labels, k)} | {share(self.target_labels, k)} |" for k in names]
        if self.notes:
            lines += ["", "## How the files were read", ""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def run_check(source_x: np.ndarray, target_x: np.ndarray, features: Sequence[str],
              source_y: np.ndarray | None = None, target_y: np.ndarray | None = None,
              classes: Sequence[str] = (), notes: Sequence[str] = (), n_permutations: int = 500,
              pad_seeds: int = 3, seed: int = 0, compare_models: bool = True) -> CheckReport:
    """Compare a source and a target table on ``features`` (arrays ``[n, d]``, finite); with source labels
    and ``compare_models``, also how source-only and adapted models disagree on the target."""
    source, target = pooled_standardised(np.asarray(source_x, float), np.asarray(target_x, float))
    sigma = divergence.median_bandwidth(source, target, seed=seed)
    test = divergence.mmd_permutation_test(source, target, sigma=sigma, n_permutations=n_permutations, seed=seed)
    pad = divergence.proxy_a_distance(source, target, classifier="mlp", n_seeds=pad_seeds, seed=seed)
    return CheckReport(
        n_source=len(source), n_target=len(target), features=tuple(features),
        ranking=feature_ranking(np.asarray(source_x, float), np.asarray(target_x, float), features),
        mmd2=float(test.statistic), mmd_pvalue=float(test.p_value), mmd_permutations=int(test.n_permutations),
        mmd_bandwidth=float(sigma), proxy_a_distance=float(pad.mean), proxy_a_distance_std=float(pad.std),
        proxy_a_classifier=pad.classifier, source_labels=label_proportions(source_y, classes),
        target_labels=label_proportions(target_y, classes), notes=tuple(notes),
        disagreement=None if source_y is None or not compare_models else model_disagreement(
            source, np.asarray(source_y), target, len(classes), None if target_y is None else np.asarray(target_y)))


@dataclass(frozen=True)
class PcaView:
    """Both tables in the first two principal components of their pooled, standardised features."""

    source: np.ndarray
    target: np.ndarray
    explained: tuple[float, float]


def pca_view(source_x: np.ndarray, target_x: np.ndarray, max_points: int = 1000, seed: int = 0) -> PcaView:
    """PCA fitted on both tables together (pooled-standardised); at most ``max_points`` rows of each drawn."""
    source, target = pooled_standardised(np.asarray(source_x, float), np.asarray(target_x, float))
    source = source[subsample(len(source), max_points, seed)]
    target = target[subsample(len(target), max_points, seed + 1)]
    pooled = np.concatenate([source, target])
    components = min(2, pooled.shape[1])
    pca = PCA(n_components=components, random_state=seed).fit(pooled)
    project = lambda x: np.pad(pca.transform(x), ((0, 0), (0, 2 - components)))  # noqa: E731
    ratios = np.pad(pca.explained_variance_ratio_, (0, 2 - components))
    return PcaView(project(source), project(target), (float(ratios[0]), float(ratios[1])))
