"""The Scenario: every knob of an experiment in one frozen, hashable, validated object.

The same object is the page URL (``?dataset=moons&rotation=35``), the command-line
arguments (``python -m core shift dataset=moons rotation=35``), the cache key of every
cached computation and the ``scenario`` part of every JSON answer. The one typed list of
knobs, :data:`KNOBS`, drives validation, parsing, serialisation and the sidebar widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import unquote_plus

from core.errors import InputError
from core.knobs import Knob, KnobSet, format_number

POINT_DATASETS = ("moons", "blobs", "circles", "xor", "spirals")
IMAGE_DATASETS = ("digits",)
DATASETS = POINT_DATASETS + IMAGE_DATASETS
LABEL_SPACES = ("same", "new_class", "missing_class")
FEATURE_MAPS = ("identity", "warp", "polar", "lift3d")
IMAGE_LABELS_PER_CLASS = 20  # the labelled reservoir of each digit class (the target half has ~90 per class)


_SHIFT = "Covariate shift: P(X) changes"
KNOBS: tuple[Knob, ...] = (
    Knob("dataset", str, "moons", "Dataset",
         "The 2-D problem both domains are drawn from, or digits: scikit-learn's 8×8 handwritten digits "
         "(source and target from disjoint halves).", "Data", choices=DATASETS),
    Knob("n_source", int, 500, "Source points",
         "Labelled source samples (digits: at most the source half, about 870 images).", "Data",
         low=20, high=5000, step=10),
    Knob("n_target", int, 500, "Target pool points",
         "Unlabelled target samples used for adaptation (digits: at most about 330 images).",
         "Data", low=20, high=5000, step=10),
    Knob("n_test", int, 1000, "Target test points",
         "Held-out target samples, used only for reporting (digits: at most 350 images).",
         "Data", low=100, high=5000, step=100),
    Knob("noise", float, 0.1, "Noise", "Gaussian noise (std) on every point of both domains "
         "(digits: on every pixel, intensities in [0, 1]).", "Data", low=0.0, high=0.5, step=0.01),
    Knob("rotation", float, 0.0, "Rotation (°)", "Target rotated (anticlockwise) about the centre of the source "
         "distribution; digits: about the image centre.", _SHIFT, low=-180.0, high=180.0, step=1.0),
    Knob("shift_x", float, 0.0, "Shift x", "Target translated along x (digits: in source pixels, rightwards).",
         _SHIFT, low=-3.0, high=3.0, step=0.1),
    Knob("shift_y", float, 0.0, "Shift y", "Target translated along y (digits: in source pixels, downwards).",
         _SHIFT, low=-3.0, high=3.0, step=0.1),
    Knob("scale", float, 1.0, "Scale", "Target scaled about the centre of the source distribution "
         "(digits: zoom about the image centre).", _SHIFT, low=0.25, high=3.0, step=0.05),
    Knob("target_noise", float, 0.0, "Extra target noise", "Extra Gaussian noise (std) on the target only "
         "(digits: per pixel).", _SHIFT, low=0.0, high=1.0, step=0.01),
    Knob("invert", float, 0.0, "Inverted share", "Digits: the share of target images with inverted intensities "
         "(dark ink on a light ground).", _SHIFT, low=0.0, high=1.0, step=0.05, applies_to="images"),
    Knob("blur", float, 0.0, "Blur (σ, px)", "Digits: Gaussian blur of the target, sigma in 16×16 pixels.",
         _SHIFT, low=0.0, high=2.0, step=0.1, applies_to="images"),
    Knob("background", float, 0.0, "Textured background",
         "Digits: weight of a coloured, textured background behind the target digits (as in MNIST-M).",
         _SHIFT, low=0.0, high=1.0, step=0.05, applies_to="images"),
    Knob("prior", float, 0.0, "Prior shift", "0: target classes in the source's proportions; 1: strongly imbalanced.",
         "Prior shift: P(Y) changes", low=0.0, high=1.0, step=0.05),
    Knob("concept", float, 0.0, "Concept shift", "0: same labelling rule; 1: labels permuted on half the input "
         "space (digits: on the half of the images with the most ink).",
         "Concept shift: P(Y|X) changes", low=0.0, high=1.0, step=0.05),
    Knob("label_space", str, "same", "Target label space",
         "same; new_class: the target has a class the source never saw; missing_class: it lacks one.",
         "Label space: Y_S ≠ Y_T", choices=LABEL_SPACES),
    Knob("feature_map", str, "identity", "Target feature map",
         "How the target is observed: identity, a smooth warp, polar coordinates, or a 3-D lift (2-D datasets).",
         "Feature space: X_S ≠ X_T", choices=FEATURE_MAPS, applies_to="points"),
    Knob("labels_per_class", int, 5, "Target labels per class",
         "Labelled target samples per target class (0: unsupervised adaptation; digits: at most 20).",
         "Target labels", low=0, high=100, step=1),
    Knob("seed", int, 0, "Seed", "Seed of every random draw: the same seed gives the same run.",
         "Reproducibility", low=0, high=999_999, step=1),
)
KNOBS_BY_NAME: dict[str, Knob] = {knob.name: knob for knob in KNOBS}
NUMERIC_KNOBS: tuple[str, ...] = tuple(k.name for k in KNOBS if k.kind is not str)


@dataclass(frozen=True)
class Scenario(KnobSet):
    """Every knob of an experiment; frozen, hashable and validated on construction.

    With every shift knob at its neutral value (``rotation=0, shift_x=0, shift_y=0, scale=1,
    target_noise=0, invert=0, blur=0, background=0, prior=0, concept=0, label_space=same,
    feature_map=identity``) source and target are drawn from the same distribution. A knob that
    does not apply to the dataset (``feature_map`` for digits; ``invert``, ``blur`` and
    ``background`` for the 2-D datasets) must keep its default, and digits allow at most
    :data:`IMAGE_LABELS_PER_CLASS` labels per class.

    Examples
    --------
    >>> s = Scenario.from_query("dataset=moons&rotation=35")
    >>> s.rotation, s.to_query()
    (35.0, 'rotation=35')
    """

    dataset: str = "moons"
    n_source: int = 500
    n_target: int = 500
    n_test: int = 1000
    noise: float = 0.1
    rotation: float = 0.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    scale: float = 1.0
    target_noise: float = 0.0
    invert: float = 0.0
    blur: float = 0.0
    background: float = 0.0
    prior: float = 0.0
    concept: float = 0.0
    label_space: str = "same"
    feature_map: str = "identity"
    labels_per_class: int = 5
    seed: int = 0
    KNOBS: ClassVar[tuple[Knob, ...]] = KNOBS

    def __post_init__(self) -> None:
        super().__post_init__()
        for knob in KNOBS:
            if not knob.applies(self.dataset) and getattr(self, knob.name) != knob.default:
                kind = "digits" if knob.applies_to == "images" else "the 2-D datasets"
                raise InputError(knob.name, f"applies to {kind} only; with dataset={self.dataset} leave it at "
                                            f"{format_number(knob.default)}")
        if self.is_image and self.labels_per_class > IMAGE_LABELS_PER_CLASS:
            raise InputError("labels_per_class", f"dataset={self.dataset} has {IMAGE_LABELS_PER_CLASS} labelled "
                                                 f"images per class to draw from; expected an integer in "
                                                 f"[0, {IMAGE_LABELS_PER_CLASS}], got {self.labels_per_class}")

    # --- conversions -------------------------------------------------------------------
    @classmethod
    def from_query(cls, query: str) -> Scenario:
        """Parse a query string such as ``dataset=moons&rotation=35`` (a leading ``?`` is fine)."""
        items = [unquote_plus(item) for item in query.lstrip("?").split("&")]
        return cls.from_mapping(parse_pairs(items))

    @classmethod
    def from_args(cls, args: list[str]) -> Scenario:
        """Parse command-line ``KEY=VALUE`` arguments."""
        return cls.from_mapping(parse_pairs(args))

    def with_dataset(self, dataset: str) -> Scenario:
        """A copy on another dataset: knobs that do not apply there go back to their defaults, and
        ``labels_per_class`` is capped at what the dataset holds."""
        values = {k.name: getattr(self, k.name) if k.applies(dataset) else k.default for k in KNOBS}
        if dataset in IMAGE_DATASETS:
            values["labels_per_class"] = min(self.labels_per_class, IMAGE_LABELS_PER_CLASS)
        return self.from_mapping({**values, "dataset": dataset})

    @property
    def is_image(self) -> bool:
        """True for an image dataset (its inputs are flattened pixels, its networks convolutional)."""
        return self.dataset in IMAGE_DATASETS

    @property
    def is_neutral(self) -> bool:
        """True when no knob shifts the target away from the source."""
        return all(getattr(self, name) == KNOBS_BY_NAME[name].default for name in SHIFT_KNOBS)


SHIFT_KNOBS: tuple[str, ...] = (
    "rotation", "shift_x", "shift_y", "scale", "target_noise", "invert", "blur", "background", "prior", "concept",
    "label_space", "feature_map",
)




def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """Split ``KEY=VALUE`` items into a dict; an item without ``=`` or a repeated key is an error."""
    values: dict[str, str] = {}
    for item in pairs:
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(item, "expected KEY=VALUE, e.g. rotation=35")
        if key in values:
            raise InputError(key, "given twice")
        values[key] = raw
    return values
