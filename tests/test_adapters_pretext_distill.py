"""Adapters, distillation from the source network and self-supervised pretraining: their known answers."""

import dataclasses

import numpy as np
import pytest
import torch

from core.errors import InputError
from core.labs import finetune_runs
from core.labs.finetune_runs import run_finetuning
from core.nn.models import BatchedMLP, seeded_generator
from core.nn.networks import Architecture, Networks
from core.scenario import Scenario
from core.training.finetune import (
    FinetuneSettings,
    fit_by_size,
    layer_rate_schedule,
    trained_parameters,
)
from core.training.pretext import QUARTER_TURNS, pretrain_by_rotation, rotated_copies
from tests.test_finetune import QUICK, SMALL  # the fine-tuning tests' quick settings and small scenario

pytestmark = pytest.mark.unit


def _points(run, strategy: str, key: str = "target_acc") -> list[float]:
    return [p[key] for p in run.points if p["strategy"] == strategy]


# --- adapters ---------------------------------------------------------------------------------------------


def test_adapters_with_a_zero_up_projection_compute_exactly_the_frozen_network():
    plain = BatchedMLP(3, 2, (16, 8), 2, generator=[seeded_generator(s) for s in range(3)], device="cpu")
    adapted = BatchedMLP(3, 2, (16, 8), 2, generator=[seeded_generator(s) for s in range(3)], device="cpu",
                         adapter_width=4)
    for a, b in zip(list(plain.weights) + list(plain.biases), list(adapted.weights) + list(adapted.biases)):
        assert torch.equal(a, b)  # the adapters are drawn after the layers: the layers' draws do not change
    assert [tuple(p.shape[1:]) for p in adapted.adapters] == [(16, 4), (4,), (4, 16), (16,), (8, 4), (4,), (4, 8),
                                                              (8,)]
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(adapted(x), plain(x))
    with torch.no_grad():
        adapted.adapters[2].add_(0.5)  # a non-zero up-projection changes the output
    assert not torch.allclose(adapted(x), plain(x))


def test_networks_with_adapters_round_trip_and_keep_their_outputs():
    net = Architecture((12, 12)).build(2, 2, 3, generator=[seeded_generator(1), seeded_generator(2)], device="cpu")
    networks = Networks.from_net(net, np.zeros((2, 2)), np.ones((2, 2)))
    with_adapters = networks.with_adapters(4, [5, 6])
    assert with_adapters.architecture.adapter_width == 4 and len(with_adapters.adapters) == 8
    x = np.random.default_rng(0).normal(size=(30, 2))
    np.testing.assert_array_equal(with_adapters.predict_proba(x), networks.predict_proba(x))
    again = Networks.from_net(with_adapters.network(), with_adapters.mean, with_adapters.std)
    for a, b in zip(again.parameters, with_adapters.parameters):
        np.testing.assert_array_equal(a, b)
    both = Networks.concatenate([with_adapters.select([1]), with_adapters.select([0])])
    np.testing.assert_array_equal(both.adapters[0][0], with_adapters.adapters[0][1])


def test_the_adapter_strategy_trains_only_its_adapters_and_the_head():
    settings = dataclasses.replace(QUICK, adapter_width=3)
    prepared = finetune_runs.prepare_finetuning(SMALL, ["full_finetune", "adapter"], [5], 1, settings, device="cpu")
    assert prepared.problem.rates.shape[-1] == 4 + 1  # 4 layers and the adapters' column
    tuned, _ = fit_by_size(prepared.starts, prepared.problem, torch.device("cpu"))
    full, adapter = 0, 1
    for before, after in zip(prepared.starts.weights[:-1], tuned.weights[:-1]):
        np.testing.assert_array_equal(after[adapter], before[adapter])  # the body is frozen
        assert np.abs(after[full] - before[full]).max() > 1e-4
    assert np.abs(tuned.weights[-1][adapter] - prepared.starts.weights[-1][adapter]).max() > 1e-4  # the head trains
    for before, after in zip(prepared.starts.adapters, tuned.adapters):
        np.testing.assert_array_equal(after[full], before[full])  # other strategies leave their adapters alone
    assert max(np.abs(a[adapter] - b[adapter]).max() for a, b in zip(tuned.adapters, prepared.starts.adapters)) > 1e-4


