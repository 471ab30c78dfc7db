"""The command line: JSON answers, CSV export, and one-line errors with status 2."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.__main__ import main
from core.metrics import divergence
from core.metrics.shift_report import shift_report
from core.scenario import IMAGE_LABELS_PER_CLASS, Scenario
from core.training.methods import METHODS_BY_NAME

pytestmark = pytest.mark.cli


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, timeout=300)


def test_shift_json_has_the_promised_keys(capsys):
    assert main(["shift", "dataset=moons", "rotation=35", "--json", "--permutations", "200"]) == 0
    answer = json.loads(capsys.readouterr().out)
    for key in ["scenario", "mmd2", "mmd2_unbiased", "mmd_bandwidth", "mmd_pvalue", "proxy_a_distance"]:
        assert key in answer
    assert answer["scenario"]["rotation"] == 35 and answer["scenario"]["dataset"] == "moons"
    assert Scenario.from_mapping(answer["scenario"]) == Scenario(rotation=35)
    assert answer["mmd2"] > 0 and answer["mmd_pvalue"] < 0.05
    assert 0 <= answer["proxy_a_distance"] <= 2


def test_shift_without_json_prints_a_table(capsys):
    assert main(["shift", "--permutations", "50", "--pad-seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "MMD² biased (V)" in out and "proxy A-distance (MLP)" in out


def test_export_points_give_exactly_the_shift_numbers(tmp_path, capsys):
    out = tmp_path / "points.csv"
    args = ["dataset=circles", "scale=1.5", "n_source=300", "n_target=200", "n_test=200"]
    assert main(["export", *args, "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["x0", "x1", "y", "domain", "split"]
    assert set(frame["domain"]) == {"source", "target"}
    source = frame.loc[frame.domain == "source", ["x0", "x1"]].to_numpy()
    target = frame.loc[frame.domain == "target", ["x0", "x1"]].to_numpy()
    assert main(["shift", *args, "--json", "--permutations", "100"]) == 0
    answer = json.loads(capsys.readouterr().out)
    sigma = divergence.median_bandwidth(source, target, seed=0)
    assert sigma == pytest.approx(answer["mmd_bandwidth"], rel=1e-12)
    assert divergence.mmd2(source, target, sigma=sigma) == pytest.approx(answer["mmd2"], rel=1e-9)
    assert len(source) == 300 and len(target) == answer["n_target"]


def test_export_never_overwrites_a_file_unless_forced(tmp_path, capsys):
    out = tmp_path / "mine.csv"
    out.write_text("precious")
    assert main(["export", "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("error: --out: ") and out.read_text() == "precious"
    assert main(["export", "--out", str(out), "--force"]) == 0 and out.read_text().startswith("x0,x1")


def test_a_key_with_a_line_break_is_still_a_one_line_error(capsys):
    assert main(["shift", "rota\ntion=5"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("args, key", [
    (["shift", "rotation=abc"], "rotation"),
    (["shift", "dataset=nope"], "dataset"),
    (["shift", "n_source=-5"], "n_source"),
    (["shift", "colour=red"], "colour"),
    (["shift", "rotation"], "rotation"),
    (["shift", "--permutations", "0"], "--permutations"),
    (["shift", "--permutations", "100000000"], "--permutations: expected an integer in [1, 10000]"),
    (["sweep", "--lambdas", ",".join(["0.1"] * 2000)], "--lambdas: expected at most 32"),
    (["bound", "--vary", "rotation=" + ",".join(["5"] * 20)], "--vary: expected at most 9"),
    (["transfer-map", "--vary", "rotation=" + ",".join(["5"] * 20)], "--vary: expected at most 9"),
    (["export", "rotation=10"], "export"),
    (["frobnicate"], "command"),
    ([], "command"),
])
def test_bad_input_exits_2_with_one_line_naming_the_key(args, key, capsys):
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {key}")
    assert captured.out == ""


@pytest.mark.slow
def test_bad_input_in_a_real_process_shows_no_traceback():
    result = run_cli("shift", "rotation=abc", "--json")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: rotation: expected a number in [-180, 180], got 'abc'"
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.slow
def test_unwritable_export_path_is_one_line(tmp_path):
    result = run_cli("export", "--out", str(tmp_path / "missing" / "dir" / "x.csv"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --out: cannot write")


@pytest.mark.slow
def test_json_in_a_real_process():
    result = run_cli("shift", "rotation=90", "n_source=200", "n_target=200", "n_test=100", "--json",
                     "--permutations", "100")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["proxy_a_distance"] > 0.5
    reference = shift_report(Scenario(rotation=90, n_source=200, n_target=200, n_test=100), n_permutations=100)
    assert answer["mmd2"] == pytest.approx(reference.mmd2, rel=1e-12)
    assert np.isclose(answer["proxy_a_distance"], reference.proxy_a_distance)


def test_train_json_has_one_row_per_method_and_seed(capsys):
    assert main(["train", "rotation=35", "n_source=200", "n_target=200", "n_test=200",
                 "--methods", "source_only,ot", "--seeds", "2", "--steps", "60", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) >= {"scenario", "device", "train_seconds", "results"}
    assert answer["scenario"]["rotation"] == 35 and answer["device"] == "cpu"
    assert answer["train_seconds"] > 0
    assert [(r["method"], r["seed"]) for r in answer["results"]] == [
        ("source_only", 0), ("source_only", 1), ("ot", 0), ("ot", 1)]
    for row in answer["results"]:
        assert 0 <= row["target_acc"] <= 1 and 0 <= row["source_acc"] <= 1


def test_train_table_marks_negative_transfer(capsys):
    assert main(["train", "n_source=100", "n_target=100", "n_test=100", "--methods", "source_only,coral",
                 "--seeds", "1", "--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "source_only" in out and "coral" in out and "target acc" in out
    assert out.splitlines()[-1].startswith("Transfer setting (Pan & Yang 2010): transductive and inductive. Given")


@pytest.mark.parametrize("args, key", [
    (["train", "--methods", "mmd,nope"], "--methods"),
    (["train", "--methods", ","], "--methods"),
    (["train", "--seeds", "0"], "--seeds"),
    (["train", "--lam", "-1"], "--lam"),
    (["train", "--steps", "abc"], "--steps"),
    (["train", "labels_per_class=0", "--methods", "target_only"], "labels_per_class"),
])
def test_train_bad_input_is_one_line_with_status_2(args, key, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {key}")


def test_efficiency_json_has_the_promised_shape(capsys):
    assert main(["efficiency", "rotation=35", "n_source=200", "n_target=200", "n_test=300", "--labels", "1,5",
                 "--strategies", "scratch,full_finetune,progressive", "--seeds", "2", "--epochs", "50", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {"scenario", "train_seconds", "points"} <= set(answer)
    assert Scenario.from_mapping(answer["scenario"]) == Scenario(rotation=35, n_source=200, n_target=200, n_test=300,
                                                                 labels_per_class=100)  # the labelled pool
    assert len(answer["points"]) == 3 * 2 * 2
    for point in answer["points"]:
        assert {"strategy", "labels_per_class", "seed", "target_acc", "source_acc"} <= set(point)
        assert 0 <= point["target_acc"] <= 1 and point["labels_per_class"] in (1, 5)
    assert answer["settings"]["epochs"] == 50


def test_efficiency_table_transfer_map_and_distill_print_their_tables(capsys):
    small = ["n_source=200", "n_target=200", "n_test=300"]
    assert main(["efficiency", *small, "--labels", "1,5", "--strategies", "scratch,full_finetune", "--seeds", "1",
                 "--epochs", "30"]) == 0
    out = capsys.readouterr().out
    assert "scratch needs, to match full_finetune" in out and "labels per class" in out
    assert re.search(r"^full_finetune +2,274 ", out, re.M)  # the parameters one network trains
    assert out.splitlines()[-1].startswith("Transfer setting (Pan & Yang 2010): inductive. Given")
    assert main(["transfer-map", *small, "--vary", "concept=0,1", "--labels", "1,5", "--seeds", "1",
                 "--epochs", "30"]) == 0
    out = capsys.readouterr().out
    assert "finetune minus scratch (2,274 against 2,274 parameters trained" in out and "concept" in out
    assert main(["distill", *small, "--seeds", "1", "--temperature", "2"]) == 0
    out = capsys.readouterr().out
    assert "student from soft targets (target labels)" in out and "T = 2" in out
    assert "Students with the few target labels only:" in out  # the headline setting, then the contrast
    assert "Students with the target labels and the labelled source:" in out
    assert "no test with one seed" in out  # the soft-vs-hard verdict, computed, says what it cannot test


@pytest.mark.parametrize("args, key", [
    (["efficiency", "--labels", "0,5"], "--labels"),
    (["efficiency", "--labels", "two"], "--labels"),
    (["efficiency", "--strategies", "scratch,nope"], "--strategies"),
    (["efficiency", "--partial-layers", "9"], "--partial-layers"),
    (["efficiency", "--adapt-method", "magic"], "--adapt-method"),
    (["efficiency", "--seeds", "0"], "--seeds"),
    (["transfer-map", "--vary", "label_space=1"], "--vary"),
    (["transfer-map", "--mapped", "scratch"], "--mapped"),
    (["distill", "--alpha", "2"], "--alpha"),
])
def test_fine_tuning_commands_reject_bad_input_with_one_line_and_status_2(args, key, capsys):
    # in-process (a real process's stderr is checked by test_bad_input_in_a_real_process_shows_no_traceback)
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}:"), captured.err
    assert "Traceback" not in captured.err and captured.out == ""


DIGITS = ["dataset=digits", "rotation=45", "n_source=200", "n_target=100", "n_test=100"]


def test_shift_on_digits_reports_the_divergences_of_the_pixels(capsys):
    assert main(["shift", *DIGITS, "--json", "--permutations", "50", "--pad-seeds", "1"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["scenario"]["dataset"] == "digits" and answer["n_source"] == 200
    assert answer["mmd2"] > 0 and 0 <= answer["proxy_a_distance"] <= 2
    assert set(answer["per_class_mmd2"]) == {str(k) for k in range(10)}


@pytest.mark.slow
def test_train_on_digits_with_the_default_methods(capsys):
    assert main(["train", *DIGITS, "--seeds", "1", "--steps", "20", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [r["method"] for r in answer["results"]] == [m for m, method in METHODS_BY_NAME.items()
                                                        if method.on_page_by_default]
    for row in answer["results"]:
        assert not row["diverged"] and 0 <= row["target_acc"] <= 1


def test_efficiency_on_digits_defaults_to_the_label_counts_it_can_draw(capsys):
    assert main(["efficiency", *DIGITS, "--strategies", "scratch,full_finetune", "--seeds", "1", "--epochs", "10",
                 "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["labels"] == [1, 2, 5, 10, 20]
    assert answer["scenario"]["labels_per_class"] == IMAGE_LABELS_PER_CLASS  # the labelled reservoir
    assert {p["labels_per_class"] for p in answer["points"]} == {1, 2, 5, 10, 20}


@pytest.mark.parametrize("args", [["efficiency", "dataset=digits", "--labels", "5,50"],
                                  ["transfer-map", "dataset=digits", "--labels", "50"]])
def test_too_many_labels_for_digits_is_one_line_naming_labels(args, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --labels:") and "[1, 20]" in err[0]


def test_images_command_prints_the_image_labs_table_and_json(capsys):
    quick = [*DIGITS, "--seeds", "1", "--steps", "20", "--epochs", "10"]
    assert main(["images", *quick, "--frozen-blocks", "2"]) == 0
    out = capsys.readouterr().out
    assert "conv8/2 → conv16/2" in out and "Fine-tune, 2 conv block(s) frozen" in out and "MMD (DAN)" in out
    assert main(["images", *quick, "--methods", "mmd", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [r["method"] for r in answer["summary"]] == ["source_only", "mmd"]
    assert answer["settings"]["conv_channels"] == [8, 16] and answer["scenario"]["rotation"] == 45


@pytest.mark.parametrize("args, key", [(["images", "rotation=45"], "dataset"),
                                       (["images", "dataset=digits", "--methods", "coral"], "--methods"),
                                       (["images", "dataset=digits", "--frozen-blocks", "3"], "--frozen-blocks")])
def test_images_bad_input_is_one_line_with_status_2(args, key, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {key}:")


def _wine_csvs(tmp_path):
    """scikit-learn's wine table split by alcohol (a natural shift), as two CSV files and one with a domain column."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    high = frame["alcohol"] > frame["alcohol"].median()
    paths = {"source": tmp_path / "source.csv", "target": tmp_path / "target.csv", "both": tmp_path / "both.csv"}
    frame[~high].to_csv(paths["source"], index=False)
    frame[high].to_csv(paths["target"], index=False, sep=";")
    frame.assign(domain=np.where(high, "new", "old")).sort_values("domain", ascending=False).to_csv(
        paths["both"], index=False)
    return {k: str(v) for k, v in paths.items()}


