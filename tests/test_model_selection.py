"""Label-free selection of λ: known answers for the domain classifier, the density ratio, IWV and DEV, the held-out
source sample, and that no criterion reads a target label."""

from dataclasses import replace

import numpy as np
import pytest

from core.data import images
from core.data.domains import generate
from core.labs import model_selection as ms
from core.labs.lambda_models import selection_json, selection_rows, summarise
from core.labs.sweeps import lambda_sweep_with_models
from core.scenario import Scenario
from core.training.train import TrainSettings
from tests.sampling import assert_multinomial_shares

pytestmark = pytest.mark.unit

SMALL = Scenario(n_source=300, n_target=300, n_test=300)
QUICK = TrainSettings(steps=80)


def test_batched_logistic_regression_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20_000, 1))
    truth = {0: np.array([0.5, 2.0]), 1: np.array([-1.0, -0.5])}
    designs, targets = [], []
    for beta in truth.values():
        design = np.column_stack([np.ones(len(x)), x])
        designs.append(design)
        targets.append(rng.uniform(size=len(x)) < 1 / (1 + np.exp(-design @ beta)))
    # one target vector per call: fit each truth as a batch of two identical models
    for m, beta in truth.items():
        fitted = ms.batched_logistic_regression(np.stack([designs[m]] * 2), targets[m], ridge=1e-6)
        np.testing.assert_allclose(fitted[0], beta, atol=0.06)
        np.testing.assert_allclose(fitted[0], fitted[1])


def test_input_density_ratio_recovers_the_ratio_of_two_gaussians():
    rng = np.random.default_rng(1)
    shift = np.array([1.0, 0.0])
    source, target = rng.standard_normal((2000, 2)), rng.standard_normal((1500, 2)) + shift
    ratio = ms.fit_input_density_ratio(source, target, seed=0)
    probe = rng.standard_normal((2000, 2))  # fresh source points
    true = np.exp(probe @ shift - shift @ shift / 2)
    bulk = (true > 0.2) & (true < 5)
    log_error = np.abs(np.log(ratio(probe)[bulk]) - np.log(true[bulk]))
    assert np.median(log_error) < 0.15, np.median(log_error)
    assert np.corrcoef(np.log(ratio(probe)[bulk]), np.log(true[bulk]))[0, 1] > 0.97
    # the ratio's mean under the source is 1 (E_S[p_T / p_S] = 1)
    assert ratio(probe).mean() == pytest.approx(1.0, abs=0.1)


def test_same_distribution_gives_weights_near_one():
    rng = np.random.default_rng(2)
    ratio = ms.fit_input_density_ratio(rng.standard_normal((1000, 2)), rng.standard_normal((1000, 2)), seed=0)
    weights = ratio(rng.standard_normal((1000, 2)))
    assert np.median(np.abs(weights - 1)) < 0.1
    assert ms.effective_sample_share(weights) > 0.95


def test_feature_density_ratios_are_per_model():
    rng = np.random.default_rng(3)
    source = rng.standard_normal((2, 1500, 3))
    target = rng.standard_normal((2, 1500, 3))
    target[1, :, 0] += 1.0  # only model 1's features differ between the domains
    probe = rng.standard_normal((2, 1000, 3))
    weights = ms.feature_density_ratios(source, target, probe)
    assert np.median(np.abs(weights[0] - 1)) < 0.1
    true = np.exp(probe[1, :, 0] - 0.5)
    assert np.corrcoef(np.log(weights[1]), np.log(true))[0, 1] > 0.97


def test_iwv_with_unit_weights_is_plain_source_validation_and_dev_cancels_the_weights_noise():
    rng = np.random.default_rng(4)
    losses = (rng.uniform(size=(3, 500)) < [[0.1], [0.3], [0.5]]).astype(float)
    ones = np.ones(500)
    np.testing.assert_allclose(ms.iwv_risk(losses, ones), losses.mean(axis=1))
    np.testing.assert_allclose(ms.dev_risk(losses, ones), losses.mean(axis=1))
    # a constant loss c: IWV gives c * mean(w), DEV's control variate gives exactly c whatever the weights
    weights = rng.exponential(size=500)
    constant = np.full((1, 500), 0.25)
    assert ms.iwv_risk(constant, weights)[0] == pytest.approx(0.25 * weights.mean())
    assert ms.dev_risk(constant, weights)[0] == pytest.approx(0.25)
    # weights that only change where the loss is 0 leave DEV's estimate of the loss-1 share unbiased
    assert ms.clip_weights(np.array([-1.0, 3.0, 50.0])).tolist() == [0.0, 3.0, ms.WEIGHT_CLIP]


def test_the_held_out_source_is_a_fresh_balanced_draw_of_the_source():
    scenario = SMALL.replace(rotation=40)
    data = generate(scenario)
    x, y = ms.held_out_source(scenario)
    assert x.shape == data.source_x.shape
    assert_multinomial_shares(y, {0: 0.5, 1: 0.5})
    assert not (x[:, None, :] == data.source_x[None]).all(axis=-1).any()  # no training point reused
    again, _ = ms.held_out_source(scenario)
    np.testing.assert_array_equal(x, again)
    # the same distribution as the training source, not the target's
    assert np.abs(x.mean(axis=0) - data.source_x.mean(axis=0)).max() < 0.12
    # a split's size never moves the held-out points
    np.testing.assert_array_equal(ms.held_out_source(scenario.replace(n_target=100, n_test=150))[0], x)


