"""The Forgetting lab, chart, command and page: the trade-off of the remedies for forgetting against full
fine-tuning, with known answers on hand-made points and one small real run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.__main__ import main
from core.errors import InputError
from core.figures import forgetting as figures
from core.figures.forgetting import PRETRAINED, X_TITLE, Y_TITLE, label_sides, trade_off_frame
from core.figures.parts import STRATEGY_COLOURS, STRATEGY_MARKERS
from core.labs.finetune_runs import run_finetuning
from core.labs.forgetting import (
    FREE_MARGIN,
    ForgettingPageSettings,
    run_forgetting,
    summarise,
    trade_off,
    verdict,
)
from core.metrics.paired import one_sided_p
from core.scenario import Scenario
from core.talk.safe_codec import dumps, loads
from tests.apptest_helpers import result_downloads
from tests.test_pages import assert_clean, plotly_specs

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "forgetting.py")
SMALL = Scenario(rotation=35, n_source=200, n_target=200, n_test=300)
QUICK = ForgettingPageSettings(seeds=2, epochs=30, l2sp_weights=(1.0,), ewc_weights=(1.0, 100.0),
                               replay_counts=(5, 50), distill_weights=(0.01, 1.0))
PRETRAINED_ACC = {0: (0.70, 1.00), 1: (0.72, 0.98), 2: (0.74, 0.99)}  # seed: (target, source) before fine-tuning


def pretrained(seeds=(0, 1, 2)):
    return [{"seed": s, "target_acc": PRETRAINED_ACC[s][0], "source_acc": PRETRAINED_ACC[s][1]} for s in seeds]


def model(strategy, strength, seed, target, source):
    """A point as run_finetuning scores it; ``target`` None: the model diverged."""
    point = {"strategy": strategy, "labels_per_class": 5, "seed": seed, "target_acc": target,
             "source_acc": None if target is None else source,
             "diverged": f"{strategy} (seed {seed}) diverged at step 3" if target is None else None}
    return point if strength is None else {**point, "strength": strength}


def full_finetune(seeds=(0, 1, 2), targets=(0.90, 0.92, 0.94), sources=(0.90, 0.91, 0.92)):
    return [model("full_finetune", None, s, t, src) for s, t, src in zip(seeds, targets, sources)]


def shifted(strategy, strength, target_by, source_by, seeds=(0, 1, 2)):
    """A remedy point whose seeds differ from full fine-tuning's by ``target_by`` and ``source_by`` (per seed)."""
    reference = {p["seed"]: p for p in full_finetune()}
    return [model(strategy, strength, s, reference[s]["target_acc"] + dt, reference[s]["source_acc"] + ds)
            for s, dt, ds in zip(seeds, target_by, source_by)]


def trade_off_figure(summary):
    return figures.trade_off_figure(summary)


def summary_of(points, seeds=(0, 1, 2)):
    return summarise(points, pretrained(seeds), Scenario(rotation=35), 5, len(seeds))


# --- the summary and the verdict, on hand-made points -------------------------------------------------


@pytest.mark.unit
def test_the_summary_measures_each_seed_against_its_own_pretrained_network_and_full_finetuning():
    points = full_finetune() + shifted("ewc", 10.0, (-0.02, -0.03, -0.01), (0.05, 0.06, 0.04))
    summary = summary_of(points)
    reference, ewc = summary.points
    assert reference.strategy == "full_finetune" and reference.exchange is None
    assert reference.gained.mean == pytest.approx(100 * np.mean([0.90 - 0.70, 0.92 - 0.72, 0.94 - 0.74]))
    assert (reference.gained.low, reference.gained.high) == pytest.approx((20.0, 20.0))
    assert reference.source.mean == pytest.approx(0.91)
    assert (ewc.strategy, ewc.strength, ewc.name, ewc.seeds) == ("ewc", 10.0, "EWC λ=10", 3)
    assert ewc.gained.low == pytest.approx(17.0) and ewc.gained.high == pytest.approx(19.0)
    assert ewc.exchange.kept == pytest.approx(5.0) and ewc.exchange.given_up == pytest.approx(2.0)
    assert ewc.exchange.per_point == pytest.approx(2.5) and not ewc.exchange.free
    assert ewc.exchange.p_value == pytest.approx(one_sided_p(-np.array([5.0, 6.0, 4.0])))
    assert summary.pretrained_source.mean == pytest.approx(0.99)


