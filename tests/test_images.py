"""Image domains: scikit-learn's digits, disjoint source and target halves, torchvision shifts."""

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from core.errors import InputError
from core.images import (IMAGE_SIZE, N_CLASSES, DigitDomains, ImageShift, digit_domains, load_digit_images,
                         shift_images, source_target_split, to_network_images)


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
    domains = digit_domains(ImageShift(), seed=0)
    assert domains.source_x.shape[1] == 3 * IMAGE_SIZE * IMAGE_SIZE == domains.target_x.shape[1]
    assert set(domains.target_y) == set(range(N_CLASSES))
    assert DigitDomains.as_images(domains.source_x[:2]).shape == (2, IMAGE_SIZE, IMAGE_SIZE, 3)


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
