"""Shifted synthetic domains: the 2-D generators, the kinds of shift, and the splits.

A domain is D = {X, P(X)} and a task is T = {Y, P(Y|X)}. A :class:`~core.scenario.Scenario`
moves the target away from the source in each of the ways these can differ, and in the ways
the joint distribution P(X, Y) can move within them:

1. Input transformations, ``x -> g(x)``: ``rotation``, ``shift_x``/``shift_y``, ``scale``,
   ``target_noise`` (a random g) and ``feature_map=warp`` move each target point and keep its
   label. P(X) and P(Y|X) both move, but ``P_T(y | g(x)) = P_S(y | x)``: the labelling rule
   moves with the inputs, so on the inputs both domains share the source's rule mislabels some
   target points. Aligning features can undo it; it is not covariate shift.
2. Covariate shift proper, ``P_S(X) != P_T(X)`` with ``P_T(Y|X) = P_S(Y|X)`` exactly:
   ``selection`` draws target candidates exactly like the source and keeps each with a
   probability that depends on its input only (sample-selection bias, :func:`selection_acceptance`).
3. Prior shift, ``P_S(Y) != P_T(Y)`` with ``P(X|Y)`` kept: ``prior`` sets target class
   proportions ``pi_k ∝ r**k`` with ``r = 1 - 0.95 * prior`` over the target's classes.
4. Concept shift, ``P(Y|X)`` changes with ``P(X)`` kept: ``concept`` permutes the labels of
   the target points whose input lies right of a threshold; the inputs do not move.
5. Label-space change, ``Y_S != Y_T``: ``label_space=new_class`` adds a class the source
   never saw; ``missing_class`` drops the last source class from the target.
6. Feature-space change, ``X_S != X_T``: ``feature_map=polar`` observes the target as a radius
   and an angle, ``lift3d`` on a paraboloid in 3-D (the source is then zero-padded to 3 features).

The order is fixed: draw the clean structure, add ``noise``, keep or drop each candidate
(selection), relabel (concept), then apply the input transformation, then ``target_noise``, then
the feature map. Every random draw comes from ``numpy.random.default_rng([seed, stream])`` with one
stream per split, so changing one split's size never changes another split's points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data import images
from core.errors import InputError
from core.scenario import IMAGE_LABELS_PER_CLASS, Scenario

# Streams of numpy.random.default_rng([seed, stream]): one per split, and the selection's reference sample.
SOURCE_STREAM, POOL_STREAM, LABELLED_STREAM, TEST_STREAM = 0, 1, 2, 3
SELECTION_STREAM = 4
# Covariate shift by rejection: candidates drawn per split at most (bounded work for any knob value in a link),
# the reference sample that sets the acceptance's scale, and the smallest round of candidates.
MAX_CANDIDATES = 250_000
SELECTION_REFERENCE_SIZE = 2_000
MIN_CANDIDATE_ROUND = 1_024

# The population mean of each clean source distribution: rotation and scale act about it.
CENTRES: dict[str, tuple[float, float]] = {
    "moons": (0.5, 0.25),
    "blobs": (0.0, 0.0),
    "circles": (0.0, 0.0),
    "xor": (0.0, 0.0),
    "spirals": (0.0, 0.0),
}
SOURCE_CLASS_COUNT: dict[str, int] = {"moons": 2, "blobs": 3, "circles": 2, "xor": 2, "spirals": 2}
# Where the target's new class (label_space=new_class) lives: outside the source's support.
NEW_CLASS_CENTRES: dict[str, tuple[float, float]] = {
    "moons": (2.7, 0.25),
    "blobs": (1.9, 1.1),
    "circles": (1.8, 0.0),
    "xor": (1.8, 0.0),
    "spirals": (2.2, 0.0),
}
NEW_CLASS_STD = 0.2
BLOB_STD = 0.3
WARP_AMPLITUDE, WARP_FREQUENCY = 0.5, 1.5


# --- clean generators: counts[k] points of class k, before noise --------------------------
def _moons(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0.0, np.pi, n)
    if k == 0:
        return np.column_stack([np.cos(t), np.sin(t)])
    return np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)])


def _circles(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0.0, 2 * np.pi, n)
    radius = 1.0 if k == 0 else 0.5
    return radius * np.column_stack([np.cos(angle), np.sin(angle)])


def _blobs(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    angle = np.deg2rad(90.0 + 120.0 * k)
    centre = 1.5 * np.array([np.cos(angle), np.sin(angle)])
    return centre + BLOB_STD * rng.standard_normal((n, 2))


def _xor(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    magnitude = rng.uniform(0.1, 1.0, (n, 2))
    first_sign = rng.choice([-1.0, 1.0], n)
    # class 0 in quadrants I and III (same signs), class 1 in II and IV (opposite signs)
    second_sign = first_sign if k == 0 else -first_sign
    return magnitude * np.column_stack([first_sign, second_sign])


def _spirals(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0.0, 1.0, n)
    radius = 0.2 + 1.3 * t
    angle = 3 * np.pi * t + np.pi * k
    return radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])


GENERATORS: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "moons": _moons, "blobs": _blobs, "circles": _circles, "xor": _xor, "spirals": _spirals,
}


def _draw(dataset: str, counts: dict[int, int], noise: float, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``counts[k]`` noisy points of each class ``k``, shuffled; the new class is a blob."""
    n_source_classes = SOURCE_CLASS_COUNT[dataset]
    parts, labels = [], []
    for k, n in counts.items():
        if k < n_source_classes:
            points = GENERATORS[dataset](k, n, rng)
        else:
            points = np.array(NEW_CLASS_CENTRES[dataset]) + NEW_CLASS_STD * rng.standard_normal((n, 2))
        parts.append(points)
        labels.append(np.full(n, k, dtype=np.int64))
    x = np.concatenate(parts) if parts else np.zeros((0, 2))
    y = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(len(y))
    return x[order], y[order]