@pytest.mark.unit
def test_a_point_that_gives_up_nothing_dominates_one_that_pays_for_more():
    points = (full_finetune()
              + shifted("l2sp", 100.0, (-0.06, -0.06, -0.06), (0.08, 0.08, 0.08))  # 8 kept for 6: 1.33 per point
              + shifted("replay", 20.0, (-0.005, 0.0, -0.005), (0.03, 0.035, 0.04))  # 3.5 kept for 0.33: free
              + shifted("replay", 50.0, (0.01, 0.0, 0.01), (0.02, 0.03, 0.025)))  # keeps less, gains target
    result = verdict(summary_of(points))
    assert (result.best.strategy, result.best.strength) == ("replay", 20.0) and not result.tied
    assert result.best.exchange.given_up <= FREE_MARGIN
    text = result.text
    assert text.startswith("At rotation 35° with 5 labels per class over 3 seeds, Replay k=20 kept the most source")
    assert "+3.5 source points" in text and "within the 1-point margin" in text and "p = " in text
    assert "never with another remedy" in text and text.endswith(".") and ". " not in text  # one sentence


@pytest.mark.unit
def test_without_a_free_point_the_best_exchange_rate_wins():
    points = (full_finetune()
              + shifted("l2sp", 10.0, (-0.02, -0.02, -0.02), (0.04, 0.04, 0.04))  # 2.0 per point
              + shifted("distill", 0.1, (-0.03, -0.03, -0.03), (0.09, 0.09, 0.09)))  # 3.0 per point
    result = verdict(summary_of(points))
    assert result.best.name == "Distillation (LwF) β=0.1"
    assert "3.00 source points per target point given up, +9.0 source points" in result.text
    frame = trade_off_frame(summary_of(points))
    assert list(frame["kept per point given up"]) == ["reference", "2.00", "3.00"]


@pytest.mark.unit
def test_equal_shown_values_tie_and_the_tie_goes_to_the_point_that_gives_up_less():
    points = (full_finetune()
              + shifted("ewc", 1000.0, (-0.006,) * 3, (0.046,) * 3)
              + shifted("replay", 50.0, (0.003,) * 3, (0.046,) * 3))
    result = verdict(summary_of(points))
    assert result.best.name == "Replay k=50" and [p.name for p in result.tied] == ["EWC λ=1000"]
    assert "tied at the precision shown with EWC λ=1000" in result.text


@pytest.mark.unit
def test_a_remedy_that_keeps_nothing_is_never_named():
    keeps_nothing = shifted("replay", 1.0, (0.0, 0.01, 0.0), (0.0, -0.01, 0.0))
    alone = verdict(summary_of(full_finetune() + keeps_nothing))
    assert alone.best is None
    assert "no remedy point kept source accuracy against full fine-tuning" in alone.text
    assert "the most any kept was -0.3 points (Replay k=1)" in alone.text
    with_another = verdict(summary_of(full_finetune() + keeps_nothing
                                      + shifted("ewc", 10.0, (-0.02,) * 3, (0.01,) * 3)))
    assert with_another.best.name == "EWC λ=10"


@pytest.mark.unit
def test_diverged_models_are_left_out_of_the_means_and_the_pairs():
    reference = full_finetune()
    reference[1] = model("full_finetune", None, 1, None, None)  # full fine-tuning diverged on seed 1
    ewc = shifted("ewc", 10.0, (-0.01, -0.01, -0.01), (0.03, 0.05, 0.04))
    lost = [model("replay", 5.0, s, None, None) for s in (0, 1, 2)]
    summary = summary_of(reference + ewc + lost)
    full, ewc_point, replay = summary.points
    assert (full.seeds, full.diverged) == (2, 1)
    assert ewc_point.exchange.pairs == 2 and ewc_point.exchange.kept == pytest.approx(3.5)
    assert (replay.seeds, replay.diverged, replay.exchange) == (0, 3, None)
    result = verdict(summary)
    assert result.best.name == "EWC λ=10"
    assert "Replay k=5 diverged on every seed that full fine-tuning trained on and is left out" in result.text
    assert "Replay" not in {trace.name for trace in trade_off_figure(summary).data}
    everything_lost = [model("full_finetune", None, s, None, None) for s in (0, 1, 2)] + ewc
    assert "full fine-tuning diverged on every seed" in verdict(summary_of(everything_lost)).text


@pytest.mark.unit
def test_with_one_seed_nothing_is_tested_and_the_sentence_says_so():
    points = full_finetune(seeds=(0,), targets=(0.9,), sources=(0.9,)) + shifted("ewc", 10.0, (-0.01,), (0.05,),
                                                                                  seeds=(0,))
    summary = summary_of(points, seeds=(0,))
    (_, ewc) = summary.points
    assert ewc.exchange.p_value is None and not ewc.exchange.significant
    text = verdict(summary).text
    assert "over 1 seed," in text and "one seed: not tested" in text


