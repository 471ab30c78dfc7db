"""The Image domains page under AppTest: the gallery, the results, the switch from a 2-D dataset."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_pages import assert_clean, plotly_specs

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages/image_domains.py")
QUICK = {"image_domains_methods": ["source_only", "feature_extraction", "finetune_frozen", "mmd"],
         "image_domains_seeds": 1, "image_domains_steps": 100, "image_domains_lam": 1.0,
         "image_domains_frozen_blocks": 2, "image_domains_epochs": 20}

pytestmark = [pytest.mark.apptest, pytest.mark.usefixtures("one_torch_thread")]  # tests/conftest.py


def run_page(query, settings=None):
    at = AppTest.from_file(PAGE, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    if settings is not None:
        at.session_state["image_domains_saved_settings"] = {key.removeprefix("image_domains_"): value
                                                           for key, value in settings.items()}
    return at.run()


def titles(at):
    return [spec["layout"].get("title", {}).get("text", "") for spec in plotly_specs(at)]


@pytest.mark.slow
def test_default_run_shows_gallery_scores_confusion_per_class_misclassified_and_tsne():
    at = run_page({"dataset": "digits", "rotation": "45"})
    assert_clean(at)
    shown = titles(at)
    assert len(shown) == 6, shown
    assert shown[0].startswith("Source (left 6 columns) and target")
    assert any("Confusion matrices" in t for t in shown) and any("per class" in t for t in shown)
    assert any("target test images wrong" in t for t in shown)
    table = at.dataframe[0].value
    assert list(table["method"]) == ["Source only", "Feature extraction", "Fine-tune, 1 conv block(s) frozen",
                                     "MMD (DAN)", "DANN", "Self-training"]
    assert any("Oracle best here" in c.value and "target test labels" in c.value for c in at.caption)

    at.selectbox(key="img_wrong_method").set_value("mmd").run()
    assert_clean(at)
    assert any(t.startswith("MMD (DAN):") for t in titles(at))


@pytest.mark.slow
def test_a_2d_dataset_offers_to_switch_to_digits_keeping_the_shift():
    at = run_page({"rotation": "30", "feature_map": "polar"}, QUICK)
    assert_clean(at)
    assert "dataset is moons" in at.info[0].value and not plotly_specs(at)
    at.button[0].click().run()
    assert_clean(at)
    scenario = at.session_state["scenario"]
    assert (scenario.dataset, scenario.rotation, scenario.feature_map) == ("digits", 30, "identity")
    table = at.dataframe[0].value
    assert "Fine-tune, 2 conv block(s) frozen" in list(table["method"]) and len(table) == 4


@pytest.mark.slow
def test_without_target_labels_the_page_says_why_fine_tuning_is_missing():
    at = run_page({"dataset": "digits", "labels_per_class": "0", "blur": "1", "background": "0.5"}, QUICK)
    assert_clean(at)
    assert any("labels_per_class" in i.value for i in at.info)
    assert list(at.dataframe[0].value["method"]) == ["Source only", "MMD (DAN)"]
