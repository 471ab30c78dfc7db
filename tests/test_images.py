"""Image domains: scikit-learn's digits, disjoint source and target halves, torchvision shifts."""

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from core.data.domains import DIGIT_TEST_PER_CLASS, generate
from core.data.images import (
    IMAGE_SIZE,
    ImageShift,
    as_pictures,
    flatten,
    load_digit_images,
    shift_images,
    source_target_split,
    to_network_images,
)
from core.errors import InputError
from core.scenario import Scenario

pytestmark = pytest.mark.unit


def _images(n=20):
    images, labels = load_digit_images()
    return to_network_images(images[:n]), labels[:n]


def test_digits_load_without_download_and_split_into_disjoint_stratified_halves():
    images, labels = load_digit_images()
    assert images.shape == (1797, 1, 8, 8) and float(images.max()) == 1.0 and float(images.min()) == 0.0
    source, target = source_target_split(labels, seed=0)
    assert len(source) + len(target) == 1797 and not set(source) & set(target)
    assert np.abs(np.bincount(labels[source].numpy()) - np.bincount(labels[target].numpy())).max() <= 1
    other, _ = source_target_split(labels, seed=1)
    assert set(other) != set(source)


def test_no_shift_leaves_the_images_alone_and_the_domains_are_flattened_rgb():
    x, _ = _images()
    torch.testing.assert_close(shift_images(x, ImageShift(), seed=0), x)
    rows = flatten(x)
    assert rows.shape == (len(x), 3 * IMAGE_SIZE * IMAGE_SIZE)
    np.testing.assert_array_equal(as_pictures(rows), x.permute(0, 2, 3, 1).numpy())


def test_rotation_by_90_degrees_is_an_exact_quarter_turn():
    x, _ = _images()
    turned = shift_images(x, ImageShift(rotation=90), seed=0)
    torch.testing.assert_close(turned, torch.rot90(x, k=1, dims=(2, 3)), atol=1e-5, rtol=0)


def test_invert_share_one_inverts_every_image_and_a_half_about_half():
    x, _ = _images(400)
    torch.testing.assert_close(shift_images(x, ImageShift(invert=1.0), seed=0), 1.0 - x)
    half = shift_images(x, ImageShift(invert=0.5), seed=0)
    inverted = (half - (1.0 - x)).abs().flatten(1).max(dim=1).values < 1e-6
    assert 150 < int(inverted.sum()) < 250


def test_blur_is_torchvisions_gaussian_blur_and_removes_fine_detail():
    x, _ = _images()
    blurred = shift_images(x, ImageShift(blur=1.0), seed=0)
    torch.testing.assert_close(blurred, TF.gaussian_blur(x, kernel_size=[7, 7], sigma=[1.0, 1.0]))
    detail = lambda t: (t[..., 1:] - t[..., :-1]).abs().mean()  # noqa: E731
    assert detail(blurred) < 0.85 * detail(x)


def test_background_makes_coloured_textures_behind_the_digit_and_is_seeded():
    x, _ = _images()
    a = shift_images(x, ImageShift(background=1.0), seed=3)
    b = shift_images(x, ImageShift(background=1.0), seed=3)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, shift_images(x, ImageShift(background=1.0), seed=4))
    corner = a[:, :, 0, 0]  # blank in the source: now the texture's colour
    assert float(corner.std(dim=0).mean()) > 0.1 and float((corner[:, 0] - corner[:, 1]).abs().mean()) > 0.05


def test_bad_shift_values_are_one_clear_error():
    with pytest.raises(InputError, match="invert"):
        ImageShift(invert=1.5)
    with pytest.raises(InputError, match="rotation"):
        ImageShift(rotation=400)
    with pytest.raises(InputError, match="images"):
        shift_images(torch.zeros(2, 1, 8, 8), ImageShift(), seed=0)


# --- the digits as a Scenario's domains --------------------------------------------------------------
def _rows(x):
    return {row.tobytes() for row in np.asarray(x)}


