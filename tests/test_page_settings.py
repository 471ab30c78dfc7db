"""Each page's settings are one typed definition (a KnobSet): the same knobs validate the page's form,
travel in its URL beside the scenario, become the command line's flags and fill the JSON of a run."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from core.cli.main import _build_parser
from core.errors import InputError
from core.knobs import Knob, KnobSet, check_disjoint, dataclass_fields_match
from core.labs.adaptation import AdaptationPageSettings, run_adaptation
from core.scenario import Scenario
from core.talk.presets import PRESENTER_PARAM
from ui.page_registry import PAGES, PAGES_BY_PATH

pytestmark = pytest.mark.unit

WITH_SETTINGS = [page for page in PAGES if page.settings is not None]
COMMANDS = {"train": "adaptation", "bound": "bound", "sweep": "lambda_sweep", "efficiency": "finetune",
            "transfer-map": "negative_transfer", "distill": "distillation", "images": "image_domains",
            "forgetting": "forgetting"}


def other_value(knob: Knob):
    """A valid value of ``knob`` other than its default, as cheap to run as the knob allows (fewer seeds,
    steps, points, methods)."""
    if knob.many:
        first = knob.choices[:1] if knob.kind is str else (min(knob.options),)
        return first if first != knob.default else knob.parse(knob.choices[:2] if knob.kind is str else (1, 2))
    if knob.kind is str:
        return next(choice for choice in knob.choices if choice != knob.default)
    if knob.options:
        return next(option for option in sorted(knob.options) if option != knob.default)
    low = knob.parse(knob.low)
    return low if low != knob.default else knob.parse(low + knob.step)


def non_default(settings: type[KnobSet]) -> KnobSet:
    """Settings with every knob away from its default."""
    return settings(**{knob.name: other_value(knob) for knob in settings.KNOBS})


@pytest.mark.parametrize("page", WITH_SETTINGS, ids=lambda page: page.url_path)
def test_a_pages_settings_are_a_frozen_dataclass_of_its_knobs(page):
    settings = page.settings
    assert dataclass_fields_match(settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(settings(), settings.KNOBS[0].name, None)


@pytest.mark.parametrize("page", WITH_SETTINGS, ids=lambda page: page.url_path)
def test_settings_round_trip_through_url_parameters(page):
    changed = non_default(page.settings)
    params = changed.to_params()
    assert set(params) == set(page.settings.knob_names())  # every knob moved away from its default
    assert page.settings.from_params(params) == (changed, [])
    assert page.settings().to_params() == {}  # the defaults leave the URL clean
    assert page.settings.from_mapping(changed.to_json()) == changed  # and through JSON


@pytest.mark.parametrize("page", WITH_SETTINGS, ids=lambda page: page.url_path)
def test_a_bad_value_in_a_link_is_one_line_and_the_default(page):
    knob = page.settings.KNOBS[0]
    bad = {knob.name: "<img src=x>", "rotation": "35"}
    settings, problems = page.settings.from_params(bad, unknown_ok=True)
    assert settings == page.settings()
    assert len(problems) == 1 and problems[0].startswith(f"{knob.name}: expected") and "\n" not in problems[0]


def test_no_setting_shares_a_url_key_with_the_scenario_or_presenter_mode():
    for page in WITH_SETTINGS:
        check_disjoint(Scenario, page.settings)
        assert PRESENTER_PARAM not in page.settings.knob_names()


def test_check_disjoint_names_the_shared_key():
    with pytest.raises(ValueError, match="'seeds' is a key of both"):
        check_disjoint(PAGES_BY_PATH["adaptation"].settings, PAGES_BY_PATH["bound"].settings)


def subcommand(name: str) -> argparse.ArgumentParser:
    actions = _build_parser()._subparsers._group_actions[0]  # the command's sub-parsers
    return actions.choices[name]


@pytest.mark.parametrize("command, page", COMMANDS.items())
def test_a_command_has_one_flag_per_setting_of_its_page_and_reads_them_back(command, page):
    settings = PAGES_BY_PATH[page].settings
    parser = subcommand(command)
    flags = {option for action in parser._actions for option in action.option_strings}
    assert {knob.flag for knob in settings.KNOBS} <= flags
    changed = non_default(settings)
    argv = [token for knob in settings.KNOBS for token in (knob.flag, knob.text(getattr(changed, knob.name)))]
    assert settings.from_arguments(parser.parse_args(argv)) == changed
    assert settings.from_arguments(parser.parse_args([])) == settings()


def test_a_bad_flag_names_the_flag():
    parser = subcommand("train")
    with pytest.raises(InputError, match=r"^--seeds: expected an integer in \[1, 10\], got '11'$"):
        AdaptationPageSettings.from_arguments(parser.parse_args(["--seeds", "11"]))


def test_a_list_knob_keeps_a_canonical_order_and_drops_repeats():
    settings = AdaptationPageSettings(methods="dann, mmd,dann,,")
    assert settings.methods == ("mmd", "dann")  # the registry's order
    assert settings.to_params()["methods"] == "mmd,dann"
    with pytest.raises(InputError, match="^methods: expected"):
        AdaptationPageSettings(methods="mmd,magic")


def test_the_json_of_a_run_holds_every_page_setting_and_the_engine_ones():
    scenario = Scenario(n_source=60, n_target=60, n_test=100)
    settings = AdaptationPageSettings(methods=("source_only", "coral"), seeds=2, lam=0.3, steps=10, lr=0.003)
    run = run_adaptation(scenario, settings.methods, settings.seeds, settings.train_settings())
    answer = run.to_json()["settings"]
    assert AdaptationPageSettings.from_mapping({k: answer[k] for k in settings.knob_names()}) == settings
    assert answer["batch_size"] == settings.train_settings().batch_size and answer["hidden"]

