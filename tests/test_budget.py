"""The work budget: one estimate per request, checked before anything runs, from the pages and the command line."""

import dataclasses

import numpy as np
import pytest

from core import budget
from core.__main__ import main
from core.errors import InputError
from core.knobs import Knob
from core.labs.adaptation import AdaptationPageSettings
from core.labs.check import check_budget, check_work
from core.labs.distillation import DistillationPageSettings
from core.labs.finetune_runs import FinetunePageSettings
from core.labs.forgetting import ForgettingPageSettings
from core.labs.image_lab import ImagePageSettings
from core.labs.negative_transfer import TransferMapPageSettings
from core.labs.shift_matrix import ShiftMatrixPageSettings
from core.labs.sweeps import BoundPageSettings, LambdaSweepPageSettings
from core.metrics.shift_report import DivergenceSweepPageSettings, report_budget
from core.scenario import OPENING, Scenario
from ui.page_registry import PAGES

DIGITS = Scenario(dataset="digits", rotation=30)
SETTINGS = (AdaptationPageSettings, LambdaSweepPageSettings, BoundPageSettings, FinetunePageSettings,
            TransferMapPageSettings, DistillationPageSettings, ShiftMatrixPageSettings, DivergenceSweepPageSettings,
            ForgettingPageSettings)


def scenario_for(settings):
    return DIGITS if settings is ImagePageSettings else OPENING


@pytest.mark.unit
def test_every_page_with_settings_states_its_work():
    """A page whose form can start a run must say what the run costs, or the budget cannot see it."""
    with_settings = {page.settings for page in PAGES if page.settings is not None}
    assert with_settings <= set(SETTINGS) | {ImagePageSettings}
    for settings in with_settings:
        assert callable(getattr(settings, "work", None)), settings.__name__


@pytest.mark.unit
@pytest.mark.parametrize("settings", [*SETTINGS, ImagePageSettings], ids=lambda s: s.__name__)
def test_every_page_runs_at_its_defaults_within_the_budget(settings):
    request = budget.Request(settings(), scenario_for(settings))
    assert 0 < request.check() <= budget.WORK_BUDGET_S


@pytest.mark.unit
@pytest.mark.parametrize("settings", [*SETTINGS, ImagePageSettings], ids=lambda s: s.__name__)
def test_more_of_any_size_costs_more(settings):
    """Seeds, steps, epochs, points, λ values and the scenario's sizes each raise the estimate."""
    request = budget.Request(settings(), scenario_for(settings))
    base = request.work.seconds
    grown = 0
    for knob in request.knobs:
        if knob.name not in ("seeds", "steps", "epochs", "count", "points", "n_source", "n_target"):
            continue
        value = request.values[knob.name]
        bigger = knob.parse(min(knob.high, value * 2 if value else knob.high))
        try:
            cost = request.cost({**request.values, knob.name: bigger})
        except InputError:  # digits: the reservoirs bound the sizes
            continue
        assert cost >= base, knob.name
        grown += cost > base
    assert grown >= 1


@pytest.mark.unit
def test_the_named_value_is_the_largest_that_fits():
    """Over the budget, the error names a knob and a value that fits, while one step more would not."""
    request = budget.Request(AdaptationPageSettings(seeds=10, steps=3000), OPENING.replace(n_source=5000,
                                                                                          n_target=5000))
    with pytest.raises(InputError) as raised:
        request.check()
    assert raised.value.field == "steps"
    message = str(raised.value)
    assert "over the 20 s a run may take" in message and "(now 3000)" in message
    largest = int(message.split("at most ")[1].split(" ")[0])
    assert request.cost({**request.values, "steps": largest}) <= budget.WORK_BUDGET_S
    assert request.cost({**request.values, "steps": largest + 10}) > budget.WORK_BUDGET_S
    assert "\n" not in message


@pytest.mark.unit
def test_the_most_raised_knob_is_named_first():
    """Seeds raised from 3 to 10 at the default steps: seeds, not steps, is what the user raised."""
    request = budget.Request(LambdaSweepPageSettings(count=32, seeds=10), OPENING)
    with pytest.raises(InputError) as raised:
        request.check()
    assert raised.value.field == "seeds"


@pytest.mark.unit
def test_when_no_knob_alone_fits_the_message_says_so():
    cost = lambda values: values["a"] * values["b"]  # noqa: E731
    knobs = [Knob("a", int, 1, "A", "", low=10, high=100, step=1), Knob("b", int, 1, "B", "", low=10, high=100, step=1)]
    with pytest.raises(InputError, match="even with one setting at its lowest"):
        budget.check(cost, {"a": 50, "b": 50}, knobs, limit=50)


