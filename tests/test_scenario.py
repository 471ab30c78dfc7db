"""The Scenario: defaults, validation, and the query-string round trip."""

import dataclasses

import pytest

from core.errors import InputError
from core.knobs import MAX_LINK_KEYS
from core.scenario import (
    CONCEPT_SHIFT_GROUP,
    COVARIATE_SHIFT_GROUP,
    FEATURE_SPACE_GROUP,
    INPUT_TRANSFORMATION_GROUP,
    KNOBS,
    KNOBS_BY_NAME,
    OPENING,
    PRIOR_SHIFT_GROUP,
    Scenario,
)

pytestmark = pytest.mark.unit


def test_knob_table_matches_dataclass_fields_and_defaults():
    fields = {f.name: f.default for f in dataclasses.fields(Scenario)}
    assert list(fields) == [k.name for k in KNOBS]
    assert fields == {k.name: k.default for k in KNOBS}


def test_fixed_key_names_exist():
    for key in ["dataset", "n_source", "n_target", "noise", "rotation", "shift_x", "shift_y", "scale",
                "target_noise", "prior", "concept", "labels_per_class", "seed"]:
        assert key in KNOBS_BY_NAME


def test_defaults_are_neutral_and_have_empty_query():
    assert Scenario().is_neutral
    assert Scenario().to_query() == ""
    assert not Scenario(rotation=1).is_neutral


def test_knobs_are_grouped_by_the_kind_of_shift_they_make():
    group = {k.name: k.group for k in KNOBS}
    for name in ("rotation", "shift_x", "shift_y", "scale", "target_noise", "invert", "blur", "background"):
        assert group[name] == INPUT_TRANSFORMATION_GROUP  # x -> g(x): not covariate shift
    for name in ("selection", "selection_x", "selection_y"):
        assert group[name] == COVARIATE_SHIFT_GROUP and KNOBS_BY_NAME[name].applies_to == "points"
    assert (group["prior"], group["concept"], group["feature_map"]) == (PRIOR_SHIFT_GROUP, CONCEPT_SHIFT_GROUP,
                                                                        FEATURE_SPACE_GROUP)
    assert "P(X)" not in INPUT_TRANSFORMATION_GROUP and "Covariate" in COVARIATE_SHIFT_GROUP
    assert "warp" in KNOBS_BY_NAME["feature_map"].help and "input transformation" in KNOBS_BY_NAME["feature_map"].help
    assert "class proportions" in KNOBS_BY_NAME["labels_per_class"].help
    # a group's knobs sit together, so the sidebar draws each group once
    names = [k.group for k in KNOBS]
    assert len({g for g in names}) == len([g for i, g in enumerate(names) if i == 0 or names[i - 1] != g])


def test_old_links_still_parse_to_the_same_knobs():
    s = Scenario.from_query("rotation=35&shift_x=0.5&scale=1.2&target_noise=0.1&feature_map=warp&prior=0.5")
    assert (s.rotation, s.shift_x, s.scale, s.feature_map, s.selection) == (35.0, 0.5, 1.2, "warp", 0.0)


def test_frozen_and_hashable():
    a, b = Scenario(rotation=35), Scenario.from_query("rotation=35")
    assert a == b and hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.rotation = 3  # type: ignore[misc]


@pytest.mark.parametrize("scenario", [
    Scenario(),
    Scenario(dataset="spirals", rotation=-37.0, shift_x=0.3, scale=2.35, prior=0.15, seed=7),
    Scenario(label_space="new_class", feature_map="lift3d", labels_per_class=0, noise=0.0),
    Scenario(n_source=20, n_target=5000, n_test=100, target_noise=1.0, concept=1.0),
    Scenario(selection=2.5, selection_x=-1.2, selection_y=0.4, prior=0.3),
])
def test_query_round_trip_is_exact(scenario):
    assert Scenario.from_query(scenario.to_query()) == scenario
    assert Scenario.from_query("?" + scenario.to_query()) == scenario
    assert Scenario.from_args(scenario.to_query().split("&") if scenario.to_query() else []) == scenario
    assert Scenario.from_mapping(scenario.to_dict()) == scenario
    assert Scenario.from_mapping(scenario.to_params()) == scenario
    assert Scenario.from_link(scenario.link_params()) == (scenario, [])  # the URL's parameters, as the pages set them
    assert Scenario.from_args(scenario.link_query().split("&")) == scenario  # a link's keys on the command line


