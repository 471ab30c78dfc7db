"""Known-answer tests of core.metrics.divergence (MMD, permutation test, proxy A-distance, CORAL)
and of the batched networks in core.nn.models that the proxy A-distance trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from core.errors import InputError
from core.metrics import divergence as dv
from core.nn.models import BatchedMLP, seeded_generator, train_binary_classifiers
from core.nn.standardise import standardise_with_train
from tests.numeric import float32_training_atol

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")


# --------------------------------------------------------------------------- helpers


def two_moons(n: int, seed: int, angle_deg: float = 0.0, noise: float = 0.1) -> np.ndarray:
    """An i.i.d. two-moons sample (random angles, unlike sklearn's evenly spaced grid),
    rotated by ``angle_deg`` about the centre of the two moons (0.5, 0.25)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    t = rng.uniform(0.0, np.pi, n)
    upper = np.c_[np.cos(t), np.sin(t)]
    lower = np.c_[1.0 - np.cos(t), 0.5 - np.sin(t)]
    x = np.where(label[:, None] == 0, upper, lower) + rng.normal(0.0, noise, (n, 2))
    centre = np.array([0.5, 0.25])
    a = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (x - centre) @ rotation.T + centre


def dense_mmd2(x, y, sigma, estimator="biased", multipliers=(1.0,)):
    """Direct MMD^2 from the full kernel matrices (small inputs only)."""

    def gram(a, b):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.mean([np.exp(-d2 / (2 * (c * sigma) ** 2)) for c in multipliers], axis=0)

    kxx, kyy, kxy = gram(x, x), gram(y, y), gram(x, y)
    m, n = len(x), len(y)
    if estimator == "biased":
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    return (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def gaussian(n, seed, d=2, shift=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(shift, scale, size=(n, d))


# --------------------------------------------------------------------------- bandwidth


def test_median_bandwidth_known_answer_and_fallback():
    # Pooled points 0, 1, 2, 4 on a line: distances 1, 2, 4, 1, 3, 2 -> median 2.
    x = np.array([[0.0], [1.0]])
    y = np.array([[2.0], [4.0]])
    assert dv.median_bandwidth(x, y) == pytest.approx(2.0)
    # Odd number of pairs: 0, 1, 3 -> distances 1, 3, 2 -> median 2.
    assert dv.median_bandwidth(np.array([[0.0]]), np.array([[1.0], [3.0]])) == pytest.approx(2.0)
    same = np.ones((5, 2))
    assert dv.median_bandwidth(same, same) == 1.0


def test_median_bandwidth_subsample_is_deterministic():
    x, y = gaussian(1500, 1), gaussian(1500, 2, shift=1.0)
    a = dv.median_bandwidth(x, y, max_points=500, seed=3)
    assert a == dv.median_bandwidth(x, y, max_points=500, seed=3)
    assert a == pytest.approx(dv.median_bandwidth(x, y), rel=0.1)


# --------------------------------------------------------------------------- MMD estimators


def test_mmd_of_sample_with_itself_is_zero():
    x = gaussian(200, 0)
    assert dv.mmd2(x, x) == pytest.approx(0.0, abs=1e-12)
    assert dv.mmd2(x, x, bandwidth_multipliers=(0.5, 1, 2)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_mmd_is_symmetric(estimator):
    x, y = gaussian(80, 0), gaussian(130, 1, shift=0.5)
    assert dv.mmd2(x, y, estimator=estimator) == pytest.approx(
        dv.mmd2(y, x, estimator=estimator), rel=1e-10, abs=1e-14
    )


def test_biased_never_negative_and_unbiased_can_be():
    biased, unbiased = [], []
    for seed in range(20):
        x, y = gaussian(30, 2 * seed), gaussian(40, 2 * seed + 1)
        biased.append(dv.mmd2(x, y, sigma=1.0))
        unbiased.append(dv.mmd2(x, y, sigma=1.0, estimator="unbiased"))
    assert min(biased) >= 0.0
    assert min(unbiased) < 0.0
    assert all(u < b for u, b in zip(unbiased, biased))


def test_unbiased_is_centred_under_no_shift():
    unbiased, biased = [], []
    for seed in range(60):
        x, y = gaussian(40, 2 * seed), gaussian(40, 2 * seed + 1)
        unbiased.append(dv.mmd2(x, y, sigma=1.0, estimator="unbiased"))
        biased.append(dv.mmd2(x, y, sigma=1.0))
    unbiased = np.array(unbiased)
    standard_error = unbiased.std(ddof=1) / np.sqrt(len(unbiased))
    assert abs(unbiased.mean()) < 3.5 * standard_error
    # The V-statistic is biased upwards by a clearly visible amount.
    assert np.mean(biased) > unbiased.mean() + 5 * standard_error


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
@pytest.mark.parametrize("multipliers", [None, (0.5, 1.0, 3.0)])
def test_blocked_equals_dense(estimator, multipliers):
    x, y = gaussian(23, 0, d=3), gaussian(31, 1, d=3, shift=0.3)
    sigma = 1.3
    expected = dense_mmd2(x, y, sigma, estimator, multipliers or (1.0,))
    for block_size in (1, 7, 23, 4096):
        got = dv.mmd2(
            x, y, sigma=sigma, estimator=estimator,
            bandwidth_multipliers=multipliers, block_size=block_size,
        )
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-13)


def test_default_sigma_is_the_median_heuristic():
    x, y = gaussian(50, 0), gaussian(60, 1, shift=1.0)
    sigma = dv.median_bandwidth(x, y)
    assert dv.mmd2(x, y) == dv.mmd2(x, y, sigma=sigma)


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_multi_bandwidth_is_mean_of_single_bandwidths(estimator):
    x, y = gaussian(60, 0), gaussian(70, 1, shift=0.4)
    sigma, multipliers = 0.8, (0.25, 0.5, 1.0, 2.0, 4.0)
    singles = [dv.mmd2(x, y, sigma=sigma * c, estimator=estimator) for c in multipliers]
    multi = dv.mmd2(x, y, sigma=sigma, estimator=estimator, bandwidth_multipliers=multipliers)
    assert multi == pytest.approx(np.mean(singles), rel=1e-10)


def test_mmd_grows_with_rotation_of_moons():
    source = two_moons(400, seed=0)
    values = [dv.mmd2(source, two_moons(400, seed=1, angle_deg=a)) for a in (0, 30, 60, 90)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert values[0] < 0.01 < values[-1]


def test_linear_time_estimator_agrees_with_quadratic_on_large_samples():
    x, y = gaussian(6000, 0), gaussian(6000, 1, shift=0.7)
    sigma = dv.median_bandwidth(x, y)
    quadratic = dv.mmd2(x[:2000], y[:2000], sigma=sigma, estimator="unbiased")
    linear = np.mean([dv.mmd2_linear(x, y, sigma=sigma, seed=s) for s in range(5)])
    assert linear == pytest.approx(quadratic, rel=0.15)
    # Unequal sizes use min(m, n) points; the shuffle depends on the seed only.
    assert dv.mmd2_linear(x, y[:999], seed=4) == dv.mmd2_linear(x, y[:999], seed=4)


# --------------------------------------------------------------------------- permutation test


def test_permutation_statistics_match_brute_force():
    x, y = gaussian(25, 0), gaussian(35, 1, shift=0.5)
    sigma = 0.9
    z = np.concatenate([x, y])
    kernel = dv._pooled_kernel_matrix(z - z.mean(0), dv._gammas(sigma, None))
    permutations = np.stack([np.random.default_rng(s).permutation(60) for s in range(6)])
    fast = dv._permuted_biased_mmd2(kernel, 25, permutations, chunk_size=4)
    brute = [dv.mmd2(z[p[:25]], z[p[25:]], sigma=sigma) for p in permutations]
    np.testing.assert_allclose(fast, brute, rtol=1e-4, atol=1e-7)

    result = dv.mmd_permutation_test(x, y, sigma=sigma, n_permutations=50, seed=1)
    assert result.statistic == pytest.approx(dv.mmd2(x, y, sigma=sigma), rel=1e-4)
    assert result.null_statistics.shape == (50,)
    assert result.p_value == (1 + np.sum(result.null_statistics >= result.statistic)) / 51


def test_permutation_p_values_are_uniform_under_no_shift():
    p_values = np.array([
        dv.mmd_permutation_test(
            gaussian(30, 2 * r), gaussian(30, 2 * r + 1), n_permutations=99, seed=r
        ).p_value
        for r in range(200)
    ])
    assert 0.01 <= np.mean(p_values <= 0.05) <= 0.10
    assert 0.40 <= np.mean(p_values <= 0.5) <= 0.60
    assert stats.kstest(p_values, "uniform").pvalue > 0.01


def test_permutation_p_value_is_tiny_under_clear_shift():
    result = dv.mmd_permutation_test(two_moons(300, 0), two_moons(300, 1, 90), n_permutations=200)
    assert result.p_value == pytest.approx(1 / 201)
    assert result.statistic > result.null_statistics.max()


def test_permutation_subsample_is_deterministic_and_bounded():
    x, y = gaussian(700, 0), gaussian(300, 1, shift=0.2)
    a = dv.mmd_permutation_test(x, y, n_permutations=30, seed=5, max_points_per_domain=250)
    b = dv.mmd_permutation_test(x, y, n_permutations=30, seed=5, max_points_per_domain=250)
    assert (a.n_source_used, a.n_target_used) == (250, 250)
    assert a.p_value == b.p_value
    np.testing.assert_array_equal(a.null_statistics, b.null_statistics)


# --------------------------------------------------------------------------- proxy A-distance


@pytest.mark.parametrize("classifier", ["mlp", "linear"])
@pytest.mark.parametrize("sizes", [(600, 600), (300, 900)])
def test_proxy_a_distance_near_zero_for_identical_laws(classifier, sizes):
    x, y = two_moons(sizes[0], 10), two_moons(sizes[1], 11)
    # Held-out balanced errors scatter around 0.5 (sd ~0.02 here) and d_A is clipped at 0,
    # so the mean over seeds sits a little above 0; 5 seeds keep it well below 0.2.
    result = dv.proxy_a_distance(x, y, classifier=classifier, n_seeds=5, seed=0, device=CPU)
    assert result.mean < 0.2, result
    assert np.mean(result.balanced_errors) == pytest.approx(0.5, abs=0.05)
    assert len(result.per_seed) == 5
    assert all(0.0 <= v <= 2.0 for v in result.per_seed)


@pytest.mark.parametrize("classifier", ["mlp", "linear"])
def test_proxy_a_distance_near_two_for_disjoint_domains(classifier):
    x, y = gaussian(400, 0), gaussian(500, 1, shift=10.0)
    result = dv.proxy_a_distance(x, y, classifier=classifier, device=CPU)
    assert result.mean > 1.8
    assert result.balanced_errors == pytest.approx((0.0, 0.0, 0.0), abs=0.05)


def test_proxy_a_distance_is_large_for_rotated_moons_and_names_its_classifier():
    result = dv.proxy_a_distance(two_moons(1000, 0), two_moons(1000, 1, 90), device=CPU)
    assert result.mean > 1.2
    assert result.std >= 0.0
    assert result.classifier == "MLP 2→32→32→1 (ReLU), Adam, full batch"
    linear = dv.proxy_a_distance(two_moons(100, 0), two_moons(100, 1), "linear", device=CPU)
    assert linear.classifier.startswith("linear (logistic regression)")


def test_proxy_a_distance_many_matches_single_pairs():
    pairs = [(two_moons(200, 0), two_moons(250, s, 30 * s)) for s in range(1, 4)]
    batched = dv.proxy_a_distance_many(pairs, n_seeds=2, seed=7, device=CPU)
    singles = [dv.proxy_a_distance(x, y, n_seeds=2, seed=7, device=CPU) for x, y in pairs]
    # Same splits and initialisations; only float rounding (bmm over 6 vs 2 models) differs,
    # which after 100 Adam steps can flip a held-out point that sits on the boundary.
    for b, s in zip(batched, singles):
        assert b.per_seed == pytest.approx(s.per_seed, abs=0.05)
    # Pairs of different sizes are batched by size; the order of the results is kept.
    short = (pairs[1][0], pairs[1][1][:100])
    mixed = dv.proxy_a_distance_many([pairs[0], short, pairs[2]], n_seeds=2, seed=7, device=CPU)
    assert len(mixed) == 3
    alone = dv.proxy_a_distance(*short, n_seeds=2, seed=7, device=CPU)
    assert mixed[1].per_seed == pytest.approx(alone.per_seed, abs=0.05)
    assert mixed[2].per_seed == pytest.approx(singles[2].per_seed, abs=0.05)
    assert dv.proxy_a_distance_many([], device=CPU) == []


# --------------------------------------------------------------------------- CORAL, per class


def test_coral_distance_known_values():
    x = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # C = (4/3) I
    assert dv.coral_distance(x, x) == 0.0
    assert dv.coral_distance(x, x + 5.0) == pytest.approx(0.0, abs=1e-12)  # translation
    # 2x: C = (16/3) I, difference 4 I, ||.||_F^2 = 32, / (4 * 2^2) = 2.
    assert dv.coral_distance(x, 2.0 * x) == pytest.approx(2.0)
    assert dv.coral_distance(2.0 * x, x) == pytest.approx(2.0)


def test_per_class_mmd2_keys_and_values():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(50, 2))
    x_labels = np.repeat([0, 1, 2], 20)
    y_labels = np.r_[np.zeros(24, int), np.ones(25, int), [3]]  # class 2 absent, class 3 single
    y[y_labels == 1] += 3.0  # only class 1 moved
    result = dv.per_class_mmd2(x, x_labels, y, y_labels)
    assert set(result) == {0, 1}
    assert all(isinstance(k, int) for k in result)
    assert result[1] > 10 * result[0]
    sigma = dv.median_bandwidth(x, y)
    assert result[0] == pytest.approx(dv.mmd2(x[:20], y[:24], sigma=sigma))


# --------------------------------------------------------------------------- input errors


@pytest.mark.parametrize(
    "call",
    [
        lambda: dv.mmd2(np.empty((0, 2)), np.ones((3, 2))),
        lambda: dv.mmd2(np.ones((3, 2)), np.ones((3, 3))),
        lambda: dv.mmd2(np.array([[0.0, np.nan]]), np.ones((3, 2))),
        lambda: dv.mmd2(np.ones(3), np.ones(3)),
        lambda: dv.mmd2(np.ones((3, 2)), np.ones((3, 2)), estimator="quadratic"),
        lambda: dv.mmd2(np.ones((3, 2)), np.ones((3, 2)), sigma=0.0),
        lambda: dv.mmd2(np.ones((1, 2)), np.ones((3, 2)), estimator="unbiased"),
        lambda: dv.mmd2(np.ones((3, 2)), np.ones((3, 2)), bandwidth_multipliers=()),
        lambda: dv.mmd2_linear(np.ones((1, 2)), np.ones((3, 2))),
        lambda: dv.mmd_permutation_test(np.ones((3, 2)), np.ones((3, 2)), n_permutations=0),
        lambda: dv.proxy_a_distance(np.ones((3, 2)), np.ones((3, 2)), classifier="svm"),
        lambda: dv.proxy_a_distance(np.ones((1, 2)), np.ones((3, 2))),
        lambda: dv.coral_distance(np.ones((1, 2)), np.ones((3, 2))),
        lambda: dv.per_class_mmd2(np.ones((3, 2)), [0, 1], np.ones((3, 2)), [0, 1, 1]),
        lambda: dv.median_bandwidth([["a", "b"]], np.ones((3, 2))),
    ],
)
def test_bad_input_raises_one_line_input_error(call):
    with pytest.raises(InputError) as info:
        call()
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- batched networks


def test_batched_mlp_shapes_and_linear_features():
    net = BatchedMLP(4, 3, (8, 5), 2, generator=seeded_generator(0), device=CPU)
    x = torch.randn(10, 3)
    assert net(x).shape == (4, 10, 2)
    assert net.features(x).shape == (4, 10, 5)
    assert net(torch.randn(4, 10, 3)).shape == (4, 10, 2)
    assert net.n_layers == 3 and net.layer(0)[0].shape == (4, 3, 8)
    linear = BatchedMLP(2, 3, (), 1, generator=seeded_generator(0), device=CPU)
    torch.testing.assert_close(linear.features(x), x.expand(2, -1, -1))
    assert linear.describe() == "3→1 (linear)"


def test_batched_mlp_seeds():
    x = torch.randn(20, 2)
    a = BatchedMLP(3, 2, (16,), 1, generator=seeded_generator(1), device=CPU)
    b = BatchedMLP(3, 2, (16,), 1, generator=seeded_generator(1), device=CPU)
    c = BatchedMLP(3, 2, (16,), 1, generator=seeded_generator(2), device=CPU)
    with torch.no_grad():
        out_a, out_b, out_c = a(x), b(x), c(x)
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    assert not torch.allclose(out_a, out_c)
    assert not torch.allclose(out_a[0], out_a[1])  # the M models differ from one another
    # One generator per model: model m equals a single model built from generators[m].
    many = BatchedMLP(2, 2, (16,), 1, generator=[seeded_generator(5), seeded_generator(6)], device=CPU)
    alone = BatchedMLP(1, 2, (16,), 1, generator=seeded_generator(6), device=CPU)
    with torch.no_grad():
        torch.testing.assert_close(many(x)[1], alone(x)[0], rtol=0, atol=0)


def test_batched_training_equals_training_each_model_alone():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 120, 2)).astype(np.float32)
    y = (x[..., 0] + 0.3 * rng.normal(size=(3, 120)) > 0).astype(np.float32)
    w = rng.uniform(0.5, 1.5, size=(3, 120))
    seeds = (3, 5, 7)
    kwargs = dict(hidden=(16, 16), steps=60, lr=0.02, weight_decay=1e-3, device=CPU)
    batched = train_binary_classifiers(x, y, w, seeds=seeds, **kwargs)
    grid = torch.randn(50, 2)
    with torch.no_grad():
        batched_out = batched(grid)
        for m, seed in enumerate(seeds):
            alone = train_binary_classifiers(x[m], y[m], w[m], seeds=(seed,), **kwargs)
            tolerance = float32_training_atol(kwargs["steps"])  # a batch sums in another order than one model
            torch.testing.assert_close(batched_out[m], alone(grid)[0], rtol=tolerance, atol=tolerance)


def test_training_learns_a_separable_problem_with_one_logit():
    x = torch.randn(200, 2)
    y = (x[:, 0] > 0).float()
    model = train_binary_classifiers(x, y, seeds=(0, 1), hidden=(), steps=150, lr=0.1, device=CPU)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 200, 1)
    assert ((logits[..., 0] > 0).float() == y).float().mean() > 0.97


