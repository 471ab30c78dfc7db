"""Choosing a model without target labels: label-free validation criteria for the alignment weight λ.

A practitioner who adapts a model has labelled source data and an unlabelled target pool, never the
target's labels; the λ with the best *target test* accuracy is an oracle choice. The criteria here use
only what the practitioner has, and each gives every trained model an estimated risk (a 0-1 error; lower
is better):

``source_val``
    Plain source validation: the error on a held-out labelled source sample. It ignores the shift and is
    the baseline the other two correct.
``iwv``
    Importance-weighted validation (Sugiyama, Krauledat and Müller, 2007): the held-out source errors
    weighted by the density ratio ``w(x) = p_T(x) / p_S(x)`` of the *inputs*,
    ``R = mean_i w(x_i) l(x_i, y_i)``. The ratio comes from a probabilistic domain classifier,
    ``w(x) = (n_S / n_T) P(target | x) / P(source | x)``, clipped to ``[0, WEIGHT_CLIP]``; one ratio
    serves every model.
``dev``
    Deep embedded validation (You, Wang, Long and Jordan, 2019): the same weighting, but with the density
    ratio of each model's *features* (its last hidden layer) and a control variate that removes the
    weights' own noise: ``L_i = w_i l_i``, ``eta = -Cov(L, w) / Var(w)``,
    ``R = mean(L) + eta mean(w) - eta``.

The held-out source sample is one the models never trained on (:func:`held_out_source`): for the 2-D
datasets a fresh draw of the source generator on its own random stream; for digits the source half's
images that the training sample left out.

The domain classifiers are L2-regularised logistic regressions fitted by Newton's method, all of a
sweep's models as one batched solve: on the inputs, over an intercept, the standardised inputs (up to
:data:`MAX_LINEAR_INPUTS` features) and Gaussian bumps ``exp(-||x - c||^2 / (2 sigma^2))`` at
:data:`RBF_CENTRES` pooled points (median-heuristic ``sigma``, the project's kernel convention); on the
features, over an intercept and the standardised features. Each is fitted on the training source
against the target pool and evaluated on the held-out source points.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from core.data import images
from core.data.domains import (
    DIGITS_STREAM,
    DomainData,
    capped_counts,
    draw_mixture,
    n_features,
    source_class_proportions,
    source_classes,
)
from core.metrics.divergence import median_bandwidth
from core.scenario import Scenario
from core.training.shift_corrections import WEIGHT_CLIP  # importance weights are clipped to [0, WEIGHT_CLIP]

VALIDATION_STREAM = 9  # numpy.random.default_rng([seed, 9]): the held-out source, apart from every split's stream
RBF_CENTRES = 100  # Gaussian bumps of the input-space domain classifier
MAX_LINEAR_INPUTS = 16  # inputs wider than this (images) enter the domain classifier through the bumps only
RIDGE = 1.0  # L2 penalty on the domain classifiers' weights (not the intercept), on the summed log-loss
NEWTON_STEPS = 50
LOGIT_LIMIT = 30.0


@dataclass(frozen=True)
class Criterion:
    """A label-free selection criterion: its key in a sweep's points (``<name>_risk``), its label and what it
    uses."""

    name: str
    label: str
    uses: str

    @property
    def key(self) -> str:
        return f"{self.name}_risk"


CRITERIA: tuple[Criterion, ...] = (
    Criterion("source_val", "Source validation", "held-out source error, unweighted (ignores the shift)"),
    Criterion("iwv", "IWV (Sugiyama et al. 2007)",
              "held-out source error weighted by the input density ratio p_T(x)/p_S(x)"),
    Criterion("dev", "DEV (You et al. 2019)",
              "held-out source error weighted by each model's feature density ratio, with a control variate"),
)
CRITERIA_BY_NAME = {c.name: c for c in CRITERIA}


# --- the held-out source -------------------------------------------------------------------------------

def held_out_source(scenario: Scenario, n_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A labelled source sample that no model trained on, as ``(x, y)``.

    2-D datasets: ``n_points`` (default ``n_source``) fresh points of the source generator, balanced over
    the source's classes, from ``numpy.random.default_rng([seed, VALIDATION_STREAM])``. Digits: the
    images of the source half that :func:`core.data.domains.generate` left out of the training sample
    (none when ``n_source`` took them all), with pixel noise from their own seed; ``n_points`` is ignored.
    """
    if scenario.is_image:
        return _held_out_digits(scenario)
    n_points = scenario.n_source if n_points is None else int(n_points)
    rng = np.random.default_rng([scenario.seed, VALIDATION_STREAM])
    x, y = draw_mixture(scenario.dataset, n_points, source_class_proportions(scenario), scenario.noise, rng)
    return np.pad(x, ((0, 0), (0, n_features(scenario) - x.shape[1]))), y


