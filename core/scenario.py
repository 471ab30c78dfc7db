"""The Scenario: every knob of an experiment in one frozen, hashable, validated object.

The same object is the page URL (``?dataset=moons&rotation=35``), the command-line
arguments (``python -m core shift dataset=moons rotation=35``), the cache key of every
cached computation and the ``scenario`` part of every JSON answer. The one typed list of
knobs, :data:`KNOBS`, drives validation, parsing, serialisation and the sidebar widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote_plus

from core.errors import InputError
from core.knobs import Knob, KnobSet, format_number

POINT_DATASETS = ("moons", "blobs", "circles", "xor", "spirals")
IMAGE_DATASETS = ("digits",)
DATASETS = POINT_DATASETS + IMAGE_DATASETS
LABEL_SPACES = ("same", "new_class", "missing_class")
FEATURE_MAPS = ("identity", "warp", "polar", "lift3d")
IMAGE_LABELS_PER_CLASS = 20  # the labelled reservoir of each digit class (the target half has ~90 per class)


# The sidebar's groups: one per kind of shift, each named for what it changes.
INPUT_TRANSFORMATION_GROUP = "Input transformation: x ↦ g(x)"
COVARIATE_SHIFT_GROUP = "Covariate shift: which x are drawn"
PRIOR_SHIFT_GROUP = "Prior shift: P(Y) changes"
CONCEPT_SHIFT_GROUP = "Concept shift: P(Y|X) changes"
LABEL_SPACE_GROUP = "Label space: Y_S ≠ Y_T"
FEATURE_SPACE_GROUP = "Feature space: X_S ≠ X_T"
_MOVES = "P(X) and P(Y|X) both move"  # what an input transformation changes
_TRANSFORM = INPUT_TRANSFORMATION_GROUP
_SELECT = COVARIATE_SHIFT_GROUP
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
    Knob("rotation", float, 0.0, "Rotation (°)", "Each target point rotated (anticlockwise) about the centre of the "
         f"source distribution, keeping its label, so the labelling rule turns with the inputs: {_MOVES}; rotating "
         "back undoes it (digits: about the image centre).", _TRANSFORM, low=-180.0, high=180.0, step=1.0),
    Knob("shift_x", float, 0.0, "Shift x", "Each target point translated along x, keeping its label "
         f"({_MOVES}; digits: in source pixels, rightwards).", _TRANSFORM, low=-3.0, high=3.0, step=0.1),
    Knob("shift_y", float, 0.0, "Shift y", "Each target point translated along y, keeping its label "
         f"({_MOVES}; digits: in source pixels, downwards).", _TRANSFORM, low=-3.0, high=3.0, step=0.1),
    Knob("scale", float, 1.0, "Scale", "Each target point scaled about the centre of the source distribution, "
         f"keeping its label ({_MOVES}; digits: zoom about the image centre).", _TRANSFORM,
         low=0.25, high=3.0, step=0.05),
    Knob("target_noise", float, 0.0, "Extra target noise", "Extra Gaussian noise (std) on each target input after "
         "its label is drawn: a random move of every point, which blurs the target's class boundaries "
         f"({_MOVES}; digits: per pixel).", _TRANSFORM, low=0.0, high=1.0, step=0.01),
    Knob("invert", float, 0.0, "Inverted share", "Digits: the share of target images with inverted intensities "
         "(dark ink on a light ground); each keeps its label.", _TRANSFORM, low=0.0, high=1.0, step=0.05,
         applies_to="images"),
    Knob("blur", float, 0.0, "Blur (σ, px)", "Digits: Gaussian blur of the target, sigma in 16×16 pixels; each image "
         "keeps its label.", _TRANSFORM, low=0.0, high=2.0, step=0.1, applies_to="images"),
    Knob("background", float, 0.0, "Textured background",
         "Digits: weight of a coloured, textured background behind the target digits (as in MNIST-M); each image "
         "keeps its label.", _TRANSFORM, low=0.0, high=1.0, step=0.05, applies_to="images"),
    Knob("selection", float, 0.0, "Selection strength",
         "Covariate shift proper (sample-selection bias): target candidates are drawn exactly like the source and "
         "each is kept with a probability that depends on its input only, ∝ exp(−strength·‖x − c‖²/2) around the "
         "centre c below (the data nearest c kept for sure). P(X) moves towards c; P(Y|X) stays exactly the "
         "source's. 0: off (2-D datasets).", _SELECT, low=0.0, high=10.0, step=0.1, applies_to="points"),
    Knob("selection_x", float, 0.0, "Selection centre x0",
         "x0 of the centre c that the selection favours, in the source's input plane (before any transformation "
         "or feature map); only used when the selection strength is above 0.", _SELECT, low=-3.0, high=3.0,
         step=0.1, applies_to="points"),
    Knob("selection_y", float, 0.0, "Selection centre x1",
         "x1 of the centre c that the selection favours, in the source's input plane (before any transformation "
         "or feature map); only used when the selection strength is above 0.", _SELECT, low=-3.0, high=3.0,
         step=0.1, applies_to="points"),
    Knob("prior", float, 0.0, "Prior shift", "0: target classes in the source's proportions; 1: strongly imbalanced. "
         "Each class keeps its input distribution P(X|Y).", PRIOR_SHIFT_GROUP, low=0.0, high=1.0, step=0.05),
    Knob("concept", float, 0.0, "Concept shift", "0: same labelling rule; 1: labels permuted on half the input "
         "space (digits: on the half of the images with the most ink). The inputs P(X) do not move.",
         CONCEPT_SHIFT_GROUP, low=0.0, high=1.0, step=0.05),
    Knob("label_space", str, "same", "Target label space",
         "same; new_class: the target has a class the source never saw; missing_class: it lacks one.",
         LABEL_SPACE_GROUP, choices=LABEL_SPACES),
    Knob("feature_map", str, "identity", "Target feature map",
         "How the target is observed (2-D datasets). polar (a radius and an angle) and lift3d (3 features) change "
         "the features themselves. warp, a smooth bend of the plane that keeps the same two features, is an input "
         "transformation like rotation (listed here as a map of the plane). identity: none.",
         FEATURE_SPACE_GROUP, choices=FEATURE_MAPS, applies_to="points"),
    Knob("labels_per_class", int, 5, "Target labels per class",
         "Labelled target samples: this many per target class (under concept shift, counted after the "
         "relabelling). Under prior shift, this × the number of classes in all, split by the target's class "
         "proportions (at least 1 per class); under covariate shift (selection), this × the number of classes "
         "drawn like the rest of the target, so their classes follow what the selection keeps. 0: unsupervised "
         "adaptation; digits: at most 20 per class, from a labelled reservoir of 20 images per class.",
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
    target_noise=0, invert=0, blur=0, background=0, selection=0, prior=0, concept=0, label_space=same,
    feature_map=identity``) source and target are drawn from the same distribution
    (``selection_x`` and ``selection_y`` only matter when ``selection > 0``). A knob that does not apply
    to the dataset (``feature_map``, ``selection``, ``selection_x`` and ``selection_y`` for digits;
    ``invert``, ``blur`` and ``background`` for the 2-D datasets) must keep its default, and digits
    allow at most :data:`IMAGE_LABELS_PER_CLASS` labels per class.

    The knobs come in the kinds of shift of :mod:`core.data.domains`: input transformations
    (``rotation``, ``shift_x``, ``shift_y``, ``scale``, ``target_noise``, the image knobs, and
    ``feature_map=warp``), covariate shift proper (``selection``), prior shift (``prior``), concept
    shift (``concept``), label space (``label_space``) and feature space (``feature_map=polar``
    or ``lift3d``).

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
    selection: float = 0.0
    selection_x: float = 0.0
    selection_y: float = 0.0
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

    # --- links -----------------------------------------------------------------------------
    @classmethod
    def from_link(cls, params: dict[str, Any], ignore: tuple[str, ...] = ()) -> tuple[Scenario, list[str]]:
        """Read a page link's parameters leniently (:meth:`from_params`): a key the link lacks takes its value
        in :data:`OPENING`, the scenario the app opens at."""
        return cls.from_params(params, ignore=ignore, base=OPENING.changed())

    def link_params(self) -> dict[str, str]:
        """A page link's parameters: the non-default keys, and always the keys :data:`OPENING` changes (so
        ``rotation=0`` is written), so that a link's keys given to the command line are the same scenario."""
        return self.to_params(pinned=tuple(OPENING.changed()))

    def link_query(self) -> str:
        """A page link's query string (:meth:`link_params`)."""
        return self.to_query(pinned=tuple(OPENING.changed()))

    @property
    def is_image(self) -> bool:
        """True for an image dataset (its inputs are flattened pixels, its networks convolutional)."""
        return self.dataset in IMAGE_DATASETS

    @property
    def is_neutral(self) -> bool:
        """True when no knob shifts the target away from the source."""
        return all(getattr(self, name) == KNOBS_BY_NAME[name].default for name in SHIFT_KNOBS)


# The scenario the app opens at, a link without scenario keys: shifted, so that each page's lesson shows at once
# (at 35 degrees source-only falls to about 74% and the adaptation methods differ; the README's figures). The
# command line's defaults stay neutral; "No shift" is a preset and a sidebar button away.
OPENING = Scenario(rotation=35.0)

SHIFT_KNOBS: tuple[str, ...] = (
    "rotation", "shift_x", "shift_y", "scale", "target_noise", "invert", "blur", "background", "selection", "prior",
    "concept", "label_space", "feature_map",
)  # selection_x and selection_y are left out: without a selection strength they move nothing




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
