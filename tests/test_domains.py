"""Shifted domains: each shift changes exactly what it claims, and the splits stay apart."""

import dataclasses

import numpy as np
import pytest

from core.data import domains
from core.data.domains import allocate, allocate_at_least_one, generate, labelled_counts, target_class_proportions
from core.scenario import POINT_DATASETS, Scenario
from tests.sampling import assert_multinomial_shares

pytestmark = pytest.mark.unit


def _rotate_back(x, degrees, centre):
    angle = np.deg2rad(-degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (x - centre) @ rotation.T + centre


@pytest.mark.parametrize("dataset", POINT_DATASETS)
def test_every_dataset_generates_the_asked_sizes(dataset):
    s = Scenario(dataset=dataset, n_source=101, n_target=57, n_test=300, labels_per_class=3)
    d = generate(s)
    k = domains.SOURCE_CLASS_COUNT[dataset]
    assert d.source_x.shape == (101, 2) and d.target_pool_x.shape == (57, 2)
    assert d.target_test_x.shape == (300, 2) and d.target_labelled_x.shape == (3 * k, 2)
    assert np.all(np.isfinite(d.source_x)) and np.all(np.isfinite(d.target_x))
    assert set(np.unique(d.source_y)) == set(range(k))


@pytest.mark.parametrize("dataset", POINT_DATASETS)
def test_neutral_target_comes_from_the_source_distribution(dataset):
    d = generate(Scenario(dataset=dataset, n_source=4000, n_target=4000, n_test=100))
    balanced = {k: 1 / len(d.source_classes) for k in d.source_classes}
    assert_multinomial_shares(d.source_y, balanced)
    assert_multinomial_shares(d.target_pool_y_oracle, balanced)
    for k in d.source_classes:
        source_k, target_k = d.source_x[d.source_y == k], d.target_pool_x[d.target_pool_y_oracle == k]
        np.testing.assert_allclose(source_k.mean(axis=0), target_k.mean(axis=0), atol=0.06)
        np.testing.assert_allclose(source_k.std(axis=0), target_k.std(axis=0), atol=0.06)


def test_same_seed_same_data_and_other_seed_other_data():
    a, b, c = generate(Scenario(seed=3)), generate(Scenario(seed=3)), generate(Scenario(seed=4))
    np.testing.assert_array_equal(a.target_test_x, b.target_test_x)
    assert not np.allclose(a.source_x, c.source_x)


def test_changing_one_split_size_leaves_the_other_splits_alone():
    a, b = generate(Scenario(n_target=100)), generate(Scenario(n_target=900))
    np.testing.assert_array_equal(a.source_x, b.source_x)
    np.testing.assert_array_equal(a.target_test_x, b.target_test_x)
    np.testing.assert_array_equal(a.target_labelled_x, b.target_labelled_x)


@pytest.mark.parametrize("degrees", [35.0, 90.0, -120.0])
def test_rotation_only_rotates_the_target_about_the_source_centre(degrees):
    neutral, rotated = generate(Scenario()), generate(Scenario(rotation=degrees))
    centre = np.array(domains.CENTRES["moons"])
    np.testing.assert_array_equal(neutral.source_x, rotated.source_x)
    np.testing.assert_allclose(_rotate_back(rotated.target_pool_x, degrees, centre), neutral.target_pool_x,
                               atol=1e-12)
    np.testing.assert_array_equal(neutral.target_test_y, rotated.target_test_y)


def test_translation_and_scale_do_what_they_say():
    neutral = generate(Scenario())
    moved = generate(Scenario(shift_x=1.5, shift_y=-0.5))
    np.testing.assert_allclose(moved.target_pool_x - neutral.target_pool_x, np.tile([1.5, -0.5], (500, 1)))
    scaled = generate(Scenario(scale=2.0))
    centre = np.array(domains.CENTRES["moons"])
    np.testing.assert_allclose(scaled.target_pool_x - centre, 2.0 * (neutral.target_pool_x - centre))


def test_target_noise_adds_noise_to_the_target_only():
    neutral, noisy = generate(Scenario(n_target=5000)), generate(Scenario(n_target=5000, target_noise=0.4))
    np.testing.assert_array_equal(neutral.source_x, noisy.source_x)
    residual = noisy.target_pool_x - neutral.target_pool_x
    assert residual.std() == pytest.approx(0.4, rel=0.05)
    np.testing.assert_array_equal(neutral.target_pool_y_oracle, noisy.target_pool_y_oracle)


@pytest.mark.parametrize("prior", [0.0, 0.4, 1.0])
@pytest.mark.parametrize("dataset", ["moons", "blobs"])
def test_prior_gives_the_asked_class_proportions(prior, dataset):
    s = Scenario(dataset=dataset, prior=prior, n_target=1000, n_test=2000)
    d = generate(s)
    expected = target_class_proportions(s)
    ratio = 1 - 0.95 * prior
    weights = ratio ** np.arange(len(expected))
    np.testing.assert_allclose(list(expected.values()), weights / weights.sum())
    for y in (d.target_pool_y_oracle, d.target_test_y):
        assert_multinomial_shares(y, expected)
    assert_multinomial_shares(d.source_y, {k: 1 / len(expected) for k in expected})  # the source stays balanced


def test_class_counts_are_drawn_not_fixed():
    """Two seeds give different class counts (a multinomial draw), so two samples of one mixture are
    exchangeable: what the MMD permutation test needs to hold its level."""
    counts = {tuple(np.bincount(generate(Scenario(seed=seed)).source_y)) for seed in range(5)}
    assert len(counts) > 1


def test_prior_one_on_two_classes_is_strongly_imbalanced():
    shares = target_class_proportions(Scenario(prior=1.0))
    assert shares[0] == pytest.approx(1 / 1.05) and shares[1] == pytest.approx(0.05 / 1.05)


def test_allocate_sums_exactly():
    for total in (0, 1, 7, 1000):
        assert sum(allocate(total, {0: 1 / 3, 1: 1 / 3, 2: 1 / 3}).values()) == total


@pytest.mark.parametrize("concept", [0.3, 1.0])
def test_concept_shift_relabels_without_moving_inputs(concept):
    neutral, shifted = generate(Scenario(n_target=4000)), generate(Scenario(n_target=4000, concept=concept))
    np.testing.assert_array_equal(neutral.target_pool_x, shifted.target_pool_x)
    np.testing.assert_array_equal(neutral.source_y, shifted.source_y)
    changed = neutral.target_pool_y_oracle != shifted.target_pool_y_oracle
    assert np.array_equal(changed, neutral.target_pool_x[:, 0] > shifted.concept_threshold)
    assert changed.mean() == pytest.approx(concept / 2, abs=0.03)
    assert np.mean(neutral.source_x[:, 0] > shifted.concept_threshold) == pytest.approx(concept / 2, abs=0.01)


def test_new_class_appears_only_in_the_target():
    d = generate(Scenario(dataset="blobs", label_space="new_class"))
    assert d.target_classes == (0, 1, 2, 3) and d.source_classes == (0, 1, 2)
    assert 3 not in d.source_y and 3 in d.target_test_y and 3 in d.target_labelled_y


def test_missing_class_is_absent_from_the_target():
    d = generate(Scenario(dataset="blobs", label_space="missing_class"))
    assert d.target_classes == (0, 1)
    assert 2 in d.source_y and 2 not in d.target_y_oracle


def test_feature_maps_change_the_feature_space():
    neutral = generate(Scenario())
    lifted = generate(Scenario(feature_map="lift3d"))
    assert lifted.source_x.shape[1] == 3 and lifted.target_x.shape[1] == 3
    np.testing.assert_array_equal(lifted.source_x[:, 2], 0.0)
    np.testing.assert_array_equal(lifted.source_x[:, :2], neutral.source_x)
    polar = generate(Scenario(feature_map="polar"))
    z = neutral.target_pool_x - np.array(domains.CENTRES["moons"])
    np.testing.assert_allclose(polar.target_pool_x[:, 0], np.hypot(z[:, 0], z[:, 1]))
    assert np.all(np.abs(polar.target_pool_x[:, 1]) <= np.pi)
    warped = generate(Scenario(feature_map="warp"))
    bend = np.abs(warped.target_pool_x - neutral.target_pool_x)
    assert 0 < bend.max() <= domains.WARP_AMPLITUDE + 1e-12


def test_to_target_space_matches_the_generated_target_without_noise():
    s = Scenario(noise=0.0, rotation=20, shift_x=0.5, feature_map="warp")
    clean = generate(Scenario(noise=0.0)).target_pool_x
    np.testing.assert_allclose(domains.to_target_space(s, clean), generate(s).target_pool_x, atol=1e-12)


def test_labels_per_class_gives_exact_counts():
    d = generate(Scenario(dataset="blobs", labels_per_class=7))
    assert np.bincount(d.target_labelled_y).tolist() == [7, 7, 7]
    assert generate(Scenario(labels_per_class=0)).target_labelled_x.shape == (0, 2)


@pytest.mark.parametrize("dataset, prior, per_class, expected", [
    ("moons", 1.0, 5, [9, 1]),  # 95.2% / 4.8% of 10, at least 1 each
    ("blobs", 0.5, 5, [8, 5, 2]),
    ("blobs", 1.0, 1, [1, 1, 1]),
    ("moons", 0.4, 20, [25, 15]),
])
def test_labelled_split_follows_the_target_priors_under_prior_shift(dataset, prior, per_class, expected):
    s = Scenario(dataset=dataset, prior=prior, labels_per_class=per_class)
    d = generate(s)
    counts = np.bincount(d.target_labelled_y, minlength=len(expected)).tolist()
    assert counts == expected == list(labelled_counts(s).values())
    assert sum(counts) == per_class * len(d.target_classes) and min(counts) >= 1
    assert generate(s.replace(labels_per_class=0)).target_labelled_x.shape == (0, 2)


def test_allocate_at_least_one_gives_every_class_one_and_keeps_the_total():
    assert allocate_at_least_one(3, {0: 0.98, 1: 0.01, 2: 0.01}) == {0: 1, 1: 1, 2: 1}
    assert allocate_at_least_one(15, {0: 0.9501, 1: 0.0475, 2: 0.0024}) == {0: 13, 1: 1, 2: 1}
    assert allocate_at_least_one(1, {0: 0.5, 1: 0.5}) == allocate(1, {0: 0.5, 1: 0.5})  # fewer than the classes


@pytest.mark.parametrize("query", ["concept=0.6", "concept=1", "dataset=blobs&concept=1&rotation=30",
                                   "dataset=blobs&concept=0.5&label_space=new_class", "concept=1&labels_per_class=40"])
def test_labelled_split_stays_per_class_under_concept_shift(query):
    s = Scenario.from_query(query)
    d = generate(s)
    counts = np.bincount(d.target_labelled_y, minlength=len(d.target_classes))
    shares = np.bincount(d.target_test_y, minlength=len(d.target_classes)) / len(d.target_test_y)
    # on blobs, concept=1 relabels all but a far tail of class 2 away: a class that rare gets what the drawing finds
    assert all(n == s.labels_per_class for n, share in zip(counts, shares) if share > 0.01)
    assert counts.max() == s.labels_per_class
    # the other splits are those of before: only the labelled one is drawn to per-class quotas
    before = generate(s.replace(labels_per_class=0))
    np.testing.assert_array_equal(d.target_pool_x, before.target_pool_x)
    np.testing.assert_array_equal(d.target_test_y, before.target_test_y)


def test_labelled_split_under_prior_and_concept_shift_follows_the_priors_after_the_relabelling():
    s = Scenario(prior=0.7, concept=1.0)
    assert np.bincount(generate(s).target_labelled_y).tolist() == list(labelled_counts(s).values()) == [7, 3]


def test_digits_labelled_split_follows_the_priors_and_stays_per_class_under_concept_shift():
    skewed = generate(Scenario(dataset="digits", prior=0.4))
    counts = np.bincount(skewed.target_labelled_y, minlength=10)
    assert counts.tolist() == list(labelled_counts(skewed.scenario).values()) and counts.sum() == 50
    assert np.all(np.diff(counts) <= 0) and counts.min() >= 1
    concept = generate(Scenario(dataset="digits", concept=1.0))
    assert np.bincount(concept.target_labelled_y, minlength=10).tolist() == [5] * 10


def test_training_inputs_never_carry_the_pool_labels():
    d = generate(Scenario(rotation=30))
    names = {f.name for f in dataclasses.fields(d.training_inputs())}
    assert names == {"source_x", "source_y", "target_pool_x", "target_labelled_x", "target_labelled_y", "image_shape"}
    scrambled = dataclasses.replace(d, target_pool_y_oracle=np.full_like(d.target_pool_y_oracle, -1))
    for name in names:
        np.testing.assert_array_equal(getattr(d.training_inputs(), name),
                                      getattr(scrambled.training_inputs(), name))
    pool_labels = d.target_pool_y_oracle
    for name in names:
        assert getattr(d.training_inputs(), name) is not pool_labels


def test_export_frame_holds_every_point_with_its_split():
    d = generate(Scenario(feature_map="lift3d", labels_per_class=2))
    frame = d.to_frame()
    assert list(frame.columns) == ["x0", "x1", "x2", "y", "domain", "split"]
    assert frame["split"].value_counts().to_dict() == {"test": 1000, "train": 500, "pool": 500, "labelled": 4}
    assert set(frame.loc[frame.domain == "source", "split"]) == {"train"}
    np.testing.assert_array_equal(frame.loc[frame.domain == "target", ["x0", "x1", "x2"]].to_numpy(), d.target_x)