# --- the chart ----------------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_chart_has_one_marker_per_strategy_and_strength_and_titled_axes():
    points = (full_finetune() + shifted("l2sp", 1.0, (0.0,) * 3, (0.02,) * 3)
              + shifted("l2sp", 10.0, (-0.02,) * 3, (0.04,) * 3) + shifted("ewc", 100.0, (-0.01,) * 3, (0.05,) * 3))
    drawn = trade_off_figure(summary_of(points))
    figure = drawn.to_plotly_json()
    layout, traces = figure["layout"], figure["data"]
    assert layout["title"]["text"].startswith("What each remedy keeps and gives up (5 labels per class")
    assert [a["text"] for a in layout["annotations"]] == ["L2-SP", "EWC"]  # one panel per remedy
    assert layout["xaxis"]["title"]["text"] == layout["xaxis2"]["title"]["text"] == X_TITLE
    assert layout["yaxis"]["title"]["text"] == Y_TITLE
    remedies = {t["name"]: list(t["text"]) for t in traces if t["name"] in ("L2-SP", "EWC")}
    assert remedies == {"L2-SP": ["α=1", "α=10"], "EWC": ["λ=100"]}
    (ewc,) = [t for t in traces if t["name"] == "EWC"]
    assert ewc["marker"]["color"] == STRATEGY_COLOURS["ewc"] and ewc["marker"]["symbol"] == STRATEGY_MARKERS["ewc"]
    assert ewc["x"][0] == pytest.approx(19.0) and ewc["y"][0] == pytest.approx(0.96)
    (bars,) = [t for t in drawn.data if t.name == "EWC"]  # every seed gains alike; sources 95-97%
    assert bars.error_x.arrayminus[0] == pytest.approx(0.0) and bars.error_y.array[0] == pytest.approx(0.01)
    references = [t for t in traces if t["name"] == "Full fine-tuning (the reference)"]
    befores = [t for t in traces if t["name"] == PRETRAINED]
    assert len(references) == len(befores) == 2 and [t["showlegend"] for t in references] == [True, False]
    assert list(befores[0]["x"]) == [0.0] and befores[0]["y"][0] == pytest.approx(0.99)
    assert layout["legend"]["y"] > 1  # above the plot, never over it


@pytest.mark.unit
def test_labels_of_close_markers_take_sides_that_cover_neither_marker_nor_each_other():
    xy = np.array([[100.0, 100.0], [112.0, 102.0], [300.0, 100.0]])
    sides = label_sides(xy, ["λ=10", "λ=100", "λ=1"], np.array([[320.0, 114.0]]), (400.0, 200.0))
    assert sides[:2] == ["bottom left", "top right"]  # the two close markers' labels go different ways
    assert sides[2] == "bottom left"  # a reference marker sits where its first choice would be
    assert label_sides(np.array([[395.0, 195.0]]), ["β=0.0001"], np.empty((0, 2)), (400.0, 200.0)) == ["bottom left"]


# --- a real run, the command line, the settings ---------------------------------------------------------


@pytest.mark.unit
@pytest.mark.usefixtures("one_torch_thread")
def test_a_real_run_trains_full_finetuning_as_a_plain_run_does_and_round_trips():
    run = run_forgetting(SMALL, QUICK, device="cpu")
    plain = run_finetuning(SMALL, ("full_finetune",), (5,), 2, QUICK.finetune_settings(), device="cpu")
    ours = [p for p in run.points if p["strategy"] == "full_finetune"]
    assert run.pretrained == plain.pretrained  # the same pretrained networks
    # the batches differ (bucket sizes, paddings): float32 rounding may at most flip one test point's prediction
    for a, b in zip(ours, plain.points, strict=True):
        assert {k: v for k, v in a.items() if not k.endswith("_acc")} == {k: v for k, v in b.items()
                                                                           if not k.endswith("_acc")}
        assert a["target_acc"] == pytest.approx(b["target_acc"], abs=1.01 / SMALL.n_test)
        assert a["source_acc"] == pytest.approx(b["source_acc"], abs=1.01 / SMALL.n_source)
    strengths = {(p["strategy"], p.get("strength")) for p in run.points}
    assert len(strengths) == 1 + 1 + 2 + 2 + 2 and len(run.points) == 2 * len(strengths)
    summary = trade_off(run)
    assert [p.name for p in summary.points][:3] == ["Full fine-tuning", "L2-SP α=1", "EWC λ=1"]
    answer = run.to_json()
    assert answer["verdict"] == verdict(summary).text and len(answer["summary"]) == len(strengths)
    back = loads(dumps(run))
    assert back == run and isinstance(back.settings, ForgettingPageSettings)