def _held_out_digits(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """The source half's images beyond the training sample (the same seeded permutations as the generator)."""
    all_images, all_labels = images.load_digit_images()
    labels = all_labels.numpy()
    source_half, _ = images.source_target_split(all_labels, scenario.seed)
    rng = np.random.default_rng([scenario.seed, DIGITS_STREAM, 0])
    classes = source_classes(scenario)
    members = {k: rng.permutation(source_half[labels[source_half] == k]) for k in classes}
    counts = capped_counts(scenario.n_source, source_class_proportions(scenario),
                           {k: len(m) for k, m in members.items()})
    rows = np.concatenate([members[k][counts[k]:] for k in classes]).astype(int)
    if not len(rows):
        return np.zeros((0, int(np.prod(images.IMAGE_SHAPE)))), np.zeros(0, dtype=np.int64)
    clean = images.to_network_images(all_images[rows])
    noisy = images.add_noise(clean, scenario.noise, seed=scenario.seed * 1_000 + VALIDATION_STREAM)
    return images.flatten(noisy), labels[rows]


# --- domain classifiers and density ratios ----------------------------------------------------------------

def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def batched_logistic_regression(features: np.ndarray, targets: np.ndarray, ridge: float = RIDGE,
                                steps: int = NEWTON_STEPS) -> np.ndarray:
    """L2-regularised logistic regressions, one per model, fitted together by Newton's method.

    Parameters
    ----------
    features : array of shape [M, N, D]
        Each model's design matrix; column 0 is the intercept (not penalised).
    targets : array of shape [N]
        0 or 1 (the same for every model).
    ridge : float
        Penalty ``ridge/2 ||beta[1:]||^2`` added to the summed log-loss.

    Returns
    -------
    beta : array of shape [M, D]
    """
    phi = np.asarray(features, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    n_models, _, dim = phi.shape
    penalty = ridge * np.eye(dim)
    penalty[0, 0] = 0.0
    beta = np.zeros((n_models, dim))
    for _ in range(steps):
        p = _sigmoid(np.einsum("mnd,md->mn", phi, beta))
        gradient = np.einsum("mnd,mn->md", phi, p - t) + beta @ penalty
        hessian = np.matmul(phi.transpose(0, 2, 1), phi * (p * (1 - p))[..., None]) + penalty + 1e-9 * np.eye(dim)
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


@dataclass(frozen=True)
class InputDensityRatio:
    """``p_T(x) / p_S(x)`` from a domain classifier on the inputs (see the module's docstring)."""

    mean: np.ndarray
    std: np.ndarray
    linear: bool
    centres: np.ndarray
    sigma: float
    beta: np.ndarray
    prior_odds: float  # n_T / n_S of the classifier's training sample

    def basis(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        squared = np.maximum((x ** 2).sum(axis=1)[:, None] + (self.centres ** 2).sum(axis=1)[None]
                             - 2 * x @ self.centres.T, 0.0)
        parts = [np.ones((len(x), 1))]
        if self.linear:
            parts.append((x - self.mean) / self.std)
        parts.append(np.exp(-squared / (2 * self.sigma ** 2)))
        return np.concatenate(parts, axis=1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The unclipped density ratio at each row of ``x``."""
        logit = np.clip(self.basis(x) @ self.beta, -LOGIT_LIMIT, LOGIT_LIMIT)
        return np.exp(logit) / self.prior_odds


def fit_input_density_ratio(source_x: np.ndarray, target_x: np.ndarray, seed: int = 0,
                            n_centres: int = RBF_CENTRES, ridge: float = RIDGE) -> InputDensityRatio:
    """Fit the input-space domain classifier (source 0, target 1) and return the density ratio it implies."""
    source_x, target_x = np.asarray(source_x, dtype=np.float64), np.asarray(target_x, dtype=np.float64)
    pooled = np.concatenate([source_x, target_x])
    rng = np.random.default_rng([seed, VALIDATION_STREAM, 1])
    centres = pooled[np.sort(rng.choice(len(pooled), size=min(n_centres, len(pooled)), replace=False))]
    std = pooled.std(axis=0)
    ratio = InputDensityRatio(mean=pooled.mean(axis=0), std=np.where(std > 1e-8, std, 1.0),
                              linear=pooled.shape[1] <= MAX_LINEAR_INPUTS, centres=centres,
                              sigma=median_bandwidth(source_x, target_x, seed=seed), beta=np.zeros(0),
                              prior_odds=len(target_x) / len(source_x))
    targets = np.concatenate([np.zeros(len(source_x)), np.ones(len(target_x))])
    beta = batched_logistic_regression(ratio.basis(pooled)[None], targets, ridge)[0]
    return dataclasses.replace(ratio, beta=beta)


def feature_density_ratios(source_features: np.ndarray, target_features: np.ndarray,
                           validation_features: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """Each model's unclipped ``p_T(f) / p_S(f)`` at its validation features ``[M, N_val, H]``: a linear domain
    classifier per model on its standardised features (source ``[M, N_S, H]`` 0, target ``[M, N_T, H]`` 1),
    all fitted as one batch. Returns ``[M, N_val]``."""
    source_features = np.nan_to_num(np.asarray(source_features, dtype=np.float64), posinf=0.0, neginf=0.0)
    target_features = np.nan_to_num(np.asarray(target_features, dtype=np.float64), posinf=0.0, neginf=0.0)
    validation_features = np.nan_to_num(np.asarray(validation_features, dtype=np.float64), posinf=0.0,
                                        neginf=0.0)
    pooled = np.concatenate([source_features, target_features], axis=1)
    mean, std = pooled.mean(axis=1, keepdims=True), pooled.std(axis=1, keepdims=True)
    std = np.where(std > 1e-8, std, 1.0)

    def design(f: np.ndarray) -> np.ndarray:
        z = (f - mean) / std
        return np.concatenate([np.ones(z.shape[:2] + (1,)), z], axis=2)

    targets = np.concatenate([np.zeros(source_features.shape[1]), np.ones(target_features.shape[1])])
    beta = batched_logistic_regression(design(pooled), targets, ridge)
    logit = np.clip(np.einsum("mnd,md->mn", design(validation_features), beta), -LOGIT_LIMIT, LOGIT_LIMIT)
    return np.exp(logit) * source_features.shape[1] / target_features.shape[1]


def clip_weights(weights: np.ndarray, clip: float = WEIGHT_CLIP) -> np.ndarray:
    return np.clip(weights, 0.0, clip)


# --- the risks ---------------------------------------------------------------------------------------------

def iwv_risk(losses: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Importance-weighted validation risk ``mean_i w_i l_i`` per model (``losses`` ``[M, N]``, ``weights``
    ``[N]`` or ``[M, N]``)."""
    return (np.asarray(losses, dtype=np.float64) * weights).mean(axis=-1)


def dev_risk(losses: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Deep embedded validation risk per model: ``mean(L) + eta mean(w) - eta`` with ``L = w l`` and
    ``eta = -Cov(L, w) / Var(w)`` (``eta = 0`` where the weights do not vary)."""
    losses = np.asarray(losses, dtype=np.float64)
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), losses.shape)
    weighted = weights * losses
    w_centred = weights - weights.mean(axis=-1, keepdims=True)
    covariance = ((weighted - weighted.mean(axis=-1, keepdims=True)) * w_centred).mean(axis=-1)
    variance = (w_centred ** 2).mean(axis=-1)
    eta = np.where(variance > 1e-12, -covariance / np.where(variance > 1e-12, variance, 1.0), 0.0)
    return weighted.mean(axis=-1) + eta * weights.mean(axis=-1) - eta


def effective_sample_share(weights: np.ndarray) -> float:
    """Kish's effective sample size of importance weights as a share of their number, in (0, 1]."""
    weights = np.asarray(weights, dtype=np.float64)
    total = float((weights ** 2).sum())
    return float(weights.sum() ** 2 / (len(weights) * total)) if total > 0 else 0.0


@dataclass(frozen=True)
class CriterionScores:
    """Every model's risk under each criterion (``risks[name]`` is ``[M]``; NaN for diverged models) and how
    the held-out source and the input weights looked."""

    risks: dict[str, np.ndarray]
    n_validation: int
    iwv_effective_share: float | None
    iwv_clipped_share: float | None

    def to_json(self) -> dict:
        return {"held_out_source_points": self.n_validation, "weight_clip": WEIGHT_CLIP,
                "iwv_effective_sample_share": self.iwv_effective_share,
                "iwv_clipped_share": self.iwv_clipped_share,
                "domain_classifier": f"L2 logistic regression (ridge {RIDGE:g}) on standardised inputs and "
                                     f"{RBF_CENTRES} Gaussian bumps (IWV), on each model's standardised "
                                     "features (DEV)"}


def criterion_scores(trained, data: DomainData, validation: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> CriterionScores:
    """Score every model of ``trained`` (a :class:`~core.training.train.TrainedModels`) with each criterion,
    using the training source, the unlabelled target pool and a held-out source sample (default
    :func:`held_out_source` of the data's scenario). Never reads a target label."""
    val_x, val_y = held_out_source(data.scenario) if validation is None else validation
    n_models = len(trained.specs)
    if not len(val_x):
        nan = np.full(n_models, np.nan)
        return CriterionScores({c.name: nan.copy() for c in CRITERIA}, 0, None, None)
    losses = (trained.predict_proba(val_x).argmax(axis=-1) != val_y).astype(np.float64)
    ratio = fit_input_density_ratio(data.source_x, data.target_pool_x, seed=data.scenario.seed)
    raw = ratio(val_x)
    input_weights = clip_weights(raw)
    feature_weights = clip_weights(feature_density_ratios(trained.features(data.source_x),
                                                          trained.features(data.target_pool_x),
                                                          trained.features(val_x)))
    risks = {"source_val": losses.mean(axis=1), "iwv": iwv_risk(losses, input_weights),
             "dev": dev_risk(losses, feature_weights)}
    diverged = trained.diverged
    for values in risks.values():
        values[diverged | ~np.isfinite(values)] = np.nan
    return CriterionScores(risks, len(val_x), effective_sample_share(input_weights),
                           float((raw > WEIGHT_CLIP).mean()))