# --- class sets and proportions -----------------------------------------------------------
def source_classes(scenario: Scenario) -> tuple[int, ...]:
    """The source's classes: ``0 .. K-1`` (digits with a new target class: 0 .. 8, the 9s are the new class)."""
    if scenario.is_image:
        return tuple(range(images.N_CLASSES - (scenario.label_space == "new_class")))
    return tuple(range(SOURCE_CLASS_COUNT[scenario.dataset]))


def target_classes(scenario: Scenario) -> tuple[int, ...]:
    """The target's classes: the source's, plus a new one or minus the last one."""
    classes = source_classes(scenario)
    if scenario.label_space == "new_class":
        return classes + (len(classes),)
    if scenario.label_space == "missing_class":
        return classes[:-1]
    return classes


def target_class_proportions(scenario: Scenario) -> dict[int, float]:
    """Target class proportions: ``pi_j ∝ r**j`` over the target's classes, ``r = 1 - 0.95 prior``.

    ``prior=0`` gives the source's (balanced) proportions; ``prior=1`` gives, for two
    classes, 95.2% and 4.8%.
    """
    classes = target_classes(scenario)
    ratio = 1.0 - 0.95 * scenario.prior
    weights = ratio ** np.arange(len(classes), dtype=float)
    weights /= weights.sum()
    return dict(zip(classes, weights.tolist()))


def source_class_proportions(scenario: Scenario) -> dict[int, float]:
    """The source's class proportions: balanced."""
    classes = source_classes(scenario)
    return {k: 1.0 / len(classes) for k in classes}