def test_digit_splits_are_disjoint_capped_and_the_pool_labels_stay_out_of_training():
    data = generate(Scenario(dataset="digits", noise=0.0))
    assert data.image_shape == (3, IMAGE_SIZE, IMAGE_SIZE) and data.training_inputs().image_shape == data.image_shape
    assert len(data.source_x) == 500 and len(data.target_test_x) == 10 * DIGIT_TEST_PER_CLASS
    assert len(data.target_labelled_x) == 50 and 0 < len(data.target_pool_x) <= 500
    splits = [_rows(data.target_pool_x), _rows(data.target_labelled_x), _rows(data.target_test_x),
              _rows(data.source_x)]
    for i, first in enumerate(splits):
        for second in splits[i + 1:]:
            assert not first & second  # no image in two splits (and the halves never share one)
    big = generate(Scenario(dataset="digits", n_source=5000, n_target=5000, n_test=5000))
    assert len(big.source_x) < 900 and len(big.target_test_x) == 10 * DIGIT_TEST_PER_CLASS


def test_digit_test_set_does_not_move_when_labels_or_sizes_change():
    a = generate(Scenario(dataset="digits", labels_per_class=1, n_target=50, n_source=100))
    b = generate(Scenario(dataset="digits", labels_per_class=20, n_target=5000, n_source=800))
    np.testing.assert_array_equal(a.target_test_x, b.target_test_x)
    a, b = (generate(Scenario(dataset="digits", labels_per_class=n, noise=0.0)) for n in (1, 20))
    assert _rows(a.target_labelled_x) <= _rows(b.target_labelled_x)  # the labelled reservoir is nested


def test_digit_shifts_move_only_the_target_and_label_spaces_prior_and_concept_apply():
    neutral = generate(Scenario(dataset="digits"))
    turned = generate(Scenario(dataset="digits", rotation=45, invert=1.0))
    np.testing.assert_array_equal(neutral.source_x, turned.source_x)
    np.testing.assert_array_equal(neutral.target_test_y, turned.target_test_y)
    assert not np.allclose(neutral.target_test_x, turned.target_test_x)
    assert turned.target_test_x.mean() > 0.5 > neutral.target_test_x.mean()  # inverted: light ground

    new = generate(Scenario(dataset="digits", label_space="new_class"))
    assert 9 not in new.source_y and 9 in new.target_test_y
    missing = generate(Scenario(dataset="digits", label_space="missing_class"))
    assert 9 in missing.source_y and 9 not in missing.target_test_y

    skewed = generate(Scenario(dataset="digits", prior=0.5))
    counts = np.bincount(skewed.target_test_y, minlength=10)
    assert counts[0] == DIGIT_TEST_PER_CLASS and np.all(np.diff(counts) <= 0) and counts[-1] < counts[0] / 5

    concept = generate(Scenario(dataset="digits", concept=1.0))
    moved = concept.target_test_y != neutral.target_test_y
    np.testing.assert_array_equal(concept.target_test_x, neutral.target_test_x)  # the inputs do not move
    assert 0.3 < moved.mean() < 0.7
    np.testing.assert_array_equal(concept.target_test_y[moved], (neutral.target_test_y[moved] + 1) % 10)


def test_scenario_knobs_that_do_not_apply_are_errors_and_with_dataset_resets_them():
    with pytest.raises(InputError, match="invert"):
        Scenario(invert=0.5)
    with pytest.raises(InputError, match="feature_map"):
        Scenario(dataset="digits", feature_map="polar")
    with pytest.raises(InputError, match="labels_per_class"):
        Scenario(dataset="digits", labels_per_class=21)
    digits = Scenario(rotation=30, feature_map="polar", labels_per_class=50).with_dataset("digits")
    assert (digits.rotation, digits.feature_map, digits.labels_per_class) == (30, "identity", 20)
    assert digits.with_dataset("moons").invert == 0 and Scenario.from_query(digits.to_query()) == digits
