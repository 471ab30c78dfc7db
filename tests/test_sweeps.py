"""Sweeps: the Ben-David bound's terms, and a lambda grid trained as one batch."""

import json

import numpy as np
import pytest

from core.__main__ import main
from core.data.domains import generate
from core.errors import InputError
from core.labs import sweeps
from core.labs.adaptation import run_adaptation
from core.scenario import Scenario
from core.training.train import TrainSettings

pytestmark = pytest.mark.unit

SMALL = Scenario(n_source=300, n_target=300, n_test=400)
QUICK = TrainSettings(steps=150)


@pytest.fixture(scope="module")
def bound_answer():
    points = sweeps.ben_david_sweep(SMALL, "rotation", [0, 45, 90], n_seeds=2, adapted="dann", settings=QUICK)
    return sweeps.bound_json(SMALL, "rotation", points)


def test_the_bound_is_the_sum_of_its_terms_and_each_lies_in_its_range(bound_answer):
    for row in bound_answer["points"]:
        assert row["bound"] == pytest.approx(row["source_error"] + row["divergence"] + row["ideal_joint_error"])
        assert 0 <= row["source_error"] <= 1 and 0 <= row["target_error"] <= 1
        assert 0 <= row["divergence"] <= 1 and 0 <= row["ideal_joint_error"] <= 2
        assert 0 <= row["adapted_target_error"] <= 1
        assert len(row["per_seed"]["divergence"]) == 2


def test_the_divergence_term_grows_with_rotation_on_moons(bound_answer):
    divergence = [row["divergence"] for row in bound_answer["points"]]
    assert divergence[0] < 0.2 < divergence[1]
    assert divergence[0] < divergence[1] <= divergence[2] + 0.1
    target_error = [row["target_error"] for row in bound_answer["points"]]
    assert target_error[0] < target_error[1] < target_error[2]


def test_lambda_star_is_an_oracle_that_uses_the_target_pool_labels():
    data = generate(SMALL.replace(rotation=30))
    inputs = sweeps.ideal_joint_inputs(data)
    np.testing.assert_array_equal(inputs.source_y[len(data.source_y):], data.target_pool_y_oracle)
    assert len(inputs.target_labelled_y) == 0


def test_feature_mmd2_shrinks_as_lambda_grows():
    answer = sweeps.lambda_sweep(SMALL.replace(rotation=35), "mmd", [0, 0.3, 3], n_seeds=2, settings=QUICK)
    mean = {lam: np.mean([p["feature_mmd2"] for p in answer["points"] if p["align_weight"] == lam])
            for lam in (0, 0.3, 3)}
    assert mean[0] > mean[0.3] > mean[3]
    assert answer["train_seconds"] > 0 and len(answer["points"]) == 6


def test_lambda_zero_in_a_sweep_is_source_only():
    scenario = SMALL.replace(rotation=35)
    answer = sweeps.lambda_sweep(scenario, "dann", [0, 1], n_seeds=2, settings=QUICK)
    baseline = run_adaptation(scenario, ["source_only"], n_seeds=2, settings=QUICK)
    zero = [p["target_acc"] for p in answer["points"] if p["align_weight"] == 0]
    assert zero == pytest.approx([r["target_acc"] for r in baseline.rows], abs=1e-9)