def test_adapters_in_the_batch_leave_every_other_strategy_bit_for_bit_as_without_them():
    strategies = ["scratch", "full_finetune", "l2sp"]
    without = run_finetuning(SMALL, strategies, [2, 5], n_seeds=2, settings=QUICK, device="cpu")
    beside = run_finetuning(SMALL, strategies + ["adapter"], [2, 5], n_seeds=2, settings=QUICK, device="cpu")
    for strategy in strategies:
        assert _points(beside, strategy) == _points(without, strategy)
        assert _points(beside, strategy, "source_acc") == _points(without, strategy, "source_acc")


def test_trained_parameters_count_what_each_schedule_trains():
    architecture, settings = Architecture((32, 32, 32)), FinetuneSettings(adapter_width=4, partial_layers=2)
    count = lambda s: trained_parameters(s, settings, architecture, 2, 2)  # noqa: E731
    layers = [2 * 32 + 32, 32 * 32 + 32, 32 * 32 + 32, 32 * 2 + 2]
    assert count("scratch") == count("full_finetune") == count("self_supervised") == sum(layers)
    assert count("feature_extraction") == layers[-1]
    assert count("partial") == sum(layers[-2:])
    assert count("adapter") == layers[-1] + 3 * (2 * 4 * 32 + 4 + 32)
    schedule = layer_rate_schedule("adapter", settings, 4, adapter_column=True)
    assert schedule.shape == (settings.epochs, 5)
    assert (schedule[:, :3] == 0).all() and (schedule[:, 3] == settings.finetune_lr).all()
    assert (schedule[:, 4] == settings.lr).all()
    assert (layer_rate_schedule("full_finetune", settings, 4, adapter_column=True)[:, 4] == 0).all()


def test_a_run_reports_the_parameters_each_strategy_trains():
    run = run_finetuning(SMALL, ["scratch", "feature_extraction", "adapter"], [2], n_seeds=1, settings=QUICK,
                         device="cpu")
    assert run.trained_parameters == {"scratch": 2274, "feature_extraction": 66, "adapter": 66 + 3 * 292}
    assert run.to_json()["trained_parameters"] == run.trained_parameters


# --- distillation from the source network -------------------------------------------------------------------


def test_distillation_with_weight_zero_equals_full_finetuning():
    settings = dataclasses.replace(QUICK, distill_weight=0.0)
    run = run_finetuning(SMALL, ["full_finetune", "distill"], [2, 5], n_seeds=2, settings=settings, device="cpu")
    assert _points(run, "distill") == _points(run, "full_finetune")
    order = [p["strategy"] for p in run.points]
    rows = {s: [i for i, name in enumerate(order) if name == s] for s in ("full_finetune", "distill")}
    for weights in run.networks.weights:
        np.testing.assert_array_equal(weights[rows["distill"]], weights[rows["full_finetune"]])


def test_distillation_teaches_the_source_networks_answers_on_unlabelled_pool_points_only():
    settings = dataclasses.replace(QUICK, distill_weight=0.5)
    prepared = finetune_runs.prepare_finetuning(SMALL, ["full_finetune", "distill"], [3], 1, settings, device="cpu")
    problem = prepared.problem
    full, distill = 0, 1
    assert int((problem.weights[distill] > 0).sum()) == 6 and int((problem.soft_weights[full] > 0).sum()) == 0
    taught = problem.soft_weights[distill] > 0
    assert int(taught.sum()) == 200 and not bool((taught & (problem.weights[distill] > 0)).any())
    assert float(problem.soft_weights[distill].sum()) == pytest.approx(0.5)
    pool = prepared.datasets[0].target_pool_x
    taught_x = problem.inputs[distill][taught].numpy() * prepared.starts.std[distill] + prepared.starts.mean[distill]
    nearest = np.abs(taught_x[:, None, :] - pool[None, :, :]).max(axis=2).min(axis=1)
    assert nearest.max() < 1e-5  # every taught point is a pool point
    source = prepared.starts.select([distill]).network()(problem.inputs[distill:distill + 1])
    expected = torch.softmax(source / 2.0, dim=-1)[0]
    torch.testing.assert_close(problem.soft_targets[distill], expected)


def test_a_strong_distillation_keeps_more_source_accuracy_than_full_finetuning():
    run = run_finetuning(SMALL, ["full_finetune", "distill"], [5], n_seeds=2, settings=QUICK, device="cpu",
                         strengths={"distill": (1.0,)})
    assert np.mean(_points(run, "distill", "source_acc")) > np.mean(_points(run, "full_finetune", "source_acc"))
    assert all(p["strength"] == 1.0 for p in run.points if p["strategy"] == "distill")