def draw_mixture(dataset: str, n: int, proportions: dict[int, float], noise: float, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` i.i.d. noisy points of the class mixture ``proportions``, shuffled (before any transformation).

    The class counts are a multinomial draw, not fixed: two samples of the same mixture are then
    exchangeable, which a permutation test between them needs to hold its level (with counts fixed at
    the proportions, a permuted split holds more class imbalance than either sample, so the test rejects
    too rarely).
    """
    keys = list(proportions)
    counts = rng.multinomial(n, np.array([proportions[k] for k in keys]) / sum(proportions.values()))
    return _draw(dataset, dict(zip(keys, counts.tolist())), noise, rng)


def allocate(total: int, proportions: dict[int, float]) -> dict[int, int]:
    """Exact integer counts that sum to ``total`` (largest remainder method)."""
    keys = list(proportions)
    raw = np.array([proportions[k] for k in keys]) * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return dict(zip(keys, counts.tolist()))


def allocate_at_least_one(total: int, proportions: dict[int, float]) -> dict[int, int]:
    """:func:`allocate`, then every class with a count of 0 takes 1 from the largest count (when ``total``
    is at least the number of classes)."""
    counts = allocate(total, proportions)
    if total < len(counts):
        return counts
    for k in counts:
        if counts[k] == 0:
            largest = max(counts, key=lambda j: counts[j])
            counts[largest] -= 1
            counts[k] = 1
    return counts


def labelled_counts(scenario: Scenario) -> dict[int, int]:
    """How many labelled target samples of each target class to draw.

    ``labels_per_class`` of each class; under prior shift, ``labels_per_class × classes`` in all, split
    by :func:`target_class_proportions` (largest remainder, at least 1 per class), so the labelled split
    follows the target's priors. (Under covariate shift, ``selection > 0``, the labelled points of a 2-D
    dataset are drawn like the rest of the target instead: see :func:`generate`.)
    """
    classes = target_classes(scenario)
    per_class = scenario.labels_per_class
    if scenario.prior == 0 or per_class == 0:
        return {k: per_class for k in classes}
    return allocate_at_least_one(per_class * len(classes), target_class_proportions(scenario))


# --- the shifts ---------------------------------------------------------------------------
def concept_threshold(scenario: Scenario, source_x: np.ndarray) -> float:
    """Inputs with ``x0`` above this get permuted labels: the top ``concept / 2`` of the source's x0."""
    if scenario.concept == 0:
        return float("inf")
    return float(np.quantile(source_x[:, 0], 1.0 - scenario.concept / 2.0))


def relabel_for_concept(x: np.ndarray, y: np.ndarray, threshold: float, n_source_classes: int
                        ) -> np.ndarray:
    """Concept shift: the labelling rule permutes source classes (``k -> k+1 mod K``) right of the threshold."""
    moved = (x[:, 0] > threshold) & (y < n_source_classes)
    new_y = y.copy()
    new_y[moved] = (y[moved] + 1) % n_source_classes
    return new_y


def input_transform(scenario: Scenario, x: np.ndarray) -> np.ndarray:
    """The input transformation g: rotate and scale about the source centre, then translate (no noise).

    Each point keeps its label, so the labelling rule moves with the inputs: ``P_T(y | g(x)) = P_S(y | x)``.
    """
    centre = np.array(CENTRES[scenario.dataset])
    angle = np.deg2rad(scenario.rotation)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = (x - centre) @ rotation.T * scenario.scale + centre
    return moved + np.array([scenario.shift_x, scenario.shift_y])




# --- covariate shift proper: sample selection ------------------------------------------------------
def selection_centre(scenario: Scenario) -> np.ndarray:
    """The centre ``c`` the selection favours, in the source's input plane."""
    return np.array([scenario.selection_x, scenario.selection_y])


def _selection_reference(scenario: Scenario) -> np.ndarray:
    """A fixed sample of target candidates (its own stream, :data:`SELECTION_REFERENCE_SIZE` points): the
    data the acceptance is scaled to, the same whatever the splits' sizes."""
    rng = np.random.default_rng([scenario.seed, SELECTION_STREAM])
    return draw_mixture(scenario.dataset, SELECTION_REFERENCE_SIZE, target_class_proportions(scenario),
                        scenario.noise, rng)[0]


def _selection_scale(scenario: Scenario) -> tuple[float, float]:
    """``d²``, the squared distance from the centre to the nearest point of the reference sample, and the
    expected share of candidates kept (the mean acceptance over that sample): one draw of the sample for both."""
    reference = _selection_reference(scenario)
    nearest = float(((reference - selection_centre(scenario)) ** 2).sum(axis=1).min())
    return nearest, float(_acceptance(scenario, reference, nearest).mean())


def _acceptance(scenario: Scenario, x: np.ndarray, nearest: float) -> np.ndarray:
    squared = ((x - selection_centre(scenario)) ** 2).sum(axis=1)
    return np.minimum(1.0, np.exp(-0.5 * scenario.selection * (squared - nearest)))


def selection_acceptance(scenario: Scenario, x: np.ndarray) -> np.ndarray:
    """The probability that covariate shift keeps a target candidate at ``x`` (source input plane).

    ``a(x) = min(1, exp(-s (||x - c||² - d²) / 2))`` with ``s = selection``, ``c`` the centre
    (``selection_x``, ``selection_y``) and ``d`` the distance from ``c`` to the nearest point of a fixed
    reference sample of candidates: so the data nearest ``c`` is kept for sure, wherever ``c`` lies.
    ``a`` depends on ``x`` only (given the scenario), never on the label, so the kept points keep the
    source's ``P(y | x)`` exactly. ``selection=0`` keeps everything.
    """
    if scenario.selection == 0:
        return np.ones(len(x))
    return _acceptance(scenario, x, _selection_scale(scenario)[0])


def selection_keep_rate(scenario: Scenario) -> float:
    """The expected share of target candidates the selection keeps (mean acceptance over the reference sample)."""
    if scenario.selection == 0:
        return 1.0
    return _selection_scale(scenario)[1]


def _draw_selected(scenario: Scenario, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` target points under covariate shift, by rejection sampling, before relabelling and transformation.

    Rounds of candidates are drawn exactly like the target would be without selection (its class
    proportions, ``noise``) and each is kept with probability :func:`selection_acceptance`; the first ``n``
    kept are returned (the candidates of a round are shuffled). At most :data:`MAX_CANDIDATES` candidates
    are drawn.

    Raises
    ------
    InputError
        When that many candidates would not give ``n`` points.
    """
    proportions = target_class_proportions(scenario)
    nearest, rate = _selection_scale(scenario)

    def too_few(expected: float) -> InputError:
        return InputError("selection", f"keeps about {expected:.2%} of the target's candidates, so {n} target points "
                                       f"would need more than the {MAX_CANDIDATES:,} candidates drawn at most; lower "
                                       "selection, move its centre towards the data, or ask for fewer target points")

    if n > rate * MAX_CANDIDATES:
        raise too_few(rate)
    kept_x, kept_y, n_kept, n_drawn = [np.zeros((0, 2))], [np.zeros(0, dtype=np.int64)], 0, 0
    while n_kept < n and n_drawn < MAX_CANDIDATES:
        size = min(MAX_CANDIDATES - n_drawn, max(MIN_CANDIDATE_ROUND, math.ceil(1.25 * (n - n_kept) / rate)))
        x, y = draw_mixture(scenario.dataset, size, proportions, scenario.noise, rng)
        keep = rng.uniform(size=size) < _acceptance(scenario, x, nearest)
        kept_x.append(x[keep])
        kept_y.append(y[keep])
        n_kept, n_drawn = n_kept + int(keep.sum()), n_drawn + size
    if n_kept < n:
        raise too_few(n_kept / n_drawn)
    return np.concatenate(kept_x)[:n], np.concatenate(kept_y)[:n]


def _draw_to_quotas(scenario: Scenario, quotas: dict[int, int], threshold: float, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``quotas[k]`` target points of each class ``k`` counted after the concept relabelling: rounds of
    candidates drawn like the target's, relabelled, the first of each class taken until its quota is met.
    The points of class ``k`` then follow the target's ``P(X | Y = k)``; the result is shuffled. A class
    that the relabelling empties (on blobs, ``concept=1`` leaves no class 2) gets what
    :data:`MAX_CANDIDATES` candidates hold of it: none."""
    n_source_classes = SOURCE_CLASS_COUNT[scenario.dataset]
    proportions = target_class_proportions(scenario)
    need = dict(quotas)
    picked_x, picked_y, n_drawn = [np.zeros((0, 2))], [np.zeros(0, dtype=np.int64)], 0
    while any(need.values()) and n_drawn < MAX_CANDIDATES:
        # rounds grow geometrically, so a class that never comes costs a few rounds, not hundreds
        size = min(MAX_CANDIDATES - n_drawn, max(MIN_CANDIDATE_ROUND, 4 * sum(need.values()), n_drawn))
        x, y = draw_mixture(scenario.dataset, size, proportions, scenario.noise, rng)
        y = relabel_for_concept(x, y, threshold, n_source_classes)
        n_drawn += size
        for k in quotas:
            rows = np.flatnonzero(y == k)[:need[k]]
            picked_x.append(x[rows])
            picked_y.append(y[rows])
            need[k] -= len(rows)
    x, y = np.concatenate(picked_x), np.concatenate(picked_y)
    order = rng.permutation(len(y))
    return x[order], y[order]


def _lift_rotation() -> np.ndarray:
    """A fixed 3-D rotation (40° about x, then 30° about z) used by the 3-D lift."""
    a, b = np.deg2rad(40.0), np.deg2rad(30.0)
    about_x = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    about_z = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return about_z @ about_x


FEATURE_MAP_DESCRIPTIONS: dict[str, str] = {
    "identity": "x ↦ x: the target is observed in the source's features.",
    "warp": f"x ↦ x + {WARP_AMPLITUDE}·(sin({WARP_FREQUENCY}·z₁), sin({WARP_FREQUENCY}·z₀)), z = x − centre: "
            "a smooth bend of the plane. The same two features, each point keeping its label: an input "
            "transformation (like rotation), not a change of feature space.",
    "polar": "x ↦ (r, θ) about the centre: the target's features are a radius and an angle in radians "
             "(another feature space).",
    "lift3d": "x ↦ R·(z₀, z₁, ½‖z‖²) + centre: the target lives on a tilted paraboloid in 3-D; "
              "the source is zero-padded to 3 features (another feature space).",
}


def apply_feature_map(scenario: Scenario, x: np.ndarray) -> np.ndarray:
    """Observe 2-D points through the scenario's target feature map (2 or 3 output features)."""
    centre = np.array(CENTRES[scenario.dataset])
    z = x - centre
    if scenario.feature_map == "warp":
        bend = WARP_AMPLITUDE * np.sin(WARP_FREQUENCY * z[:, ::-1])
        return x + bend
    if scenario.feature_map == "polar":
        return np.column_stack([np.hypot(z[:, 0], z[:, 1]), np.arctan2(z[:, 1], z[:, 0])])
    if scenario.feature_map == "lift3d":
        lifted = np.column_stack([z, 0.5 * (z ** 2).sum(axis=1)]) @ _lift_rotation().T
        return lifted + np.array([centre[0], centre[1], 0.0])
    return x.copy()


def n_features(scenario: Scenario) -> int:
    """Number of input features of both domains (3 with the 3-D lift, else 2)."""
    return 3 if scenario.feature_map == "lift3d" else 2


def to_target_space(scenario: Scenario, x: np.ndarray) -> np.ndarray:
    """Where clean 2-D source-space points land in the target's features (no noise)."""
    return apply_feature_map(scenario, input_transform(scenario, x))


def _pad(x: np.ndarray, width: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, width - x.shape[1])))