def test_cli_bound_and_sweep_json(capsys):
    args = ["n_source=200", "n_target=200", "n_test=200"]
    assert main(["bound", *args, "--vary", "shift_x=0,2", "--seeds", "1", "--json"]) == 0
    bound = json.loads(capsys.readouterr().out)
    assert [p["shift_x"] for p in bound["points"]] == [0, 2]
    assert set(bound["points"][0]) >= {"source_error", "divergence", "ideal_joint_error", "bound", "target_error"}
    assert main(["sweep", *args, "--method", "dann", "--lambdas", "0,1", "--seeds", "2", "--steps", "50",
                 "--json"]) == 0
    sweep = json.loads(capsys.readouterr().out)
    assert set(sweep) >= {"scenario", "train_seconds", "points"}
    assert [(p["align_weight"], p["seed"]) for p in sweep["points"]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert set(sweep["points"][0]) >= {"align_weight", "seed", "target_acc", "source_acc", "feature_mmd2"}


@pytest.mark.parametrize("args, key", [
    (["bound", "--vary", "dataset=moons"], "--vary"),
    (["bound", "--vary", "rotation=a,b"], "--vary"),
    (["bound", "--adapted", "nope"], "--adapted"),
    (["sweep", "--method", "coral"], "--method"),
    (["sweep", "--lambdas", "0,500"], "--lambdas"),
    (["sweep", "--seeds", "11"], "--seeds"),
])
def test_bad_sweep_input_is_one_line_with_status_2(args, key, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {key}")


def test_parse_numbers():
    assert sweeps.parse_numbers("0, 0.5,1", "x", 3) == [0, 0.5, 1]
    with pytest.raises(InputError):
        sweeps.parse_numbers("", "x", 3)
    with pytest.raises(InputError, match="x: expected at most 3 comma-separated numbers, got 2000"):
        sweeps.parse_numbers(",".join(["1"] * 2000), "x", 3)  # bounded before a single value is parsed


def test_a_seed_below_its_own_error_is_flagged_even_when_the_means_are_not():
    from core.figures.bound import bound_figure

    fine = sweeps.BoundPoint(0.0, (0.0, 0.0, 0.0), (0.1, 0.1, 0.1), (0.0, 0.0, 0.0), (0.05, 0.05, 0.05), None)
    # seed 1's bound (0.23) is below its error (0.239); the mean bound (0.263) is above the mean error (0.237)
    one_seed = sweeps.BoundPoint(0.5, (0.03, 0.03, 0.03), (0.11, 0.1, 0.19), (0.1, 0.1, 0.1),
                                 (0.236, 0.239, 0.236), None)
    assert one_seed.mean("bound") > one_seed.mean("target_error")
    assert one_seed.bound == pytest.approx((0.24, 0.23, 0.32))
    assert one_seed.seeds_below_measured == (False, True, False)
    assert one_seed.bound_below_measured and not fine.bound_below_measured
    assert one_seed.below_measured_note == "bound below measured error in 1 of 3 seeds"
    assert fine.below_measured_note == ""

    figure = bound_figure([fine, one_seed], "Concept shift")
    marked = [trace for trace in figure.data if "below its own measured" in (trace.name or "")]
    assert len(marked) == 1 and list(marked[0].x) == [0.5] and list(marked[0].text) == ["1 of 3 seeds"]
    assert "training error" in marked[0].name and "not d_HΔH" in marked[0].name and "finite samples" in marked[0].name

    row = sweeps.bound_json(Scenario(), "concept", [fine, one_seed])["points"][1]
    assert row["bound_below_measured"] is True and row["seeds_below_measured"] == 1
    assert row["per_seed"]["bound_below_measured"] == (False, True, False)
    assert json.loads(json.dumps(row))["per_seed"]["bound"] == pytest.approx([0.24, 0.23, 0.32])


def test_cli_bound_text_shows_the_flag_per_point(capsys, monkeypatch):
    flagged = sweeps.BoundPoint(1.0, (0.0, 0.0), (0.2, 0.3), (0.0, 0.0), (0.25, 0.25), None)
    clean = sweeps.BoundPoint(0.0, (0.0, 0.0), (0.2, 0.3), (0.0, 0.0), (0.1, 0.1), None)
    monkeypatch.setattr(sweeps, "ben_david_sweep", lambda *args, **kwargs: [clean, flagged])
    assert main(["bound", "--vary", "concept=0,1", "--seeds", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "flag"
    assert lines[1].split()[0] == "0" and "bound below" not in lines[1]
    assert lines[2].split()[0] == "1" and lines[2].endswith("bound below measured error in 1 of 2 seeds")
    assert "training error" in lines[3] and "finite samples" in lines[3]


def test_the_sweep_labels_the_oracle_and_gives_each_label_free_pick_its_cost():
    answer = sweeps.lambda_sweep(SMALL.replace(rotation=40), "mmd", [0, 0.1, 1, 10], n_seeds=2, settings=QUICK)
    assert "best_lambda" not in answer
    mean = {lam: np.mean([p["target_acc"] for p in answer["points"] if p["align_weight"] == lam])
            for lam in (0, 0.1, 1, 10)}
    assert answer["oracle_best_lambda"] == max(mean, key=mean.get)
    assert answer["oracle_best_target_acc"] == pytest.approx(max(mean.values()))
    selection = answer["label_free_selection"]
    assert [row["criterion"] for row in selection["criteria"]] == ["source_val", "iwv", "dev"]
    for row in selection["criteria"]:
        risks = {lam: np.mean([p[f"{row['criterion']}_risk"] for p in answer["points"] if p["align_weight"] == lam])
                 for lam in mean}
        assert row["picked_lambda"] == min(risks, key=risks.get)
        assert row["risk_at_pick"] == pytest.approx(min(risks.values()))
        assert row["oracle_target_acc_at_pick"] == pytest.approx(mean[row["picked_lambda"]])
        assert row["oracle_cost"] == pytest.approx(max(mean.values()) - mean[row["picked_lambda"]])
        assert row["oracle_cost"] >= 0
    assert selection["validation"]["held_out_source_points"] == SMALL.n_source
    assert all(0 <= p["source_val_risk"] <= 1 and 0 <= p["iwv_risk"] for p in answer["points"])