# --- strengths ----------------------------------------------------------------------------------------------


def test_a_run_with_strengths_trains_each_strength_as_a_run_with_that_setting_would():
    varied = run_finetuning(SMALL, ["full_finetune", "l2sp", "replay"], [3], n_seeds=2, settings=QUICK, device="cpu",
                            strengths={"l2sp": (0.1, 10.0), "replay": (2, 8)})
    assert [(p["strategy"], p.get("strength")) for p in varied.points][::2] == [
        ("full_finetune", None), ("l2sp", 0.1), ("l2sp", 10.0), ("replay", 2.0), ("replay", 8.0)]
    single = run_finetuning(SMALL, ["l2sp", "replay"], [3], n_seeds=2, device="cpu",
                            settings=dataclasses.replace(QUICK, l2sp_weight=10.0, replay_per_class=8))
    for strategy, strength in (("l2sp", 10.0), ("replay", 8.0)):
        picked = [p["target_acc"] for p in varied.points if p["strategy"] == strategy and p["strength"] == strength]
        assert picked == _points(single, strategy)


@pytest.mark.parametrize("strengths, field", [({"partial": (1,)}, "strengths"), ({"ewc": (1.0,)}, "strengths"),
                                              ({"l2sp": (-1.0,)}, "l2sp_weight"),
                                              ({"replay": (500,)}, "replay_per_class")])
def test_bad_strengths_are_one_clear_error(strengths, field):
    with pytest.raises(InputError) as error:
        run_finetuning(SMALL, ["full_finetune", "l2sp", "replay"], [2], n_seeds=1, settings=QUICK, device="cpu",
                       strengths=strengths)
    assert error.value.field == field


# --- self-supervised pretraining ---------------------------------------------------------------------------


def test_rotated_copies_turn_points_and_images_by_quarter_turns():
    points = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    turned, turns = rotated_copies(points, None)
    np.testing.assert_array_equal(turned, [[1, 0], [0, 2], [0, 1], [-2, 0], [-1, 0], [0, -2], [0, -1], [2, 0]])
    assert turns.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    image = np.arange(2 * 3 * 3, dtype=np.float32).reshape(1, -1)  # two channels of 3 × 3
    turned, _ = rotated_copies(image, (2, 3, 3))
    first = turned[1].reshape(2, 3, 3)
    np.testing.assert_array_equal(first[0], np.rot90(np.arange(9).reshape(3, 3)))
    np.testing.assert_array_equal(turned[2].reshape(2, 3, 3)[1], np.rot90(np.arange(9, 18).reshape(3, 3), 2))
    with pytest.raises(InputError):
        rotated_copies(np.zeros((2, 3)), None)
    with pytest.raises(InputError):
        rotated_copies(np.zeros((1, 6)), (1, 2, 3))


def test_the_rotation_pretext_is_learned_without_a_label_of_either_domain():
    data = finetune_runs.generate(SMALL)
    architecture = Architecture(QUICK.hidden)
    pretext = pretrain_by_rotation(data.source_x, [0, 1], architecture, 300, QUICK.lr, torch.device("cpu"))
    assert pretext.n_classes == QUARTER_TURNS
    standardised = (data.source_x - pretext.mean[0]) / pretext.std[0]
    turned, turns = rotated_copies(standardised, None)
    raw = turned * pretext.std[0] + pretext.mean[0]  # back to the inputs' units: the networks standardise
    accuracy = pretext.accuracy(raw, turns)
    assert (accuracy > 0.6).all()  # chance is 0.25


def test_self_supervised_pretraining_starts_from_the_pretext_body_with_a_new_head_and_beats_scratch():
    prepared = finetune_runs.prepare_finetuning(SMALL, ["full_finetune", "self_supervised"], [5], 2, QUICK,
                                                device="cpu")
    sources = prepared.sources[1][0]
    pretext = [m for m, model in enumerate(prepared.plan) if model.strategy == "self_supervised"]
    assert prepared.starts.n_classes == 2
    assert not np.array_equal(prepared.starts.weights[0][pretext], sources.weights[0])  # not the supervised body
    run = run_finetuning(Scenario(rotation=35), ["scratch", "self_supervised"], [5], n_seeds=3, settings=QUICK,
                         device="cpu")
    assert np.mean(_points(run, "self_supervised")) > np.mean(_points(run, "scratch")) + 0.02