@pytest.mark.unit
def test_settings_check_their_values_and_cap_the_labels_on_digits():
    with pytest.raises(InputError, match="^ewc_weights: expected"):
        ForgettingPageSettings(ewc_weights=(-1.0,))
    with pytest.raises(InputError, match="^remedies: expected"):
        ForgettingPageSettings(remedies=())
    with pytest.raises(InputError, match=r"^labels: expected integers in \[1, 20\]"):
        ForgettingPageSettings(labels=50).labels_for(Scenario(dataset="digits"))
    assert ForgettingPageSettings(labels=50).labels_for(SMALL) == (50,)
    assert ForgettingPageSettings(remedies=("ewc",), l2sp_weights=(5.0,)).trained() == ForgettingPageSettings(
        remedies=("ewc",))


@pytest.mark.cli
@pytest.mark.usefixtures("one_torch_thread")
def test_the_command_prints_the_table_and_the_verdict(capsys, monkeypatch):
    monkeypatch.setattr("core.device._threads_configured", True)  # keep the module's one torch thread
    keys = [f"{k}={v}" for k, v in SMALL.changed().items()]
    assert main(["forgetting", *keys, "--seeds", "2", "--epochs", "30", "--remedies", "ewc,replay",
                 "--ewc-weights", "1,100", "--replay-counts", "5,50"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "5 labels per class; means over 2 seeds" in out[0]
    assert out[1].split()[:2] == ["strategy", "strength"]
    assert [line.split()[0] for line in out[2:7]] == ["Full", "EWC", "EWC", "Replay", "Replay"]
    assert out[7].startswith("At n_source=200, n_target=200, n_test=300, rotation=35 with 5 labels per class")
    assert "never with another remedy" in out[7] and out[8].startswith("Transfer setting (Pan & Yang 2010): inductive")
    assert len(out) == 9


@pytest.mark.cli
@pytest.mark.parametrize("args, flag", [
    (["forgetting", "--seeds", "10", "--epochs", "1000", "--labels", "100"], "--labels"),
    (["forgetting", "dataset=digits", "--labels", "50"], "--labels"),
    (["forgetting", "--distill-weights", "5"], "--distill-weights"),
])
def test_the_command_refuses_bad_or_too_large_requests_in_one_line(args, flag, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {flag}: "), err


# --- the page ---------------------------------------------------------------------------------------------


def run_page(query=None, **state):
    at = AppTest.from_file(PAGE, default_timeout=300)
    for key, value in {**{k: str(v) for k, v in SMALL.changed().items()}, **(query or {})}.items():
        at.query_params[key] = value
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


SMALL_FORM = dict(forgetting_remedies=["ewc", "distill"], forgetting_seeds=2, forgetting_epochs=30,
                  forgetting_ewc_weights=[1.0, 100.0], forgetting_distill_weights=[0.01, 1.0])


@pytest.mark.apptest
@pytest.mark.usefixtures("one_torch_thread")
def test_the_page_shows_the_verdict_the_chart_the_table_and_the_losses():
    at = run_page(**SMALL_FORM)
    assert_clean(at)
    assert at.title[0].value == "Forgetting"
    (spec,) = plotly_specs(at)
    assert spec["layout"]["xaxis"]["title"]["text"] == X_TITLE
    names = [t["name"] for t in spec["data"]]
    assert "EWC" in names and "Distillation (LwF)" in names and "L2-SP" not in names
    verdicts = [box.value for box in [*at.success, *at.info] if "labels per class over 2 seeds" in box.value]
    assert len(verdicts) == 1 and "full fine-tuning" in verdicts[0]
    frame = at.dataframe[0].value
    assert list(frame["strength"]) == ["—", "λ=1", "λ=100", "β=0.01", "β=1"]
    assert len(at.latex) == 3 and len(result_downloads(at)) == 2
    assert at.session_state["forgetting_saved_settings"]["epochs"] == 30


@pytest.mark.apptest
@pytest.mark.usefixtures("one_torch_thread")
def test_the_page_in_presenter_mode_and_an_empty_selection():
    at = run_page({"present": "1"}, **{**SMALL_FORM, "forgetting_remedies": ["replay"],
                                       "forgetting_replay_counts": [0, 20]})
    assert_clean(at)
    assert len(plotly_specs(at)) == 1 and at.table  # presenter mode: an HTML table
    empty = run_page(**{**SMALL_FORM, "forgetting_remedies": []})
    assert not empty.exception and len(empty.error) == 1
    assert empty.error[0].value.startswith("Remedies: expected")
