"""Each kind of shift changes what its name says, and keeps what it says it keeps, on generated data.

The claims (the sidebar's groups, the Domain shift page's text, the README):

- an input transformation ``x -> g(x)`` (rotation, ...) moves P(X) *and* the labelling rule, with
  ``P_T(y | g(x)) = P_S(y | x)``: on the inputs both domains share, the source's rule mislabels target
  points, and undoing g removes that;
- covariate shift proper (``selection``) moves P(X) and keeps P(y | x) exactly the source's;
- prior shift changes P(Y) and keeps P(X | Y);
- concept shift changes P(Y | X) and keeps P(X).

The source's rule is measured two ways: the exact Bayes posterior of the moons generator with its
Gaussian noise (``_moons_posterior``: no estimate, so the comparison does not depend on the noise), and a
15-nearest-neighbour classifier fitted on the source, on the target points that lie within 0.05 of a
source point (the shared support). Figures measured at the tests' sizes (5000 source points, 2500 + 2500
target points, seed 0; ``pytest -s tests/test_taxonomy.py`` prints those the tests use):

==========================  ====================  =====================  ===========================================
scenario (moons)            Bayes gap, noise 0.1  Bayes gap, noise 0.25  kNN disagreement, shared support, noise 0.1
==========================  ====================  =====================  ===========================================
no shift                    −0.0001               −0.0048                0.0004 (99% of the target shared)
selection=3, c = (1.5, 0)   +0.0001               +0.0005                0.0004 (99%)
selection=3, c = (−1, 0.5)  +0.0003               +0.0032                0.0004 (99%)
rotation=35                 −0.073                −0.056                 0.080 (57%)
rotation=70                 −0.64                 −0.45                  0.45 (38%)
==========================  ====================  =====================  ===========================================

The Bayes gap is the agreement of the source's Bayes rule with the target labels minus the agreement
expected if the target were labelled by the source's P(y | x): 0 (within ±0.01) exactly when it is.
"""

import hashlib

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from core.data import domains
from core.data.domains import generate, target_class_proportions
from core.errors import InputError
from core.figures import domain_scatter
from core.metrics.divergence import median_bandwidth, mmd2, per_class_mmd2
from core.scenario import Scenario
from tests.sampling import assert_multinomial_shares

pytestmark = pytest.mark.unit

BIG = dict(n_source=5000, n_target=2500, n_test=2500)
SHARED_SUPPORT_RADIUS = 0.05


def _moons_posterior(x: np.ndarray, noise: float, grid: int = 1000) -> np.ndarray:
    """The source's exact P(y | x) for the moons with Gaussian ``noise`` (balanced classes): each class is
    its arc (t uniform on [0, π]) blurred by the noise, integrated over a fine grid of t."""
    t = (np.arange(grid) + 0.5) / grid * np.pi
    arcs = (np.column_stack([np.cos(t), np.sin(t)]), np.column_stack([1 - np.cos(t), 0.5 - np.sin(t)]))
    likelihood = np.stack([np.exp(-((x[:, None, :] - arc[None]) ** 2).sum(-1) / (2 * noise ** 2)).mean(1)
                           for arc in arcs], axis=1)
    return likelihood / likelihood.sum(axis=1, keepdims=True)


def _target(data):
    return (np.concatenate([data.target_pool_x, data.target_test_x]),
            np.concatenate([data.target_pool_y_oracle, data.target_test_y]))


def bayes_gap(data, noise: float) -> float:
    """Agreement of the source's Bayes rule with the target's labels, minus what it would be if the target's
    labels were drawn from the source's P(y | x) at the same inputs (the mean of max_k P_S(k | x))."""
    x, y = _target(data)
    posterior = _moons_posterior(x, noise)
    return float(np.mean(posterior.argmax(1) == y) - posterior.max(1).mean())


def knn_disagreement_on_shared_support(data, target_x=None) -> tuple[float, float]:
    """Share of target points within :data:`SHARED_SUPPORT_RADIUS` of a source point whose label a
    15-nearest-neighbour classifier fitted on the source gets wrong, and the share of such points."""
    x, y = _target(data)
    x = x if target_x is None else target_x
    distance = NearestNeighbors(n_neighbors=1).fit(data.source_x).kneighbors(x)[0][:, 0]
    shared = distance <= SHARED_SUPPORT_RADIUS
    rule = KNeighborsClassifier(n_neighbors=15).fit(data.source_x, data.source_y)
    return float(np.mean(rule.predict(x[shared]) != y[shared])), float(shared.mean())


# --- covariate shift proper: P(X) moves, P(y | x) stays the source's ------------------------------------
@pytest.mark.parametrize("centre", [(1.5, 0.0), (-1.0, 0.5)])
def test_selection_keeps_the_source_labelling_rule_exactly(centre):
    s = Scenario(selection=3.0, selection_x=centre[0], selection_y=centre[1], noise=0.25, **BIG)
    gap = bayes_gap(generate(s), 0.25)
    print(f"selection at {centre}: Bayes gap {gap:+.4f}")
    assert abs(gap) < 0.012
    # without noise each class is its own arc: the source's rule is exact, and every target label agrees
    x, y = _target(generate(s.replace(noise=0.0)))
    assert np.array_equal(_moons_posterior(x, 0.01).argmax(1), y)


