"""The transferability check on a real table that ships with scikit-learn (breast cancer, 569 rows, 30 features)."""

from dataclasses import replace

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from core.formatting import csv_cell, plain
from core.labs.check import (
    SIGNIFICANCE,
    AccuracyDrop,
    domain_classifier_error,
    feature_ranking,
    held_out_rows,
    run_check,
)

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_torch_thread")]  # tests/conftest.py


@pytest.fixture(scope="module")
def table():
    frame = load_breast_cancer(as_frame=True).frame
    features = [c for c in frame.columns if c != "target"]
    return frame[features].to_numpy(float), frame["target"].to_numpy(), features


def test_a_split_by_one_of_its_own_features_is_detected_and_that_feature_ranks_first(table):
    x, y, features = table
    column = features.index("mean radius")
    small = x[:, column] <= np.median(x[:, column])
    report = run_check(x[small], x[~small], features, y[small], y[~small], classes=("malignant", "benign"))
    assert report.significant and report.mmd_pvalue < 0.01 and report.proxy_a_distance > 1.0
    assert report.ranking[0].feature == "mean radius" and report.ranking[0].standardised_mean_difference > 1
    assert report.label_shift > 0.2  # small tumours are mostly benign
    verdict = " ".join(report.verdict())
    assert report.verdict()[0].startswith("Measured on the target's own labels")
    assert "inputs have shifted" in verdict and "prior shift" in verdict
    assert report.disagreement.drop.n_held_out == round(0.3 * small.sum())
    assert 0 <= report.disagreement.share <= 1 and 0.5 < report.disagreement.source_only_acc <= 1
    assert "disagree on" in verdict
    answer = report.to_json()
    assert {"mmd2", "mmd_pvalue", "proxy_a_distance", "ranking", "verdict"} <= set(answer)
    assert answer["ranking"][0]["feature"] == "mean radius"
    markdown = report.to_markdown()
    assert "## Verdict" in markdown and "| mean radius |" in markdown and "## Label proportions" in markdown
    assert answer["transfer_setting"]["names"] == ["transductive"] and "## Transfer setting" in markdown


def test_the_checks_setting_follows_from_the_labels_each_table_has(table):
    x, y, features = table
    report = run_check(x[:200], x[200:400], features, y[:200], y[200:400], classes=("malignant", "benign"),
                       n_permutations=20, pad_seeds=1)
    assert report.transfer_setting().names == ("transductive",)
    assert "only measure the models here (an oracle quantity)" in report.setting_text()
    no_benign = replace(report, target_labels={"malignant": 1.0, "benign": 0.0})
    assert no_benign.transfer_setting().names == ("inductive",)
    assert "the target lacks one of the source's classes" in no_benign.setting_text()
    unlabelled_target = replace(report, target_labels=None)
    assert unlabelled_target.transfer_setting().names == ("transductive",)
    assert "the same label space is assumed" in unlabelled_target.setting_text()
    no_labels = replace(report, source_labels=None, target_labels=None)
    assert no_labels.transfer_setting().names == ("unsupervised",)
    assert "no model here learns a task" in no_labels.setting_text() and "oracle" not in no_labels.setting_text()


@pytest.mark.slow
def test_random_splits_are_flagged_at_about_the_nominal_rate(table):
    x, _, features = table
    p_values = []
    for seed in range(100):
        order = np.random.default_rng(seed).permutation(len(x))
        half = len(x) // 2
        report = run_check(x[order[:half]], x[order[half:]], features, n_permutations=100, pad_seeds=1, seed=seed,
                           compare_models=False)
        p_values.append(report.mmd_pvalue)
    p_values = np.array(p_values)
    assert np.mean(p_values < SIGNIFICANCE) <= 0.12  # nominal 0.05; deterministic seeds, so not flaky
    assert 0.4 < p_values.mean() < 0.6  # p-values about uniform under no shift
    report = run_check(x[order[:half]], x[order[half:]], features, seed=0)
    assert not report.significant or report.proxy_a_distance < 0.5
    assert "No significant shift" in report.verdict()[0] or report.significant
    assert "no evidence that nothing shifted" in report.verdict()[0] or report.significant


