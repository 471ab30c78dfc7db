"""A transferability check for real tables: how far a target table has shifted from a source table.

Given the chosen numeric features of both tables (:class:`core.data.tables.Selection`), report

- per feature: the standardised mean difference ``(mean_T - mean_S) / sqrt((var_S + var_T) / 2)``
  and the two-sample Kolmogorov-Smirnov statistic with its p-value, ranked by KS;
- on all features together, standardised with the pooled mean and sd: the biased MMD² with a
  Gaussian kernel (median-heuristic bandwidth) and its permutation p-value, and the proxy
  A-distance of a held-out MLP domain classifier (a classifier two-sample test);
- the label proportions of each table, when there is a label column;
- with labels on both sides, a source-only model's accuracy on held-out source rows against the target's
  (the measured drop, with its interval), and how it and DANN disagree on the target rows;
- a verdict in plain words: the measured drop first, then the test at :data:`SIGNIFICANCE`, and what the
  input divergences cannot see (a change of P(y | x)).

No streamlit here; the page and ``python -m core check`` call :func:`run_check`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats
from sklearn.decomposition import PCA

from core import budget
from core.data.domains import TrainingInputs, subsample
from core.formatting import plain, signed
from core.knobs import Knob
from core.labs.transfer_setting import TransferSetting, label_space, unlabelled_target_setting
from core.metrics import divergence
from core.metrics.shift_report import DEFAULT_PAD_SEEDS, PERMUTATIONS_KNOB
from core.nn.standardise import input_statistics, standardise
from core.training.train import ModelSpec, TrainSettings, train_models

SIGNIFICANCE = 0.05  # the MMD permutation test's level
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


MODEL_STEPS, MODEL_SEEDS = 300, 3  # the source-only and DANN models of :func:`model_disagreement`
HELD_OUT_SHARE = 0.3  # of the source rows, kept out of training to measure the source accuracy
Z_95 = 1.959964  # two-sided 95% normal quantile


@dataclass(frozen=True)
class AccuracyDrop:
    """Source-only accuracy on held-out source rows minus on the labelled target rows, with a 95% interval
    (normal approximation for two independent proportions; each accuracy a mean over seeds)."""

    held_out_source_acc: float
    target_acc: float
    n_held_out: int
    n_target: int

    @property
    def drop(self) -> float:
        return self.held_out_source_acc - self.target_acc

    @property
    def interval(self) -> tuple[float, float]:
        p, q = self.held_out_source_acc, self.target_acc
        se = np.sqrt(p * (1 - p) / max(1, self.n_held_out) + q * (1 - q) / max(1, self.n_target))
        return self.drop - Z_95 * se, self.drop + Z_95 * se

    def sentence(self, n_seeds: int) -> str:
        low, high = self.interval
        measured = (f"Measured on the target's own labels: a source-only model scores {self.held_out_source_acc:.1%} "
                    f"on held-out source rows and {self.target_acc:.1%} on the target rows, a drop of "
                    f"{signed(100 * self.drop)} points (95% interval {signed(100 * low)} to {signed(100 * high)}; "
                    f"{n_seeds} seeds, {self.n_held_out} + {self.n_target} rows)")
        if low > 0:
            return measured + ": the shift costs this model accuracy."
        if high < 0:
            return measured + ": this model does better on the target than on the source."
        return measured + ": no significant change for this model (the interval holds 0)."


@dataclass(frozen=True)
class Disagreement:
    """How a source-only model and an adapted one (DANN) differ on the target rows, over seeds.

    Both train on the source rows less :data:`HELD_OUT_SHARE` of them (held out, to measure source accuracy).
    ``share`` is the share of target rows on which their majority votes over seeds differ;
    ``source_only_acc`` / ``adapted_acc`` their mean target accuracy when the target has labels, and
    ``drop`` source-only's accuracy on the held-out source rows against the target's.
    """

    share: float
    source_only_acc: float | None
    adapted_acc: float | None
    n_seeds: int
    drop: AccuracyDrop | None = None


def held_out_rows(n: int, seed: int) -> np.ndarray:
    """A seeded boolean mask of the :data:`HELD_OUT_SHARE` of ``n`` source rows kept out of training (at least
    one row kept in and, from 2 rows, one held out)."""
    held = np.zeros(n, dtype=bool)
    count = min(n - 1, max(1, int(round(HELD_OUT_SHARE * n)))) if n > 1 else 0
    held[np.random.default_rng([seed, 11]).permutation(n)[:count]] = True
    return held


def model_disagreement(source_x: np.ndarray, source_y: np.ndarray, target_x: np.ndarray, n_classes: int,
                       target_y: np.ndarray | None = None, n_seeds: int = MODEL_SEEDS, steps: int = MODEL_STEPS,
                       seed: int = 0) -> Disagreement:
    """Train source-only and DANN models (``n_seeds`` each, one batch) on the labelled source rows less a
    held-out share and on the unlabelled target rows, and compare their predictions on the target."""
    held = held_out_rows(len(source_x), seed)
    train_x, train_y = source_x[~held], source_y[~held]
    inputs = TrainingInputs(train_x, train_y, target_x, train_x[:0], train_y[:0])
    specs = [ModelSpec(method, model_seed, 1.0) for method in ("source_only", "dann") for model_seed in range(n_seeds)]
    trained = train_models(inputs, specs, TrainSettings(steps=steps), n_classes=n_classes)
    predicted = trained.predict_proba(target_x).argmax(axis=-1).reshape(2, n_seeds, -1)
    votes = [np.apply_along_axis(np.bincount, 0, p, minlength=n_classes).argmax(axis=0) for p in predicted]
    accuracy = [None if target_y is None else float((p == target_y).mean()) for p in predicted]
    drop = None
    if target_y is not None and held.any():
        held_predicted = trained.predict_proba(source_x[held]).argmax(axis=-1).reshape(2, n_seeds, -1)[0]
        drop = AccuracyDrop(float((held_predicted == source_y[held]).mean()), accuracy[0], int(held.sum()),
                            len(target_y))
    return Disagreement(float((votes[0] != votes[1]).mean()), accuracy[0], accuracy[1], n_seeds, drop)


def domain_classifier_error(pad: float) -> float:
    """The balanced error of the domain classifier behind a proxy A-distance ``2 (1 - 2 err)``."""
    return (1.0 - pad / 2.0) / 2.0


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

    def transfer_setting(self) -> TransferSetting:
        """The check's models learn from the labelled source rows and the unlabelled target rows (target labels
        only measure them): transductive, or inductive when the observed classes differ; unsupervised (no model
        learns a task) without a label column."""
        if self.source_labels is None:
            return unlabelled_target_setting(None)
        if self.target_labels is None:
            return unlabelled_target_setting()
        observed = [{name for name, share in labels.items() if share > 0}
                    for labels in (self.source_labels, self.target_labels)]
        return unlabelled_target_setting(label_space(*observed))

    def setting_text(self) -> str:
        """The setting's paragraph, with what it assumes when the target's classes cannot be seen."""
        text = self.transfer_setting().text()
        if self.source_labels is None:
            return text
        if self.target_labels is None:
            text += (" Without target labels the check cannot see whether the target has the source's classes: "
                     "the same label space is assumed.")
        else:
            text += " The target's labels only measure the models here (an oracle quantity)."
        return text

    @property
    def needs_attention(self) -> bool:
        """A significant input shift, or a significant accuracy drop measured on target labels."""
        drop = None if self.disagreement is None else self.disagreement.drop
        return self.significant or (drop is not None and drop.interval[0] > 0)

    def verdict(self) -> list[str]:
        """The findings in plain words, one sentence each; the measured accuracy drop first when the target has
        labels. A non-significant divergence is never read as safety: it says what it cannot see."""
        lines = []
        d = self.disagreement
        if d is not None and d.drop is not None:
            lines.append(d.drop.sentence(d.n_seeds))
        error = domain_classifier_error(self.proxy_a_distance)
        separable = (f"a domain classifier tells the tables apart with a balanced error of {error:.0%} (proxy "
                     f"A-distance {self.proxy_a_distance:.2f} of at most 2; 50% error would be no shift)")
        if self.significant:
            top = ", ".join(r.feature for r in self.ranking[:3])
            lines.append(f"The inputs have shifted: MMD permutation p = {self.mmd_pvalue:.3f} (< {SIGNIFICANCE}), "
                         f"and {separable}. The features that moved most: {top}.")
        else:
            lines.append(f"No significant shift of the inputs: MMD permutation p = {self.mmd_pvalue:.3f} "
                         f"(≥ {SIGNIFICANCE}), and {separable}. That is no evidence that nothing shifted.")
        if d is None or d.drop is None:
            lines.append("What this check cannot see: a test on the inputs is blind to a change of P(y | x) "
                         "(concept shift), which can cost a model all its accuracy on inputs that look alike; "
                         "only target labels measure that. Label some target rows and choose the label column.")
        else:
            lines.append("Input divergences cannot see a change of P(y | x) (concept shift); the measured drop "
                         "above does, for this model and these target rows.")
        if d is not None:
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
        answer["transfer_setting"] = {"names": list(self.transfer_setting().names), "text": self.setting_text()}
        return answer

    def to_markdown(self) -> str:
        """The report as a Markdown document (the page's download)."""
        lines = ["# Transferability check", "", f"Source: {self.n_source} rows; target: {self.n_target} rows; "
                 f"{len(self.features)} features.", "", "## Verdict", ""]
        lines += [f"- {plain(line)}" for line in self.verdict()]  # user text (column names) is escaped throughout
        lines += ["", "## Transfer setting", "", self.setting_text()]
        lines += ["", "## Whole-table divergences", "",
                  f"- MMD² (biased, Gaussian kernel, bandwidth {self.mmd_bandwidth:.3g} on pooled-standardised "
                  f"features): {self.mmd2:.4g}, permutation p-value {self.mmd_pvalue:.4f} "
                  f"({self.mmd_permutations} permutations)",
                  f"- Proxy A-distance: {self.proxy_a_distance:.3f} ± {self.proxy_a_distance_std:.3f} "
                  f"({self.proxy_a_classifier})", "", "## Features, most shifted first", "",
                  "| feature | source mean | target mean | standardised mean difference | KS | KS p-value |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {plain(r.feature)} | {r.source_mean:.4g} | {r.target_mean:.4g} "
                  f"| {r.standardised_mean_difference:+.3f} | {r.ks_statistic:.3f} | {r.ks_pvalue:.3g} |"
                  for r in self.ranking]
        if self.source_labels is not None or self.target_labels is not None:
            lines += ["", "## Label proportions", "", "| class | source | target |", "| --- | --- | --- |"]
            names = list((self.source_labels or self.target_labels).keys())
            share = lambda d, k: "—" if d is None else f"{d[k]:.1%}"  # noqa: E731
            lines += [f"| {plain(k)} | {share(self.source_labels, k)} | {share(self.target_labels, k)} |"
                      for k in names]
        if self.notes:
            lines += ["", "## How the files were read", ""] + [f"- {plain(note)}" for note in self.notes]
        return "\n".join(lines) + "\n"


DIVERGENCE_ROWS = 2000  # rows per table that the MMD test and the proxy A-distance's classifier see at most


def check_work(n_source: int, n_target: int, n_permutations: int = PERMUTATIONS_KNOB.default,
               pad_seeds: int = DEFAULT_PAD_SEEDS) -> budget.Work:
    """What :func:`run_check` computes on tables of ``n_source`` and ``n_target`` rows (for :mod:`core.budget`)."""
    seen = min(n_source, DIVERGENCE_ROWS) + min(n_target, DIVERGENCE_ROWS)
    return (budget.permutation_test(n_permutations, seen) + budget.kernel_statistics(seen)
            + budget.full_batch_loop(divergence.PAD_STEPS, pad_seeds, seen)
            + budget.minibatch_loop(MODEL_STEPS, {"source_only": MODEL_SEEDS, "dann": MODEL_SEEDS})
            + budget.scoring(2 * MODEL_SEEDS, n_source + n_target) + budget.data_points(n_source + n_target))


def check_budget(n_source: int, n_target: int, n_permutations: int = PERMUTATIONS_KNOB.default,
                 name_of: Callable[[Knob], str] = lambda knob: knob.name, limit: float = budget.WORK_BUDGET_S) -> float:
    """:func:`core.budget.check` for a check of these sizes: over ``limit``, the permutations to ask for."""
    return budget.check(lambda values: check_work(n_source, n_target, values["permutations"]).seconds,
                        {"permutations": n_permutations}, [PERMUTATIONS_KNOB], name_of, limit)


def run_check(source_x: np.ndarray, target_x: np.ndarray, features: Sequence[str],
              source_y: np.ndarray | None = None, target_y: np.ndarray | None = None,
              classes: Sequence[str] = (), notes: Sequence[str] = (), n_permutations: int = 500,
              pad_seeds: int = DEFAULT_PAD_SEEDS, seed: int = 0, compare_models: bool = True) -> CheckReport:
    """Compare a source and a target table on ``features`` (arrays ``[n, d]``, finite); with source labels
    and ``compare_models``, also how source-only and adapted models disagree on the target."""
    source, target = pooled_standardised(np.asarray(source_x, float), np.asarray(target_x, float))
    sigma = divergence.median_bandwidth(source, target, seed=seed)
    test = divergence.mmd_permutation_test(source, target, sigma=sigma, n_permutations=n_permutations, seed=seed,
                                           max_points_per_domain=DIVERGENCE_ROWS)
    rows_s, rows_t = subsample(len(source), DIVERGENCE_ROWS, seed), subsample(len(target), DIVERGENCE_ROWS, seed + 1)
    pad = divergence.proxy_a_distance(source[rows_s], target[rows_t], classifier="mlp", n_seeds=pad_seeds, seed=seed)
    if max(len(source), len(target)) > DIVERGENCE_ROWS:  # the work stays bounded, and the report says how
        notes = (*notes, f"the MMD test and the proxy A-distance's domain classifier used {len(rows_s):,} of the "
                         f"{len(source):,} source rows and {len(rows_t):,} of the {len(target):,} target rows, drawn "
                         f"at random (at most {DIVERGENCE_ROWS:,} per table); the feature ranking used every row")
    return CheckReport(
        n_source=len(source), n_target=len(target), features=tuple(features),
        ranking=feature_ranking(np.asarray(source_x, float), np.asarray(target_x, float), features),
        mmd2=float(test.statistic), mmd_pvalue=float(test.p_value), mmd_permutations=int(test.n_permutations),
        mmd_bandwidth=float(sigma), proxy_a_distance=float(pad.mean), proxy_a_distance_std=float(pad.std),
        proxy_a_classifier=pad.classifier, source_labels=label_proportions(source_y, classes),
        target_labels=label_proportions(target_y, classes), notes=tuple(notes),
        disagreement=None if source_y is None or not compare_models else model_disagreement(
            source, np.asarray(source_y), target, len(classes), None if target_y is None else np.asarray(target_y),
            seed=seed))


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