def test_selection_moves_the_inputs_towards_its_centre_and_keeps_only_what_the_generator_draws():
    neutral = generate(Scenario(**BIG))
    s = Scenario(selection=3.0, selection_x=1.5, **BIG)
    selected = generate(s)
    centre = domains.selection_centre(s)
    near = lambda d: np.linalg.norm(_target(d)[0] - centre, axis=1).mean()  # noqa: E731
    assert near(selected) < 0.75 * near(neutral)
    sigma = median_bandwidth(neutral.source_x, neutral.target_pool_x)
    assert mmd2(selected.source_x, selected.target_pool_x, sigma=sigma) > 20 * mmd2(
        neutral.source_x, neutral.target_pool_x, sigma=sigma)
    disagreement, shared = knn_disagreement_on_shared_support(generate(s.replace(noise=0.1)))
    print(f"selection: kNN disagreement on the shared support {disagreement:.4f} ({shared:.0%} shared)")
    assert disagreement < 0.01 and shared > 0.9
    assert 0 < domains.selection_keep_rate(s) < 1


def test_selection_off_leaves_the_target_alone_whatever_the_centre():
    a, b = generate(Scenario()), generate(Scenario(selection_x=2.0, selection_y=-1.0))
    for name in ("target_pool_x", "target_labelled_x", "target_test_x", "target_pool_y_oracle"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert Scenario(selection_x=2.0).is_neutral and not Scenario(selection=0.1).is_neutral


def test_selection_sizes_streams_and_bounded_work():
    s = Scenario(dataset="blobs", selection=2.0, selection_x=1.0, n_target=333, n_test=400, labels_per_class=4)
    d = generate(s)
    assert len(d.target_pool_x) == 333 and len(d.target_test_x) == 400 and len(d.target_labelled_x) == 12
    other = generate(s.replace(n_target=1200, n_source=80))
    np.testing.assert_array_equal(d.target_test_x, other.target_test_x)  # one stream per split, as without selection
    np.testing.assert_array_equal(d.target_labelled_y, other.target_labelled_y)
    far = Scenario(selection=10.0, selection_x=3.0, selection_y=3.0, n_target=5000)
    with pytest.raises(InputError, match=r"^selection: keeps about .* candidates") as caught:
        generate(far)
    assert "\n" not in str(caught.value)
    assert generate(Scenario(selection=10.0, selection_x=3.0, selection_y=3.0, n_target=20, n_test=100)) is not None


@pytest.mark.parametrize("query", ["selection=2&selection_x=1", "selection=2&rotation=40&feature_map=polar",
                                   "selection=2&feature_map=lift3d"])
def test_the_scatter_marks_the_selection_centre_where_the_target_sees_it(query):
    s = Scenario.from_query(query)
    figure = domain_scatter(generate(s))
    centre = [t for t in figure.data if t.legendgroup == "selection"]
    assert len(centre) == 2 and centre[0].name.startswith("selection centre (")
    mark = domains.to_target_space(s, domains.selection_centre(s)[None, :])[0]
    np.testing.assert_allclose([centre[1].x[0], centre[1].y[0]], mark[:2])
    assert not [t for t in domain_scatter(generate(Scenario())).data if t.legendgroup == "selection"]


def test_selection_applies_to_the_2d_datasets_only():
    with pytest.raises(InputError, match="^selection: applies to the 2-D datasets only"):
        Scenario(dataset="digits", selection=1.0)
    assert Scenario(selection=2.0, selection_x=1.0).with_dataset("digits").selection == 0.0


# --- input transformations: the labelling rule moves with the inputs -------------------------------------
@pytest.mark.parametrize("degrees, least", [(35.0, 0.05), (70.0, 0.3)])
def test_rotation_moves_the_labelling_rule_with_the_inputs(degrees, least):
    neutral = generate(Scenario(**BIG))
    rotated = generate(Scenario(rotation=degrees, **BIG))
    baseline, _ = knn_disagreement_on_shared_support(neutral)
    disagreement, shared = knn_disagreement_on_shared_support(rotated)
    print(f"rotation {degrees}: kNN disagreement on the shared support {disagreement:.4f} ({shared:.0%} shared), "
          f"no shift {baseline:.4f}")
    assert disagreement > least > 10 * baseline
    assert bayes_gap(rotated, 0.1) < -least  # the exact source rule says the same
    # P_T(y | g(x)) = P_S(y | x): undo g and the source's rule labels every target point as before
    centre = np.array(domains.CENTRES["moons"])
    angle = np.deg2rad(-degrees)
    back = (_target(rotated)[0] - centre) @ np.array([[np.cos(angle), -np.sin(angle)],
                                                      [np.sin(angle), np.cos(angle)]]).T + centre
    undone, _ = knn_disagreement_on_shared_support(rotated, target_x=back)
    assert undone == pytest.approx(baseline, abs=0.002)


def test_warp_is_an_input_transformation_polar_and_lift3d_change_the_features():
    neutral, warped = generate(Scenario()), generate(Scenario(feature_map="warp"))
    assert warped.n_features == 2
    np.testing.assert_array_equal(warped.target_pool_y_oracle, neutral.target_pool_y_oracle)
    np.testing.assert_allclose(warped.target_pool_x, domains.apply_feature_map(warped.scenario, neutral.target_pool_x))
    assert "input transformation" in domains.FEATURE_MAP_DESCRIPTIONS["warp"]
    assert generate(Scenario(feature_map="lift3d")).n_features == 3
    polar = generate(Scenario(feature_map="polar")).target_pool_x
    assert polar[:, 0].min() >= 0 and np.abs(polar[:, 1]).max() <= np.pi  # a radius and an angle


# --- prior shift: P(Y) moves, P(X | Y) stays ---------------------------------------------------------------
def test_prior_shift_keeps_each_class_and_changes_the_proportions():
    sizes = dict(n_source=2000, n_target=2000, n_test=100)
    neutral, shifted = generate(Scenario(**sizes)), generate(Scenario(prior=1.0, **sizes))
    rotated = generate(Scenario(rotation=35, **sizes))
    sigma = median_bandwidth(neutral.source_x, neutral.target_pool_x)
    per_class = lambda d: per_class_mmd2(d.source_x, d.source_y, d.target_pool_x, d.target_pool_y_oracle,  # noqa: E731
                                         sigma=sigma)
    prior_mmd, rotated_mmd = per_class(shifted), per_class(rotated)
    print(f"per-class MMD²: prior shift {prior_mmd}, rotation 35° {rotated_mmd}, no shift {per_class(neutral)}")
    assert max(prior_mmd.values()) < 0.005 < 0.05 < min(rotated_mmd.values())
    shares = np.bincount(shifted.target_pool_y_oracle) / len(shifted.target_pool_y_oracle)
    assert_multinomial_shares(shifted.target_pool_y_oracle, target_class_proportions(shifted.scenario))
    assert shares[0] > 0.9
    # so the marginal P(X) moves, although no class did
    assert mmd2(shifted.source_x, shifted.target_pool_x, sigma=sigma) > 50 * mmd2(
        neutral.source_x, neutral.target_pool_x, sigma=sigma)


# --- concept shift: P(Y | X) moves, P(X) stays ------------------------------------------------------------
def test_concept_shift_keeps_the_inputs_and_changes_their_labels():
    neutral, shifted = generate(Scenario(**BIG)), generate(Scenario(concept=1.0, **BIG))
    for name in ("source_x", "target_pool_x", "target_test_x"):
        np.testing.assert_array_equal(getattr(neutral, name), getattr(shifted, name))  # P(X) exactly the same
    disagreement, shared = knn_disagreement_on_shared_support(shifted)
    assert disagreement > 0.3 and shared > 0.9


# --- the defaults did not move ------------------------------------------------------------------------------
FIELDS = ("source_x", "source_y", "target_pool_x", "target_pool_y_oracle", "target_labelled_x", "target_labelled_y",
          "target_test_x", "target_test_y")
# Digests of the generated points (commit after 11636cd: class counts drawn at random, so that two samples of
# one distribution are exchangeable and the MMD permutation test holds its level), rounded to 9 decimals. A
# deliberate change to the generators updates this table; anything else that moves a digest is a regression.
DIGESTS = {
    "": "1ab4b525ee65a71d",
    "rotation=35": "ccd273c4944e71b7",
    "rotation=-120&scale=1.5&shift_x=0.7&shift_y=-0.4": "7f020ce9c7a2d2b5",
    "target_noise=0.3": "49c266fa2e4f5d6f",
    "dataset=blobs&label_space=new_class": "81d228f35d6d72d8",
    "dataset=blobs&label_space=missing_class": "c70970557a589fce",
    "feature_map=warp&rotation=20": "d87f678b1f903a2f",
    "feature_map=polar": "ada68e5df81fcf93",
    "feature_map=lift3d": "479f4e978d1fd451",
    "dataset=spirals&seed=7": "2fcb3ecd60468d72",
    "dataset=circles&noise=0.3": "a0de868086d5b863",
    "dataset=xor&n_source=77&n_target=33": "1f8b88371fa861c5",
    "labels_per_class=17&seed=3": "828a2fe720ae88f6",
    "dataset=blobs&prior=0.5": "db229d5639ed131a",
    "prior=1": "4d282dcb669e0217",
    "concept=0.6": "b4150a7aa2e16ece",
    "concept=1&prior=0.7": "1c276a116fb03f58",
    "selection=3&selection_x=1.5": "c2eed0c267e65dfc",
}


def _digest(data, fields) -> str:
    h = hashlib.sha256()
    for name in fields:
        a = getattr(data, name)
        h.update(np.ascontiguousarray(np.round(a, 9) if a.dtype.kind == "f" else a.astype(np.int64)).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("query", list(DIGESTS))
def test_generated_points_are_those_of_before(query):
    assert _digest(generate(Scenario.from_query(query)), FIELDS) == DIGESTS[query]