def test_a_link_without_scenario_keys_opens_the_shifted_opening_scene_and_no_shift_says_so():
    assert not OPENING.is_neutral and OPENING.rotation == 35
    assert Scenario.from_link({}) == (OPENING, [])
    assert Scenario.from_link({"dataset": "blobs"})[0] == OPENING.replace(dataset="blobs")
    assert Scenario().link_query() == "rotation=0" and Scenario.from_link({"rotation": "0"})[0].is_neutral
    scenario, problems = Scenario.from_link({"rotation": "abc", "scale": "2"})
    assert scenario == OPENING.replace(scale=2)
    assert problems == ["rotation: expected a number in [-180, 180], got 'abc'"]


def test_slider_float_noise_is_rounded_to_the_step():
    assert Scenario(prior=0.15000000000000002).prior == 0.15
    assert Scenario(rotation=-0.0).to_query() == ""


def test_query_is_compact_and_url_decoding_works():
    assert Scenario(rotation=35).to_query() == "rotation=35"
    assert Scenario(scale=1.25).to_query() == "scale=1.25"
    assert Scenario.from_query("dataset=%20Moons%20&rotation=3%2E5").rotation == 3.5


@pytest.mark.parametrize("query, key", [
    ("rotation=abc", "rotation"),
    ("rotation=500", "rotation"),
    ("rotation=nan", "rotation"),
    ("rotation=inf", "rotation"),
    ("dataset=nope", "dataset"),
    ("n_source=-5", "n_source"),
    ("n_source=10.5", "n_source"),
    ("seed=1e12", "seed"),
    ("wobble=1", "wobble"),
    ("rotation", "rotation"),
    ("rotation=1&rotation=2", "rotation"),
])
def test_bad_input_names_the_key_on_one_line(query, key):
    with pytest.raises(InputError) as caught:
        Scenario.from_query(query)
    message = str(caught.value)
    assert message.startswith(key + ":") and "\n" not in message
    assert caught.value.field == key


def test_error_message_says_what_is_allowed():
    with pytest.raises(InputError, match=r"rotation: expected a number in \[-180, 180\], got 'abc'"):
        Scenario.from_query("rotation=abc")
    with pytest.raises(InputError, match="one of moons, blobs, circles, xor, spirals"):
        Scenario(dataset="nope")
    with pytest.raises(InputError, match="allowed keys: dataset, n_source"):
        Scenario.from_query("foo=1")


def test_booleans_are_not_numbers():
    with pytest.raises(InputError):
        Scenario(rotation=True)


def test_replace_validates():
    assert Scenario().replace(rotation=20).rotation == 20
    with pytest.raises(InputError):
        Scenario().replace(scale=0)


def test_a_repeated_link_key_keeps_its_last_value_and_says_so():
    scenario, problems = Scenario.from_link({"rotation": ["10", "20"], "noise": ["0.2", "0.2"]})
    assert scenario.rotation == 20 and scenario.noise == 0.2
    assert problems == ["rotation: given 2 times; the last value, '20', is kept"]  # the same value twice is no news


def test_a_link_with_thousands_of_keys_reads_a_bounded_number_and_says_so():
    params = {"rotation": "15", **{f"junk{i}": "1" for i in range(2000)}}
    scenario, problems = Scenario.from_link(params)
    assert scenario.rotation == 15
    assert problems[0].startswith("junk0, junk1, junk2 and 96 more: unknown keys; allowed keys: dataset")
    assert problems[1] == f"{2001 - MAX_LINK_KEYS} keys beyond the first {MAX_LINK_KEYS}: ignored unread"
    assert len(problems) == 2  # two lines, not a hundred