def test_feature_ranking_has_known_answers():
    rng = np.random.default_rng(0)
    source = rng.standard_normal((500, 3))
    target = source + np.array([0.0, 1.0, 0.0])
    target[:, 2] = 5.0  # a constant target feature: the largest KS statistic
    ranking = feature_ranking(source, target, ["same", "moved", "constant"])
    assert [r.feature for r in ranking] == ["constant", "moved", "same"]
    moved = ranking[1]
    assert moved.standardised_mean_difference == pytest.approx(1.0 / source[:, 1].std(), rel=1e-9)
    assert ranking[2].ks_statistic == 0.0 and ranking[2].ks_pvalue == 1.0


def test_the_accuracy_drop_and_its_interval_have_known_answers():
    drop = AccuracyDrop(held_out_source_acc=0.9, target_acc=0.6, n_held_out=100, n_target=400)
    se = np.sqrt(0.9 * 0.1 / 100 + 0.6 * 0.4 / 400)
    assert drop.drop == pytest.approx(0.3)
    assert drop.interval == pytest.approx((0.3 - 1.959964 * se, 0.3 + 1.959964 * se))
    assert "costs this model accuracy" in drop.sentence(3)
    even = AccuracyDrop(0.9, 0.89, 50, 50)
    assert even.interval[0] < 0 < even.interval[1] and "no significant change" in even.sentence(3)
    assert "does better on the target" in AccuracyDrop(0.6, 0.9, 400, 400).sentence(3)


def test_held_out_rows_are_a_seeded_share_that_leaves_rows_to_train():
    held = held_out_rows(100, seed=0)
    assert held.sum() == 30 and np.array_equal(held, held_out_rows(100, seed=0))
    assert not np.array_equal(held, held_out_rows(100, seed=1))
    assert held_out_rows(2, 0).sum() == 1 and held_out_rows(1, 0).sum() == 0


def test_the_domain_classifier_error_inverts_the_proxy_a_distance():
    assert domain_classifier_error(0.0) == 0.5 and domain_classifier_error(2.0) == 0.0
    assert domain_classifier_error(1.0) == pytest.approx(0.25)


# --- user text is text (issue 20) ------------------------------------------------------------------------
PAYLOADS = ("<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "[Click here](http://127.0.0.1:9/phish)",
            "![px](http://127.0.0.1:9/px.png)", "a|b", "=cmd|' /C calc'!A0", "line\n# heading")
UNESCAPED = r"(?<!\\)[<>\[\]()|`*_!#]"  # a Markdown or HTML character without its backslash


@pytest.mark.parametrize("payload", PAYLOADS)
def test_plain_leaves_no_markdown_or_html_to_interpret(payload):
    import re

    text = plain(payload)
    assert not re.search(UNESCAPED, text) and "\n" not in text
    assert re.sub(r"\\(.)", r"\1", text) == payload.replace("\n", " ")  # and it still reads as typed


def test_the_markdown_report_escapes_column_and_class_names():
    import re

    rng = np.random.default_rng(0)
    names = list(PAYLOADS[:5])
    report = run_check(rng.normal(size=(60, 5)), rng.normal(size=(60, 5)) + 1, names,
                       rng.integers(0, 2, 60), rng.integers(0, 2, 60), classes=("<b>x</b>", "y|z"),
                       notes=("file <script>.csv",), n_permutations=20, pad_seeds=1, compare_models=False)
    markdown = report.to_markdown()
    assert not re.search(r"(?<!\\)<", markdown) and not re.search(r"(?<!\\)\]\(", markdown)  # no tag, no link
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "\\" in line]
    assert rows and all(len(re.findall(r"(?<!\\)\|", row)) == row.count("|") - row.count("\\|") for row in rows)
    assert all(len(re.findall(r"(?<!\\)\|", row)) in (4, 7) for row in rows)  # every table row keeps its columns


def test_a_csv_cell_that_a_spreadsheet_would_run_is_made_text():
    assert csv_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0" and csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("alcohol") == "alcohol" and csv_cell(-1.5) == -1.5


def test_a_large_table_is_subsampled_for_the_divergences_and_the_report_says_so():
    rng = np.random.default_rng(1)
    report = run_check(rng.normal(size=(2500, 2)), rng.normal(size=(2300, 2)), ["a", "b"], n_permutations=20,
                       pad_seeds=1, compare_models=False)
    assert report.n_source == 2500 and any("2,000 of the 2,500 source rows and 2,000 of the 2,300 target rows" in note
                                           for note in report.notes)
    small = run_check(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)), ["a", "b"], n_permutations=20,
                      pad_seeds=1, compare_models=False)
    assert not any("drawn at random" in note for note in small.notes)