# --- the splits ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingInputs:
    """What a training loss may see: labelled source, the UNLABELLED target pool, and few target labels.

    The target pool's labels are not here by construction; trainers take this object only.
    ``image_shape`` is ``(C, H, W)`` when the rows are flattened images, else ``None``.
    """

    source_x: np.ndarray
    source_y: np.ndarray
    target_pool_x: np.ndarray
    target_labelled_x: np.ndarray
    target_labelled_y: np.ndarray
    image_shape: tuple[int, int, int] | None = None


@dataclass(frozen=True, eq=False)
class DomainData:
    """The generated domains, with the splits kept strictly apart.

    Attributes
    ----------
    source_x, source_y : labelled source sample.
    target_pool_x : unlabelled target pool (for adaptation).
    target_labelled_x, target_labelled_y : few-shot labelled target set.
    target_test_x, target_test_y : target test set, for reporting only.
    target_pool_y_oracle : the pool's true labels, for reporting and export only; never
        part of :meth:`training_inputs`.
    concept_threshold : x0 (before the input transformation) right of which labels moved; for
        digits, the ink (mean clean intensity) above which they moved.
    """

    scenario: Scenario
    source_x: np.ndarray
    source_y: np.ndarray
    target_pool_x: np.ndarray
    target_labelled_x: np.ndarray
    target_labelled_y: np.ndarray
    target_test_x: np.ndarray
    target_test_y: np.ndarray
    target_pool_y_oracle: np.ndarray
    concept_threshold: float

    @property
    def source_classes(self) -> tuple[int, ...]:
        return source_classes(self.scenario)

    @property
    def target_classes(self) -> tuple[int, ...]:
        return target_classes(self.scenario)

    @property
    def n_features(self) -> int:
        return self.source_x.shape[1]

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """``(C, H, W)`` of an image dataset's rows (flattened images), ``None`` for 2-D points."""
        return images.IMAGE_SHAPE if self.scenario.is_image else None

    @property
    def target_x(self) -> np.ndarray:
        """Every target point: pool, labelled and test, in that order."""
        return np.concatenate([self.target_pool_x, self.target_labelled_x, self.target_test_x])

    @property
    def target_y_oracle(self) -> np.ndarray:
        """True labels of :attr:`target_x` (needs the pool's labels: reporting only)."""
        return np.concatenate([self.target_pool_y_oracle, self.target_labelled_y, self.target_test_y])

    def training_inputs(self) -> TrainingInputs:
        """The only view of the data that training code receives (no pool labels)."""
        return TrainingInputs(self.source_x, self.source_y, self.target_pool_x,
                              self.target_labelled_x, self.target_labelled_y, self.image_shape)

    def to_frame(self) -> pd.DataFrame:
        """All points as a table: ``x0, x1, ...``, ``y``, ``domain`` and ``split``."""
        blocks = [
            (self.source_x, self.source_y, "source", "train"),
            (self.target_pool_x, self.target_pool_y_oracle, "target", "pool"),
            (self.target_labelled_x, self.target_labelled_y, "target", "labelled"),
            (self.target_test_x, self.target_test_y, "target", "test"),
        ]
        frames = []
        for x, y, domain, split in blocks:
            frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
            frame["y"] = y
            frame["domain"] = domain
            frame["split"] = split
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def _observe(scenario: Scenario, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The input transformation, ``target_noise`` and the feature map, applied to target inputs."""
    x = input_transform(scenario, x) + scenario.target_noise * rng.standard_normal(x.shape)
    return _pad(apply_feature_map(scenario, x), n_features(scenario))


def _draw_target(scenario: Scenario, n: int, stream: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` i.i.d. target points (their classes drawn from the target's priors before the concept relabelling)."""
    rng = np.random.default_rng([scenario.seed, stream])
    x, y = draw_mixture(scenario.dataset, n, target_class_proportions(scenario), scenario.noise, rng)
    y = relabel_for_concept(x, y, threshold, SOURCE_CLASS_COUNT[scenario.dataset])
    return _observe(scenario, x, rng), y


def _draw_target_selected(scenario: Scenario, n: int, stream: int, threshold: float
                          ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` target points under covariate shift (``selection > 0``): their classes follow what it keeps."""
    rng = np.random.default_rng([scenario.seed, stream])
    x, y = _draw_selected(scenario, n, rng)
    y = relabel_for_concept(x, y, threshold, SOURCE_CLASS_COUNT[scenario.dataset])
    return _observe(scenario, x, rng), y


def _draw_labelled(scenario: Scenario, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The labelled target split: :func:`labelled_counts` per class, counted after the concept relabelling;
    under covariate shift, ``labels_per_class × classes`` points drawn like the rest of the target."""
    if scenario.selection > 0:
        total = scenario.labels_per_class * len(target_classes(scenario))
        return _draw_target_selected(scenario, total, LABELLED_STREAM, threshold)
    rng = np.random.default_rng([scenario.seed, LABELLED_STREAM])
    x, y = _draw_to_quotas(scenario, labelled_counts(scenario), threshold, rng)
    return _observe(scenario, x, rng), y


def generate(scenario: Scenario) -> DomainData:
    """Generate the source and the shifted target, split into pool, labelled and test sets.

    Raises
    ------
    InputError
        When the covariate shift keeps too few candidates for the asked sizes (:data:`MAX_CANDIDATES`).
    """
    if scenario.is_image:
        return _generate_digits(scenario)
    rng = np.random.default_rng([scenario.seed, SOURCE_STREAM])
    source_x, source_y = draw_mixture(scenario.dataset, scenario.n_source, source_class_proportions(scenario),
                                      scenario.noise, rng)
    threshold = concept_threshold(scenario, source_x)

    if scenario.selection > 0:
        pool_x, pool_y = _draw_target_selected(scenario, scenario.n_target, POOL_STREAM, threshold)
        test_x, test_y = _draw_target_selected(scenario, scenario.n_test, TEST_STREAM, threshold)
    else:
        pool_x, pool_y = _draw_target(scenario, scenario.n_target, POOL_STREAM, threshold)
        test_x, test_y = _draw_target(scenario, scenario.n_test, TEST_STREAM, threshold)
    labelled_x, labelled_y = _draw_labelled(scenario, threshold)
    return DomainData(
        scenario=scenario,
        source_x=_pad(source_x, n_features(scenario)),
        source_y=source_y,
        target_pool_x=pool_x,
        target_labelled_x=labelled_x,
        target_labelled_y=labelled_y,
        target_test_x=test_x,
        target_test_y=test_y,
        target_pool_y_oracle=pool_y,
        concept_threshold=threshold,
    )


# --- digits: a finite set of images, so the splits are capped ---------------------------------
DIGIT_TEST_PER_CLASS = 35  # the last 35 images of each class of the target half are the test set
DIGITS_STREAM = 5


def capped_counts(requested: int, proportions: dict[int, float], available: dict[int, int]) -> dict[int, int]:
    """Counts per class in ``proportions`` that sum to at most ``requested`` and never exceed ``available``:
    the largest total whose proportional split fits every class, so a prior shift keeps its proportions."""
    fits = min((available[k] / p for k, p in proportions.items() if p > 0), default=0.0)
    counts = allocate(int(min(requested, np.floor(fits + 1e-9))), proportions)
    return {k: min(n, available[k]) for k, n in counts.items()}


def _digit_split(members: dict[int, np.ndarray], test_counts: dict[int, int], pool_counts: dict[int, int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per class (a shuffled target half): test from the back, pool just after the labelled reservoir (the
    first :data:`~core.scenario.IMAGE_LABELS_PER_CLASS`); so the test set does not depend on the label or pool
    sizes."""
    take = lambda rows: np.concatenate(rows) if rows else np.zeros(0, dtype=int)  # noqa: E731
    test_rows = take([m[len(m) - test_counts.get(k, 0):] for k, m in members.items()])
    pool_rows = take([m[IMAGE_LABELS_PER_CLASS:IMAGE_LABELS_PER_CLASS + pool_counts.get(k, 0)]
                      for k, m in members.items()])
    return test_rows, pool_rows


def _digit_labelled_rows(members: dict[int, np.ndarray], quotas: dict[int, int],
                         final_labels: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray:
    """The labelled rows, from the front of each class's reservoir: ``quotas[k]`` of class ``k``, counted by
    ``final_labels`` (the labels after the concept shift) when given; a class takes at most what the
    reservoir holds of it."""
    if final_labels is None:
        rows = [m[:min(quotas.get(k, 0), IMAGE_LABELS_PER_CLASS)] for k, m in members.items()]
    else:
        reservoir = np.concatenate([m[:IMAGE_LABELS_PER_CLASS] for m in members.values()])
        labels = final_labels(reservoir)
        rows = [reservoir[labels == k][:quotas[k]] for k in quotas]
    return np.concatenate(rows) if rows else np.zeros(0, dtype=int)


def _generate_digits(scenario: Scenario) -> DomainData:
    """Digits: the source half as it is, the target half shifted by torchvision, both with pixel ``noise``.

    Each class of the target half (about 90 images) is shuffled once and cut into a labelled reservoir
    (the first :data:`~core.scenario.IMAGE_LABELS_PER_CLASS`), the test set (the last
    :data:`DIGIT_TEST_PER_CLASS`) and the pool (the rest); ``n_source``, ``n_target`` and ``n_test``
    are upper limits, and a prior shift thins the classes to its proportions. The labelled images come from
    the reservoirs' fronts, :func:`labelled_counts` of each class (counted after the concept relabelling),
    at most what a reservoir holds.
    """
    all_images, all_labels = images.load_digit_images()
    labels = all_labels.numpy()
    source_half, target_half = images.source_target_split(all_labels, scenario.seed)
    # one generator per half, so that the source's size never changes the target's draws
    source_rng, target_rng = (np.random.default_rng([scenario.seed, DIGITS_STREAM, half]) for half in (0, 1))

    classes = source_classes(scenario)
    source_members = {k: source_rng.permutation(source_half[labels[source_half] == k]) for k in classes}
    source_counts = capped_counts(scenario.n_source, source_class_proportions(scenario),
                                  {k: len(m) for k, m in source_members.items()})
    source_rows = source_rng.permutation(np.concatenate([source_members[k][:n] for k, n in source_counts.items()]))

    proportions = target_class_proportions(scenario)
    members = {k: target_rng.permutation(target_half[labels[target_half] == k]) for k in proportions}
    test_counts = capped_counts(scenario.n_test, proportions, {k: DIGIT_TEST_PER_CLASS for k in proportions})
    room = {k: len(m) - IMAGE_LABELS_PER_CLASS - DIGIT_TEST_PER_CLASS for k, m in members.items()}
    pool_counts = capped_counts(scenario.n_target, proportions, room)
    test_rows, pool_rows = _digit_split(members, test_counts, pool_counts)

    def noisy(rows: np.ndarray, stream: int):
        clean = images.to_network_images(all_images[rows])
        return clean, images.add_noise(clean, scenario.noise, seed=scenario.seed * 1_000 + stream)

    source_clean, source_x = noisy(source_rows, SOURCE_STREAM)
    threshold = concept_threshold(scenario, images.ink(source_clean)[:, None])
    n_source_classes = len(classes)
    shift = images.ImageShift(rotation=scenario.rotation, scale=scenario.scale, shift_x=scenario.shift_x,
                              shift_y=scenario.shift_y, blur=scenario.blur, invert=scenario.invert,
                              background=scenario.background, noise=scenario.target_noise)

    def final_labels(rows: np.ndarray) -> np.ndarray:
        clean = images.to_network_images(all_images[rows])
        return relabel_for_concept(images.ink(clean)[:, None], labels[rows], threshold, n_source_classes)

    def target(rows: np.ndarray, stream: int) -> tuple[np.ndarray, np.ndarray]:
        clean, x = noisy(rows, stream)
        y = relabel_for_concept(images.ink(clean)[:, None], labels[rows], threshold, n_source_classes)
        shifted = images.shift_images(x, shift, seed=scenario.seed * 1_000 + stream)
        return images.flatten(shifted), y

    labelled_rows = _digit_labelled_rows(members, labelled_counts(scenario),
                                         final_labels if scenario.concept > 0 else None)

    pool_x, pool_y = target(pool_rows, POOL_STREAM)
    labelled_x, labelled_y = target(labelled_rows, LABELLED_STREAM)
    test_x, test_y = target(test_rows, TEST_STREAM)
    return DomainData(scenario=scenario, source_x=images.flatten(source_x), source_y=labels[source_rows],
                      target_pool_x=pool_x, target_labelled_x=labelled_x, target_labelled_y=labelled_y,
                      target_test_x=test_x, target_test_y=test_y, target_pool_y_oracle=pool_y,
                      concept_threshold=threshold)


# --- the plane the 2-D domains are drawn on -------------------------------------------------------------


def _fixed_range(values: np.ndarray, reference: Sequence[float]) -> list[float]:
    """An axis range covering ``reference`` plus margin, widened in whole units only when points leave it."""
    low, high = reference
    if values.size:
        low, high = min(low, float(values.min()) - 0.25), max(high, float(values.max()) + 0.25)
    return [math.floor(low), math.ceil(high)]


# The source's extent per dataset (clean structure plus margin): the default axes.
REFERENCE_EXTENT: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "moons": ((-1.5, 2.5), (-1.0, 1.5)),
    "blobs": ((-2.5, 2.5), (-2.0, 2.5)),
    "circles": ((-1.5, 1.5), (-1.5, 1.5)),
    "xor": ((-1.5, 1.5), (-1.5, 1.5)),
    "spirals": ((-2.0, 2.0), (-2.0, 2.0)),
}


def subsample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of ``min(n, size)`` of ``n`` rows, drawn without replacement from ``seed``."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def plot_grid(data: DomainData, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Axes ``xs``, ``ys`` of a ``resolution`` × ``resolution`` grid over :func:`plane_ranges` and its points
    ``[len(ys) * len(xs), 2]`` (row by row).

    Raises
    ------
    InputError
        When the inputs are not 2-D (``feature_map=lift3d``).
    """
    if data.n_features != 2:
        raise InputError("feature_map", "decision boundaries are drawn only for 2-D inputs")
    x_range, y_range = plane_ranges(data)
    xs, ys = np.linspace(*x_range, resolution), np.linspace(*y_range, resolution)
    return xs, ys, np.column_stack([np.tile(xs, len(ys)), np.repeat(ys, len(xs))])


def turning_extent(dataset: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """The square about the rotation centre with half the longer side of the reference extent: where the
    source's structure lies at any rotation."""
    (x_low, x_high), (y_low, y_high) = REFERENCE_EXTENT[dataset]
    (cx, cy), radius = CENTRES[dataset], max(x_high - x_low, y_high - y_low) / 2
    return (cx - radius, cx + radius), (cy - radius, cy + radius)


def plane_ranges(data: DomainData) -> tuple[list[float], list[float]]:
    """Fixed x0 and x1 axis ranges of a 2-D scenario: the dataset's reference extent (with a rotation, the
    :func:`turning_extent`, so the axes hold still while the rotation moves), widened in whole units only when
    points leave it. Every plane drawn for a scenario uses them."""
    everything = np.concatenate([data.source_x, data.target_pool_x, data.target_labelled_x, data.target_test_x])
    dataset = data.scenario.dataset
    x_ref, y_ref = turning_extent(dataset) if data.scenario.rotation % 360 else REFERENCE_EXTENT[dataset]
    return _fixed_range(everything[:, 0], x_ref), _fixed_range(everything[:, 1], y_ref)