def test_standardise_with_train_uses_training_statistics():
    train = torch.tensor([[[0.0], [2.0]], [[10.0], [30.0]]])
    other = torch.tensor([[[4.0]], [[20.0]]])
    train_std, other_std = standardise_with_train(train, other)
    torch.testing.assert_close(train_std, torch.tensor([[[-1.0], [1.0]], [[-1.0], [1.0]]]))
    torch.testing.assert_close(other_std, torch.tensor([[[3.0]], [[0.0]]]))


def test_mmd2_estimates_equal_the_two_single_estimators():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(120, 2)), rng.normal(0.3, 1.2, size=(90, 2))
    biased, unbiased = dv.mmd2_estimates(x, y, sigma=0.9, block_size=32)
    assert biased == pytest.approx(dv.mmd2(x, y, sigma=0.9, estimator="biased"), rel=1e-12)
    assert unbiased == pytest.approx(dv.mmd2(x, y, sigma=0.9, estimator="unbiased"), rel=1e-12)


def test_a_sweep_does_not_depend_on_the_swept_knobs_own_value_so_its_key_drops_it():
    from core.metrics.shift_report import divergence_sweep, sweep_base
    from core.scenario import Scenario

    scenario = Scenario(rotation=35, shift_x=0.5, n_source=100, n_target=100)
    assert sweep_base(scenario, "rotation") == Scenario(shift_x=0.5, n_source=100, n_target=100)
    assert divergence_sweep(scenario, "rotation", n_points=3, pad_seeds=1) == \
        divergence_sweep(sweep_base(scenario, "rotation"), "rotation", n_points=3, pad_seeds=1)