def test_check_json_answers_the_promised_keys_and_detects_a_natural_shift(tmp_path, capsys):
    paths = _wine_csvs(tmp_path)
    assert main(["check", paths["source"], paths["target"], "--label", "target", "--permutations", "200",
                 "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {"mmd2", "mmd_pvalue", "proxy_a_distance", "ranking"} <= set(answer)
    assert answer["mmd_pvalue"] < 0.05 and answer["ranking"][0]["feature"] == "alcohol"
    assert "target" not in answer["features"] and any("';'" in note for note in answer["notes"])
    assert main(["check", paths["both"], "--domain", "domain", "--permutations", "100"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Transferability check") and "| alcohol |" in out
    assert "label column 'target' detected by its name" in out  # never silently a feature
    assert "| target |" not in out.split("## Features")[1].split("##")[0]


def test_check_on_labelled_concept_shift_leads_with_the_measured_drop_and_never_claims_safety(tmp_path, capsys):
    """Concept-shifted moons: the inputs do not move (the test cannot see it), the labels do."""
    path = tmp_path / "concept.csv"
    assert main(["export", "dataset=moons", "concept=0.5", "--out", str(path)]) == 0
    capsys.readouterr()
    assert main(["check", str(path), "--domain", "domain", "--permutations", "200", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    verdict = answer["verdict"]
    assert answer["mmd_pvalue"] >= 0.05  # P(X) is the source's
    assert verdict[0].startswith("Measured on the target's own labels") and "costs this model accuracy" in verdict[0]
    drop = answer["disagreement"]["drop"]
    assert drop["held_out_source_acc"] - drop["target_acc"] > 0.1
    assert "no evidence that nothing shifted" in verdict[1] and "cannot see a change of P(y | x)" in verdict[2]
    assert not any("should behave" in line or "safe" in line.lower() for line in verdict)


def test_check_label_flags_conflict_and_no_label_keeps_the_column_a_feature(tmp_path, capsys):
    paths = _wine_csvs(tmp_path)
    assert main(["check", paths["source"], paths["target"], "--label", "target", "--no-label"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --no-label")
    assert main(["check", paths["source"], paths["target"], "--no-label", "--permutations", "50", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "target" in answer["features"] and answer["disagreement"] is None
    assert "blind to a change of P(y | x)" in " ".join(answer["verdict"])


@pytest.mark.parametrize("args, key", [(["check", "missing.csv", "other.csv"], "missing.csv"),
                                       (["check", "only_one.csv"], "check"),
                                       (["check", "a.csv", "b.csv", "--domain", "d"], "--domain")])
def test_check_bad_input_is_one_line_with_status_2(args, key, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {key}")


def test_check_refuses_a_fifo_and_too_many_permutations_before_reading_or_testing(tmp_path, capsys):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # opening it would block until a writer came
    assert main(["check", str(fifo), str(fifo)]) == 2
    assert capsys.readouterr().err == f"error: {fifo}: is not a regular file; expected a CSV file\n"
    table = tmp_path / "t.csv"
    table.write_text("a,b\n" + "\n".join(f"{i},{i % 7}" for i in range(50)))
    assert main(["check", str(table), str(table), "--permutations", "100000000"]) == 2
    assert capsys.readouterr().err.startswith("error: --permutations: expected an integer in [1, 10000]")


@pytest.mark.slow
def test_warm_stores_the_chosen_scenes_and_lists_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DSL_RESULT_STORE", str(tmp_path))
    assert main(["warm", "--scenes", "Prior shift,Concept shift", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["store"] == str(tmp_path)
    assert [(row["scene"], row["run"]) for row in answer["runs"]] == [
        ("Prior shift", "shift_report"), ("Prior shift", "divergence_sweep"),
        ("Concept shift", "shift_report"), ("Concept shift", "divergence_sweep")]
    assert {row["state"] for row in answer["runs"]} == {"trained and stored"}
    assert len(list(tmp_path.glob("*.npz"))) == 4
    assert main(["warm", "--scenes", "Concept shift"]) == 0
    assert "0 trained now, 2 already stored" in capsys.readouterr().out
    assert main(["warm", "--list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert any(line.startswith("Concept shift") and line.endswith(" stored") for line in listing)
    assert any(line.startswith("Rotated digits") and line.endswith("not stored") for line in listing)


@pytest.mark.parametrize("args, env, message", [
    (["warm", "--scenes", "Rotation 99°"], None, "error: scenes: unknown scene Rotation 99°; scenes: No shift"),
    (["warm"], "off", "error: DSL_RESULT_STORE: the result store is off"),
    (["warm"], "/dev/null/results", "error: DSL_RESULT_STORE: cannot write to /dev/null/results"),
])
def test_warm_errors_are_one_line(args, env, message, monkeypatch, capsys):
    if env:
        monkeypatch.setenv("DSL_RESULT_STORE", env)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


SWEEP_ARGS = ["sweep", "n_source=200", "n_target=200", "n_test=200", "rotation=40", "--lambdas", "0,0.3,3",
              "--seeds", "2", "--steps", "60"]


def test_sweep_json_labels_the_oracle_and_gives_the_label_free_picks(capsys):
    assert main([*SWEEP_ARGS, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) >= {"scenario", "method", "train_seconds", "points", "oracle_best_lambda",
                           "oracle_best_target_acc", "label_free_selection"}
    assert "best_lambda" not in answer and answer["oracle_best_lambda"] in (0, 0.3, 3)
    assert set(answer["points"][0]) >= {"source_val_risk", "iwv_risk", "dev_risk"}
    selection = answer["label_free_selection"]
    assert set(selection) == {"rule", "criteria", "validation"}
    assert [row["criterion"] for row in selection["criteria"]] == ["source_val", "iwv", "dev"]
    for row in selection["criteria"]:
        assert set(row) == {"criterion", "label", "uses", "picked_lambda", "risk_at_pick",
                            "oracle_target_acc_at_pick", "oracle_cost"}
        assert row["picked_lambda"] in (0, 0.3, 3) and row["oracle_cost"] >= 0
    assert selection["validation"]["held_out_source_points"] == 200


def test_sweep_table_prints_the_oracle_and_each_pick(capsys):
    assert main(SWEEP_ARGS) == 0
    out = capsys.readouterr().out
    assert "ORACLE (target test labels)" in out
    for label in ("Source validation", "IWV (Sugiyama et al. 2007)", "DEV (You et al. 2019)"):
        assert label in out


def test_forgetting_json_has_the_summary_the_verdict_and_every_model(capsys):
    assert main(["forgetting", "rotation=35", "n_source=200", "n_target=200", "n_test=300", "--remedies", "l2sp,replay",
                 "--l2sp-weights", "1,10", "--replay-counts", "20", "--seeds", "2", "--epochs", "30", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["points"]) == (1 + 2 + 1) * 2 and len(answer["pretrained"]) == 2
    assert [(row["strategy"], row["strength"]) for row in answer["summary"]] == [
        ("full_finetune", None), ("l2sp", 1.0), ("l2sp", 10.0), ("replay", 20.0)]
    assert answer["summary"][0]["versus_full_finetune"] is None
    assert answer["summary"][1]["versus_full_finetune"]["pairs"] == 2
    assert answer["verdict"].startswith("At n_source=200, n_target=200, n_test=300, rotation=35 with 5 labels per "
                                        "class over 2 seeds")
    assert answer["settings"]["labels"] == 5 and answer["finetune_settings"]["epochs"] == 30
