"""Image domains: scikit-learn's handwritten digits as the source, shifted copies of other digits as the target.

The source is the 8×8 ``load_digits`` images (1,797 of them, shipped inside scikit-learn: no
download), upscaled to 16×16 and shown as RGB. The target is made from OTHER digit images (a
disjoint, class-stratified half) by :func:`shift_images`, with :mod:`torchvision.transforms.v2`:

1. geometry (one affine map): ``rotation`` (degrees), ``scale``, ``shift_x`` / ``shift_y``
   (in source pixels; one source pixel is two network pixels);
2. ``blur``: Gaussian blur, sigma in network (16×16) pixels;
3. ``invert``: the share of target images with inverted intensities (dark ink on a light ground;
   the source's digits are light ink on black);
4. ``background``: blended towards ``|texture − digit|`` with a random crop of a coloured,
   textured background, in the manner of MNIST-M (Ganin et al., 2016); the textures are made
   here from seeded noise, so nothing is downloaded;
5. ``noise``: Gaussian pixel noise (std, intensities in [0, 1]).

Every random draw comes from a ``torch.Generator`` seeded from the caller's seed; images are
``[N, 3, 16, 16]`` float tensors in [0, 1]. :func:`core.data.domains.generate` builds the domains'
splits from these pieces, as flattened rows of 768 features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from core.errors import InputError, check_fields

SOURCE_SIZE = 8  # load_digits' images are 8×8
IMAGE_SIZE = 16  # what the networks see
CHANNELS = 3
N_CLASSES = 10
IMAGE_SHAPE = (CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
PIXEL = IMAGE_SIZE / SOURCE_SIZE  # network pixels per source pixel
TEXTURE_SIZE = 64  # side of each background texture; backgrounds are random crops of it
N_TEXTURES = 8


@dataclass(frozen=True)
class ImageShift:
    """How the target images differ from the source ones; every field at 0 (scale 1) means no shift.

    Parameters
    ----------
    rotation : float
        Degrees, anticlockwise on screen, about the image centre, in [-180, 180].
    scale : float
        Zoom about the centre, in [0.25, 3].
    shift_x, shift_y : float
        Translation in source pixels (right, down), in [-3, 3].
    blur : float
        Gaussian blur sigma in network (16×16) pixels, in [0, 2].
    invert : float
        Share of target images with inverted intensities, in [0, 1].
    background : float
        Weight of the MNIST-M-style textured background, in [0, 1].
    noise : float
        Std of Gaussian pixel noise, in [0, 1].
    """

    rotation: float = 0.0
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    blur: float = 0.0
    invert: float = 0.0
    background: float = 0.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        check_fields(self, [
            ("rotation", -180.0 <= self.rotation <= 180.0, "a number in [-180, 180]"),
            ("scale", 0.25 <= self.scale <= 3.0, "a number in [0.25, 3]"),
            ("shift_x", -3.0 <= self.shift_x <= 3.0, "a number in [-3, 3]"),
            ("shift_y", -3.0 <= self.shift_y <= 3.0, "a number in [-3, 3]"),
            ("blur", 0.0 <= self.blur <= 2.0, "a number in [0, 2]"),
            ("invert", 0.0 <= self.invert <= 1.0, "a number in [0, 1]"),
            ("background", 0.0 <= self.background <= 1.0, "a number in [0, 1]"),
            ("noise", 0.0 <= self.noise <= 1.0, "a number in [0, 1]"),
        ])

    @property
    def is_neutral(self) -> bool:
        return self == ImageShift()

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@lru_cache(maxsize=1)
def load_digit_images() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits as ``[1797, 1, 8, 8]`` intensities in [0, 1] (ink bright) and labels ``[1797]``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    return images, torch.as_tensor(digits.target, dtype=torch.long)


def source_target_split(labels: torch.Tensor, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint source and target image indices: each class split in half at random (seeded)."""
    rng = np.random.default_rng([seed, 21])
    source, target = [], []
    for k in range(N_CLASSES):
        members = rng.permutation(np.flatnonzero(labels.numpy() == k))
        half = (len(members) + 1) // 2
        source.append(members[:half])
        target.append(members[half:])
    return np.sort(np.concatenate(source)), np.sort(np.concatenate(target))


def to_network_images(images: torch.Tensor) -> torch.Tensor:
    """``[N, 1, 8, 8]`` source-resolution images as the networks see them: ``[N, 3, 16, 16]`` RGB."""
    upscaled = TF.resize(images, [IMAGE_SIZE, IMAGE_SIZE], antialias=True).clamp(0.0, 1.0)
    return upscaled.expand(-1, CHANNELS, -1, -1).contiguous()