def test_the_sweep_can_vary_the_covariate_shift_selection_on_points_only():
    from core.metrics.shift_report import divergence_sweep, sweep_knobs
    from core.scenario import Scenario

    assert "selection" in sweep_knobs(Scenario()) and "selection" not in sweep_knobs(Scenario(dataset="digits"))
    points = divergence_sweep(Scenario(selection_x=1.0, n_source=200, n_target=200), "selection", n_points=3,
                              pad_seeds=1)
    assert [p["value"] for p in points] == [0.0, 1.5, 3.0]
    assert points[0]["mmd2"] < points[-1]["mmd2"]  # a stronger selection moves P(X) further


@pytest.mark.parametrize("query, warned", [("rotation=180", True), ("dataset=xor&rotation=90", True),
                                           ("rotation=35", False), ("", False)])
def test_a_label_swapping_shift_that_the_inputs_hide_is_named(query, warned):
    """Moons rotated 180° (and XOR by 90°) map the classes onto each other: P(X) looks unchanged while the
    source's rule labels almost every target point wrongly; the report says so, as an oracle quantity."""
    from core.metrics.shift_report import shift_report
    from core.scenario import Scenario

    report = shift_report(Scenario.from_query(query), n_permutations=100, pad_seeds=1)
    assert (report.label_swap() is not None) == warned
    if warned:
        assert report.source_rule_accuracy < 0.1 and "oracle" in report.label_swap()
        assert report.to_json()["label_swap"] == report.label_swap()
    else:
        assert report.source_rule_accuracy > 0.85