def test_digits_hold_out_the_source_images_the_training_sample_left_out():
    scenario = Scenario(dataset="digits", n_source=300, noise=0.0)
    data = generate(scenario)
    x, y = ms.held_out_source(scenario)
    assert len(x) > 0 and x.shape[1] == data.source_x.shape[1]
    assert not (np.abs(x[:, None, :] - data.source_x[None]).max(axis=-1) < 1e-6).any()
    assert set(np.unique(y)) == set(data.source_classes)
    # every source-half image is either trained on or held out (a balanced sample leaves the larger classes' rest)
    source_half, _ = images.source_target_split(images.load_digit_images()[1], scenario.seed)
    for n_source in (300, 5000):
        everything = Scenario(dataset="digits", n_source=n_source)
        assert len(ms.held_out_source(everything)[0]) + len(generate(everything).source_x) == len(source_half)


@pytest.fixture(scope="module")
def no_shift_sweep():
    return lambda_sweep_with_models(SMALL, "mmd", [0.0, 1.0], n_seeds=2, settings=QUICK)


def test_without_shift_iwv_is_plain_source_validation_up_to_the_weights(no_shift_sweep):
    answer, _ = no_shift_sweep
    for p in answer["points"]:
        assert p["iwv_risk"] == pytest.approx(p["source_val_risk"], abs=0.03)
        assert p["dev_risk"] == pytest.approx(p["source_val_risk"], abs=0.05)
    validation = answer["label_free_selection"]["validation"]
    assert validation["held_out_source_points"] == SMALL.n_source
    assert validation["iwv_effective_sample_share"] > 0.8 and validation["iwv_clipped_share"] == 0.0


def test_no_criterion_reads_a_target_label(no_shift_sweep):
    _, trained = no_shift_sweep
    data = generate(SMALL.replace(rotation=40))
    scrambled = replace(data, target_test_y=np.zeros_like(data.target_test_y),
                        target_pool_y_oracle=1 - data.target_pool_y_oracle,
                        target_labelled_y=np.zeros_like(data.target_labelled_y))
    first, second = ms.criterion_scores(trained, data), ms.criterion_scores(trained, scrambled)
    for name in first.risks:
        np.testing.assert_array_equal(first.risks[name], second.risks[name])


def _point(lam, seed, acc, risks, diverged=False):
    return {"align_weight": lam, "seed": seed, "target_acc": None if diverged else acc, "source_acc": 1.0,
            "feature_mmd2": 0.1, "diverged": diverged,
            **{f"{name}_risk": None if diverged else value for name, value in risks.items()}}


def test_picks_and_their_oracle_cost_on_crafted_points():
    table = {0.0: (0.70, {"source_val": 0.01, "iwv": 0.40, "dev": 0.35}),
             0.1: (0.90, {"source_val": 0.02, "iwv": 0.15, "dev": 0.30}),
             1.0: (0.80, {"source_val": 0.05, "iwv": 0.20, "dev": 0.10})}
    points = [_point(lam, s, acc + 0.01 * s, {k: v + 0.01 * s for k, v in risks.items()})
              for lam, (acc, risks) in table.items() for s in range(2)]
    points.append(_point(1.0, 2, None, {}, diverged=True))
    summary = summarise(points)
    assert summary.oracle_best == 1
    assert summary.picks == {"source_val": 0, "iwv": 1, "dev": 2}
    answer = selection_json(summary)
    assert answer["oracle_best_lambda"] == 0.1 and answer["oracle_best_target_acc"] == pytest.approx(0.905)
    by_name = {row["criterion"]: row for row in answer["label_free_selection"]["criteria"]}
    assert by_name["iwv"]["picked_lambda"] == 0.1 and by_name["iwv"]["oracle_cost"] == pytest.approx(0.0)
    assert by_name["source_val"]["oracle_cost"] == pytest.approx(0.2)
    assert by_name["dev"]["oracle_target_acc_at_pick"] == pytest.approx(0.805)
    assert by_name["dev"]["risk_at_pick"] == pytest.approx(0.105)
    rows = selection_rows(summary)
    assert rows[0]["chosen by"].startswith("ORACLE") and rows[0]["λ"] == 0.1
    assert [r["uses target labels"] for r in rows] == ["yes (oracle)", "no", "no", "no"]


def test_points_without_criteria_have_no_picks():
    points = [{"align_weight": lam, "seed": 0, "target_acc": acc, "source_acc": 1.0, "feature_mmd2": 0.1,
               "diverged": False} for lam, acc in [(0.0, 0.8), (1.0, 0.9)]]
    summary = summarise(points)
    assert summary.criteria == {} and summary.picks == {}
    assert selection_json(summary)["label_free_selection"]["criteria"] == []