def background_textures(generator: torch.Generator, n: int = N_TEXTURES) -> torch.Tensor:
    """``[n, 3, 64, 64]`` coloured textures: smooth noise at two scales (blobs of about 16 and 8
    pixels, bilinear), each channel its own colour."""
    def smooth(cells: int) -> torch.Tensor:
        grid = torch.rand(n, CHANNELS, cells, cells, generator=generator)
        return TF.resize(grid, [TEXTURE_SIZE, TEXTURE_SIZE], interpolation=TF.InterpolationMode.BILINEAR,
                         antialias=False)

    return (0.6 * smooth(4) + 0.4 * smooth(8)).clamp(0.0, 1.0)


def _crops(textures: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` random 16×16 crops of random textures."""
    which = torch.randint(len(textures), (n,), generator=generator)
    top = torch.randint(TEXTURE_SIZE - IMAGE_SIZE + 1, (n,), generator=generator)
    left = torch.randint(TEXTURE_SIZE - IMAGE_SIZE + 1, (n,), generator=generator)
    rows = top[:, None] + torch.arange(IMAGE_SIZE)[None, :]
    cols = left[:, None] + torch.arange(IMAGE_SIZE)[None, :]
    chosen = textures[which]  # [n, 3, 64, 64]
    return chosen[torch.arange(n)[:, None, None, None], torch.arange(CHANNELS)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def shift_images(images: torch.Tensor, shift: ImageShift, seed: int) -> torch.Tensor:
    """Apply ``shift`` to network images ``[N, 3, 16, 16]`` (see the module's steps); deterministic in ``seed``."""
    if images.dim() != 4 or images.shape[1:] != (CHANNELS, IMAGE_SIZE, IMAGE_SIZE):
        raise InputError("images", f"expected [N, 3, 16, 16], got {list(images.shape)}")
    generator = torch.Generator().manual_seed(int(seed))
    out = images
    if shift.rotation or shift.scale != 1.0 or shift.shift_x or shift.shift_y:
        # TF.affine turns clockwise; rotation is anticlockwise on screen, as TF.rotate
        out = TF.affine(out, angle=-float(shift.rotation), translate=[shift.shift_x * PIXEL, shift.shift_y * PIXEL],
                        scale=float(shift.scale), shear=[0.0, 0.0],
                        interpolation=TF.InterpolationMode.BILINEAR)
    if shift.blur > 0:
        sigma = shift.blur
        size = 2 * math.ceil(3 * sigma) + 1
        out = TF.gaussian_blur(out, kernel_size=[size, size], sigma=[sigma, sigma])
    if shift.invert > 0:
        flipped = torch.rand(len(out), generator=generator) < shift.invert
        out = torch.where(flipped[:, None, None, None], TF.invert(out), out)
    if shift.background > 0:
        patches = _crops(background_textures(generator), len(out), generator)
        out = (1 - shift.background) * out + shift.background * (patches - out).abs()
    if shift.noise > 0:
        out = out + shift.noise * torch.randn(out.shape, generator=generator)
    return out.clamp(0.0, 1.0)





def add_noise(images: torch.Tensor, std: float, seed: int) -> torch.Tensor:
    """Gaussian pixel noise of ``std`` (seeded), intensities clamped to [0, 1]."""
    if std <= 0:
        return images
    generator = torch.Generator().manual_seed(int(seed))
    return (images + std * torch.randn(images.shape, generator=generator)).clamp(0.0, 1.0)


def ink(images: torch.Tensor) -> np.ndarray:
    """Mean intensity of each image ``[N]``: how much ink a digit has (concept shift relabels the heaviest)."""
    return images.flatten(1).mean(dim=1).numpy().astype(np.float64)


def flatten(images: torch.Tensor) -> np.ndarray:
    """Images ``[N, 3, 16, 16]`` as feature rows ``[N, 768]`` (float64, the domains' convention)."""
    return images.flatten(1).numpy().astype(np.float64)


def as_pictures(x: np.ndarray) -> np.ndarray:
    """Feature rows ``[N, 768]`` back to ``[N, 16, 16, 3]`` pictures in [0, 1] (for drawing)."""
    return np.clip(np.asarray(x).reshape(-1, *IMAGE_SHAPE).transpose(0, 2, 3, 1), 0.0, 1.0)
