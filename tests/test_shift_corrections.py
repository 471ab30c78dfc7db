"""The remedies for covariate shift (importance weighting) and prior shift (label-shift correction): known
answers on crafted data, and what they do in the batched engine."""

import numpy as np
import pytest
from scipy import stats

from core.labs.adaptation import run_adaptation
from core.scenario import Scenario
from core.training.shift_corrections import em_target_priors, importance_weights, prior_shift_bias
from core.training.train import TrainSettings

pytestmark = pytest.mark.unit


def _gaussian_posteriors(x, priors):
    """p(y | x) for classes N(-1, 1) and N(1, 1) under ``priors``."""
    likelihood = np.stack([stats.norm.pdf(x, -1, 1), stats.norm.pdf(x, 1, 1)], axis=-1)
    joint = likelihood * priors
    return joint / joint.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("target_priors", [(0.8, 0.2), (0.3, 0.7), (0.5, 0.5)])
def test_em_recovers_crafted_target_priors(target_priors):
    rng = np.random.default_rng(0)
    n = 4000
    labels = rng.random(n) < target_priors[1]
    x = np.where(labels, rng.normal(1, 1, n), rng.normal(-1, 1, n))
    source_priors = np.array([0.5, 0.5])
    estimated = em_target_priors(_gaussian_posteriors(x, source_priors), source_priors)
    assert np.abs(estimated - np.array(target_priors)).max() < 0.05
    assert estimated.sum() == pytest.approx(1.0)


def test_em_runs_per_model_and_the_bias_turns_source_posteriors_into_target_ones():
    rng = np.random.default_rng(1)
    x = rng.normal(-1, 1, 3000)  # a target of class 0 only
    posteriors = np.stack([_gaussian_posteriors(x, [0.5, 0.5]), _gaussian_posteriors(x, [0.5, 0.5])])
    estimated = em_target_priors(posteriors, np.array([0.5, 0.5]))
    assert estimated.shape == (2, 2) and (estimated[:, 0] > 0.9).all()
    q, p = np.array([0.8, 0.2]), np.array([0.5, 0.5])
    logits = np.log(_gaussian_posteriors(np.array([0.3]), p))
    corrected = np.exp(logits + prior_shift_bias(q, p))
    corrected /= corrected.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(corrected, _gaussian_posteriors(np.array([0.3]), q))


def test_importance_weights_follow_the_true_density_ratio():
    rng = np.random.default_rng(2)
    source = rng.normal(0, 1, (800, 2))
    target = rng.normal((0.8, 0), 1, (800, 2))
    weights = importance_weights(source, target)
    true_ratio = np.exp(0.8 * source[:, 0] - 0.32)  # N((0.8, 0), I) / N(0, I)
    assert weights.mean() == pytest.approx(1.0)
    assert weights.min() >= 0
    assert stats.spearmanr(weights, true_ratio).statistic > 0.93  # measured 0.967
    same = importance_weights(source, rng.normal(0, 1, (800, 2)))
    assert np.median(np.abs(np.log(same))) < 0.2  # no shift: weights near 1 (measured 0.078)


def test_label_shift_correction_helps_under_prior_shift():
    scenario = Scenario(noise=0.35, prior=0.9, n_test=500)
    run = run_adaptation(scenario, ["source_only", "label_shift"], n_seeds=3, settings=TrainSettings(steps=200),
                         replay=False)
    summary = {row["method"]: row for row in run.summary()}
    assert summary["label_shift"]["target_acc_mean"] > summary["source_only"]["target_acc_mean"] + 0.02