@pytest.mark.unit
def test_work_adds_up_and_describes_itself():
    one = budget.minibatch_loop(300, {"source_only": 3, "mmd": 3}, pool=500)
    assert (one + one).seconds == pytest.approx(2 * one.seconds)
    assert one.times(3).seconds == pytest.approx(3 * one.seconds)
    assert budget.total([one, one, one]).seconds == pytest.approx(3 * one.seconds)
    assert budget.describe(0.4) == "under 2 s" and budget.describe(12.2) == "about 13 s"


@pytest.mark.unit
def test_label_spreading_makes_a_large_pool_cost_more_for_self_training_only():
    small, large = (budget.minibatch_loop(300, {"self_training": 3}, pool=n).seconds for n in (500, 5000))
    assert large > 5 * small
    plain = [budget.minibatch_loop(300, {"source_only": 3}, pool=n).seconds for n in (500, 5000)]
    assert plain[0] == plain[1]


@pytest.mark.cli
def test_a_command_over_the_budget_is_one_line_naming_the_flag(capsys):
    """The attack case: train at 5,000 points × 10 seeds × 3,000 steps (was accepted: minutes of work)."""
    assert main(["train", "n_source=5000", "n_target=5000", "--steps", "3000", "--seeds", "10"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: --steps: this run would take about")
    assert "at most" in err[0]


@pytest.mark.parametrize("args, flag", [
    (["sweep", "--lambdas", ",".join(str(v) for v in range(32)), "--seeds", "10", "--steps", "3000"], "--steps"),
    (["sweep", "--lambdas", ",".join(str(v) for v in range(32)), "--seeds", "10", "--steps", "100",
      "n_source=5000", "n_target=5000", "n_test=5000"], "--seeds"),
    (["bound", "--vary", "rotation=0,10,20,30,40,50,60,70,80", "--seeds", "10", "n_source=5000", "n_target=5000",
      "n_test=5000"], "--vary"),
    (["images", "dataset=digits", "--seeds", "10"], "--seeds"),
    (["matrix", "--seeds", "10"], "--seeds"),
    (["efficiency", "--seeds", "10", "--epochs", "1000"], "--epochs"),
    (["shift", "n_source=5000", "n_target=5000", "--permutations", "10000"], "--permutations"),
    (["train", "--budget", "0"], "--budget"),
    (["train", "--budget", "3601"], "--budget"),
])
@pytest.mark.cli
def test_every_command_refuses_work_over_its_budget(args, flag, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {flag}: "), err


@pytest.mark.cli
def test_a_larger_budget_lets_a_command_through(monkeypatch, capsys):
    """--budget raises the limit of the command line (the pages keep theirs); the run is replaced by a stand-in."""
    def stand_in(*args, **kwargs):
        raise InputError("stand-in", "the run would start here")

    monkeypatch.setattr("core.labs.adaptation.run_adaptation", stand_in)
    assert main(["train", "--steps", "3000", "--seeds", "10"]) == 2
    assert capsys.readouterr().err.startswith("error: --steps: this run would take")
    assert main(["train", "--steps", "3000", "--seeds", "10", "--budget", "600"]) == 2
    assert capsys.readouterr().err == "error: stand-in: the run would start here\n"


@pytest.mark.unit
def test_the_check_bounds_its_permutations_and_sees_at_most_its_sample_of_rows():
    assert check_work(200_000, 200_000).seconds == pytest.approx(check_work(200_000, 200_000).seconds)
    assert check_work(200_000, 200_000).seconds < budget.WORK_BUDGET_S  # the divergences see 2,000 rows per table
    assert check_budget(200_000, 200_000) <= budget.WORK_BUDGET_S
    with pytest.raises(InputError) as raised:
        check_budget(2000, 2000, n_permutations=10_000)
    assert raised.value.field == "permutations" and "at most" in str(raised.value)


@pytest.mark.unit
def test_the_shift_report_names_the_size_to_lower():
    with pytest.raises(InputError) as raised:
        report_budget(OPENING.replace(n_source=5000, n_target=5000), n_permutations=10_000, pad_seeds=20)
    assert raised.value.field in ("permutations", "pad_seeds", "n_source", "n_target")
    assert report_budget(OPENING) < budget.SHOW_ESTIMATE_FROM_S


@pytest.mark.unit
def test_requests_keep_their_own_work_function():
    request = budget.Request(TransferMapPageSettings(), OPENING, work_of=lambda s, sc: s.work(sc, rows=(3,)))
    assert request.work.seconds < budget.Request(TransferMapPageSettings(), OPENING).work.seconds
    lowered = request.with_values({**request.values, "seeds": 1})
    assert lowered.work_of is request.work_of and lowered.settings.seeds == 1
    assert dataclasses.replace(request, scenario=OPENING).work.seconds == pytest.approx(request.work.seconds)
    assert np.isfinite(request.work.seconds)
