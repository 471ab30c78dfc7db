"""The negative-transfer rule (a paired drop beyond the margin that a one-sided paired t-test supports), and
the seed a picture shows (the median one)."""

import numpy as np
import pytest
from scipy import stats

from core.metrics.paired import INCONCLUSIVE, NEGATIVE, NO_DROP, paired_drop

pytestmark = pytest.mark.unit
MARGIN = 0.01


def test_a_consistent_drop_is_negative_transfer_with_the_t_tests_p_value():
    baseline = np.array([0.90, 0.85, 0.88, 0.92, 0.87])
    method = baseline - np.array([0.05, 0.06, 0.04, 0.05, 0.07])
    verdict = paired_drop(method, baseline, MARGIN)
    assert verdict.verdict == NEGATIVE and verdict.pairs == 5
    assert verdict.mean_delta == pytest.approx(-0.054)
    expected = stats.ttest_rel(method, baseline, alternative="less").pvalue
    assert verdict.p_value == pytest.approx(expected) and verdict.p_value < 0.01
    assert verdict.text().startswith("⚠️ negative transfer (p ")


def test_a_large_mean_drop_from_one_bad_seed_is_inconclusive():
    # the CORAL seeds: 0.84 / 0.64 / 0.67 against a baseline that varies as much
    baseline = np.array([0.80, 0.70, 0.62])
    method = np.array([0.84, 0.64, 0.47])
    verdict = paired_drop(method, baseline, MARGIN)
    assert verdict.mean_delta < -MARGIN
    assert verdict.verdict == INCONCLUSIVE and verdict.p_value > 0.05
    assert verdict.text() == f"inconclusive drop (p = {verdict.p_value:.3f}, 3 seeds)"


def test_a_gain_or_a_drop_within_the_margin_is_no_drop():
    baseline = np.array([0.80, 0.82, 0.81])
    assert paired_drop(baseline + 0.1, baseline, MARGIN).verdict == NO_DROP
    assert paired_drop(baseline - 0.005, baseline, MARGIN).verdict == NO_DROP  # within one point
    assert paired_drop(baseline + 0.1, baseline, MARGIN).text() == ""


def test_one_seed_cannot_be_significant_and_diverged_seeds_drop_their_pair():
    single = paired_drop(np.array([0.5]), np.array([0.9]), MARGIN)
    assert single.verdict == INCONCLUSIVE and single.p_value is None
    verdict = paired_drop(np.array([0.5, np.nan, 0.52]), np.array([0.9, 0.9, np.nan]), MARGIN)
    assert verdict.pairs == 1 and verdict.verdict == INCONCLUSIVE


def test_identical_drops_have_no_spread_and_are_significant():
    verdict = paired_drop(np.array([0.7, 0.7, 0.7]), np.array([0.8, 0.8, 0.8]), MARGIN)
    assert verdict.verdict == NEGATIVE and verdict.p_value == 0.0
    assert verdict.text() == "⚠️ negative transfer (p < 0.001, 3 seeds)"


def _run(accuracies, diverged=()):
    """A stand-in for an AdaptationRun of one method: seed s has target accuracy accuracies[s]."""
    from types import SimpleNamespace

    rows = [{"method": "dann", "seed": s, "target_acc": a} for s, a in enumerate(accuracies)]
    specs = [SimpleNamespace(method="dann") for _ in accuracies]
    flags = np.array([s in diverged for s in range(len(accuracies))])
    return SimpleNamespace(rows=rows, trained=SimpleNamespace(specs=specs, diverged=flags))


def test_the_pictures_show_the_median_seed_or_the_one_asked_for():
    from core.labs.adaptation import AdaptationRun

    shown_model = AdaptationRun.shown_model

    assert shown_model(_run([0.84, 0.64, 0.67]), "dann") == 2  # 0.67 is the median of three
    assert shown_model(_run([0.9, 0.7, 0.8, 0.6]), "dann") == 1  # even count: the lower middle one (0.7)
    assert shown_model(_run([0.8, 0.8, 0.8]), "dann") == 1  # ties: seed order
    assert shown_model(_run([0.84, 0.64, 0.67], diverged={2}), "dann") == 1  # among the seeds that trained
    assert shown_model(_run([0.84, 0.64, 0.67]), "dann", seed=0) == 0
    assert shown_model(_run([0.84, 0.64, 0.67], diverged={0}), "dann", seed=0) is None
