"""Which method for which shift: the verdict rule of a cell, the matrix's run and JSON, the command and the
page."""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.__main__ import main
from core.labs.shift_matrix import CASES_BY_NAME, GAIN, LOSS, NEITHER, compare, shift_matrix
from core.training.train import TrainSettings

ROOT = Path(__file__).resolve().parent.parent
QUICK = TrainSettings(steps=60)


@pytest.mark.unit
def test_a_cell_is_a_gain_or_a_loss_only_when_the_paired_test_supports_it():
    baseline = np.array([0.80, 0.82, 0.78, 0.81, 0.79])
    assert compare(baseline + np.array([0.05, 0.06, 0.04, 0.05, 0.07]), baseline)[0] == GAIN
    assert compare(baseline - np.array([0.05, 0.06, 0.04, 0.05, 0.07]), baseline)[0] == LOSS
    assert compare(baseline + np.array([0.2, -0.15, 0.1, -0.1, 0.0]), baseline)[0] == NEITHER  # seed noise
    verdict, delta, p_value = compare(baseline + 0.005, baseline)  # consistent, but within the margin
    assert verdict == NEITHER and delta == pytest.approx(0.005)


@pytest.mark.unit
def test_every_case_changes_what_its_name_says():
    base = CASES_BY_NAME["none"].scenario
    changed = {name: {k for k, v in case.scenario.to_dict().items() if v != base.to_dict()[k]}
               for name, case in CASES_BY_NAME.items()}
    assert changed == {"none": set(), "transformation": {"rotation"},
                       "covariate": {"selection", "selection_x", "selection_y"}, "prior": {"prior"},
                       "concept": {"concept"}}


@pytest.mark.unit
def test_the_matrix_has_a_cell_per_case_and_method_with_source_only_as_baseline():
    matrix = shift_matrix(("prior", "concept"), ("label_shift", "finetune"), n_seeds=2, settings=QUICK)
    assert matrix.methods == ("source_only", "label_shift", "finetune")
    answer = matrix.to_json()
    assert [c["name"] for c in answer["cases"]] == ["prior", "concept"]
    cell = answer["cases"][1]["cells"]["finetune"]
    assert set(cell) == {"target_acc", "target_acc_sd", "delta_vs_source_only", "verdict", "p_value", "seeds"}
    assert cell["verdict"] in (GAIN, LOSS, NEITHER) and cell["seeds"] == 2
    source = answer["cases"][1]["cells"]["source_only"]
    assert cell["delta_vs_source_only"] == pytest.approx(cell["target_acc"] - source["target_acc"])
    assert answer["cases"][0]["scenario"]["prior"] == 1.0 and "paired t-test" in answer["test"]


@pytest.mark.cli
def test_matrix_command_prints_every_cell_with_its_verdict(capsys):
    assert main(["matrix", "--cases", "prior", "--methods", "label_shift", "--seeds", "2", "--steps", "60",
                 "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert list(answer["cases"][0]["cells"]) == ["source_only", "label_shift"]
    assert main(["matrix", "--cases", "prior", "--methods", "label_shift", "--seeds", "2", "--steps", "60"]) == 0
    text = capsys.readouterr().out
    assert "Prior shift" in text and "label_shift" in text and "p " in text
    assert main(["matrix", "--cases", "nonsense"]) == 2


@pytest.mark.apptest
def test_the_page_draws_the_matrix_and_says_only_what_the_cells_say():
    at = AppTest.from_file(str(ROOT / "pages/shift_matrix.py"), default_timeout=300)
    for key, value in {"cases": ["prior", "concept"], "methods": ["label_shift", "finetune"], "seeds": 2,
                       "steps": 60}.items():
        at.session_state[f"shift_matrix_{key}"] = value
    at.run()
    assert not at.exception and not at.error
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["type"] == "heatmap" and len(spec["data"][0]["y"]) == 2
    summary = next(m.value for m in at.markdown if "significant gain" in m.value)
    assert "Prior shift" in summary and "Concept shift" in summary
    assert len(at.dataframe[0].value) == 2 * 3
