"""The three transfer settings of Pan & Yang (2010): named from what the models learn from, on every page."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.data.domains import generate
from core.labs.transfer_setting import (
    BY_METHOD,
    INDUCTIVE,
    POOL_ONLY,
    TRANSDUCTIVE,
    USES,
    WITH_TARGET_LABELS,
    label_space,
    setting_of,
    transfer_setting,
)
from core.scenario import OPENING
from ui.page_registry import PAGES, PAGES_BY_PATH

DOMAIN_SHIFT = str(Path(__file__).resolve().parent.parent / PAGES_BY_PATH["domain_shift"].file)


@pytest.mark.unit
@pytest.mark.parametrize("scenario_changes, uses, names", [
    ({}, POOL_ONLY, (TRANSDUCTIVE,)),
    ({}, WITH_TARGET_LABELS, (INDUCTIVE,)),
    ({}, BY_METHOD, (TRANSDUCTIVE, INDUCTIVE)),
    ({"labels_per_class": 0}, BY_METHOD, (TRANSDUCTIVE,)),
    ({"labels_per_class": 0}, WITH_TARGET_LABELS, (INDUCTIVE,)),  # the fine-tuning pages draw their own labels
    ({"label_space": "new_class"}, POOL_ONLY, (INDUCTIVE,)),
    ({"label_space": "missing_class"}, BY_METHOD, (INDUCTIVE,)),
])
def test_the_setting_follows_from_what_is_labelled_and_whether_the_tasks_agree(scenario_changes, uses, names):
    assert transfer_setting(OPENING.replace(**scenario_changes), uses).names == names


@pytest.mark.unit
@pytest.mark.parametrize("changes", [{}, {"labels_per_class": 3}, {"label_space": "new_class"}, {"prior": 0.8}])
def test_the_sentence_counts_the_labelled_target_samples_the_scenario_draws(changes):
    scenario = OPENING.replace(**changes)
    drawn = len(generate(scenario).target_labelled_x)
    text = transfer_setting(scenario, BY_METHOD).text()
    assert f"and {drawn} labelled target samples" in text
    assert text.startswith("Transfer setting (Pan & Yang 2010): **") and "\n" not in text
    same = scenario.label_space == "same"
    assert ("with the same label space" in text) == same


@pytest.mark.unit
def test_a_pool_only_page_says_it_does_not_use_the_scenarios_target_labels():
    text = transfer_setting(OPENING, POOL_ONLY).text()
    assert "labelled target samples are not used here" in text and "without a single target label" in text
    assert "not used here" not in transfer_setting(OPENING.replace(labels_per_class=0), POOL_ONLY).text()
    with pytest.raises(ValueError):
        transfer_setting(OPENING, "everything")


@pytest.mark.unit
def test_every_page_that_trains_declares_what_its_models_learn_from():
    training = {page.url_path for page in PAGES if page.settings is not None}
    assert {page.url_path for page in PAGES if page.learns is not None} == training
    assert all(page.learns in USES for page in PAGES if page.learns is not None)


@pytest.mark.apptest
def test_the_domain_shift_page_names_the_setting_under_its_title():
    at = AppTest.from_file(DOMAIN_SHIFT, default_timeout=300).run()
    assert not at.exception
    settings = [c.value for c in at.caption if c.value.startswith("Transfer setting (Pan & Yang 2010)")]
    assert settings == [transfer_setting(OPENING, BY_METHOD).text()]
    at = AppTest.from_file(DOMAIN_SHIFT, default_timeout=300)
    at.query_params["labels_per_class"] = "0"
    at.query_params["rotation"] = "35"
    at.run()
    assert any("**transductive**." in c.value for c in at.caption)


@pytest.mark.unit
def test_self_supervised_pretraining_is_named_the_unsupervised_setting_before_its_inductive_fine_tuning():
    plain, pretext = (transfer_setting(OPENING, WITH_TARGET_LABELS, unlabelled_pretraining=flag) for flag in (0, 1))
    assert "unsupervised" not in plain.text() and "unsupervised" not in plain.headline()
    assert pretext.names == (INDUCTIVE,)
    assert pretext.headline().endswith("self-supervised pretraining: **unsupervised**, then **inductive**")
    assert "no label on either side" in pretext.text() and "\n" not in pretext.text()


@pytest.mark.unit
@pytest.mark.parametrize("source, target, space", [
    ("ab", "ba", "same"), ("ab", "abc", "new_class"), ("abc", "ab", "missing_class"), ("ab", "bc", "different")])
def test_observed_classes_give_the_label_space(source, target, space):
    assert label_space(source, target) == space


@pytest.mark.unit
def test_a_run_that_pretrains_without_labels_says_it_starts_unsupervised():
    assert setting_of(OPENING, WITH_TARGET_LABELS, ["scratch", "self_supervised"]).unlabelled_pretraining
    assert not setting_of(OPENING, WITH_TARGET_LABELS, ["full_finetune", "adapter"]).unlabelled_pretraining
    assert "**unsupervised**, then **inductive**" in setting_of(OPENING, WITH_TARGET_LABELS,
                                                                  ["self_supervised"]).headline()
