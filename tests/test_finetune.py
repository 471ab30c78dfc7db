"""The fine-tuning lab's engine: freezing, unfreezing schedules, L2-SP, batching, label subsets, quality."""

import dataclasses

import numpy as np
import pytest
import torch

from core.data.domains import generate
from core.errors import InputError
from core.labs import finetune_runs
from core.labs.efficiency import StrategyCurves, efficiency_curves, labels_to_match
from core.labs.finetune_runs import MAX_LABELS, labelled_subset, run_finetuning
from core.labs.negative_transfer import RULES, gain_map, rule_checks, rule_holds
from core.nn.models import BatchedMLP, seeded_generator
from core.nn.networks import Architecture
from core.nn.optim import BatchedAdam
from core.scenario import Scenario
from core.training.finetune import (
    STRATEGIES,
    FinetuneSettings,
    FitProblem,
    diagonal_fisher,
    fit_batched,
    fit_by_size,
    layer_rate_schedule,
    size_buckets,
    train_from_scratch,
)
from tests.numeric import FLOAT64_ATOL, in_float64

pytestmark = pytest.mark.unit

QUICK = FinetuneSettings(pretrain_steps=100, epochs=60, unfreeze_every=10)
SMALL = Scenario(rotation=35, n_source=200, n_target=200, n_test=300)


def _problem(schedule: np.ndarray, n_models: int = 1, n_points: int = 12, anchor: float | None = None):
    """A small fit on random data whose every model follows ``schedule`` ``[T, L]``."""
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randn(n_models, n_points, 2, generator=generator)
    labels = (inputs[..., 0] > 0).long()
    weights = torch.full((n_models, n_points), 1.0 / n_points)
    rates = torch.as_tensor(np.repeat(schedule[:, None, :], n_models, axis=1), dtype=torch.float32)
    strength = None if anchor is None else torch.full((n_models,), anchor)
    return FitProblem(inputs, labels, weights, rates, anchor_strength=strength)


def _net(settings: FinetuneSettings = QUICK, n_models: int = 1) -> BatchedMLP:
    return BatchedMLP(n_models, 2, settings.hidden, 2, generator=[seeded_generator(7 + m) for m in range(n_models)],
                      device="cpu")


def _snapshot(net: BatchedMLP) -> list[torch.Tensor]:
    return [p.detach().clone() for p in list(net.weights) + list(net.biases)]


def _changed_layers(before, net) -> list[bool]:
    after = _snapshot(net)
    n = net.n_layers
    return [not (torch.equal(before[i], after[i]) and torch.equal(before[n + i], after[n + i])) for i in range(n)]


# --- schedules and freezing -------------------------------------------------------------------------


def test_schedules_have_one_rate_per_epoch_and_layer_and_freeze_what_they_say():
    settings = dataclasses.replace(QUICK, partial_layers=2)
    L, tuned = settings.n_layers, settings.finetune_lr
    for strategy in STRATEGIES:
        assert layer_rate_schedule(strategy.name, settings).shape == (settings.epochs, L)
    assert (layer_rate_schedule("scratch", settings) == settings.lr).all()
    features = layer_rate_schedule("feature_extraction", settings)
    assert (features[:, :-1] == 0).all() and (features[:, -1] == settings.lr).all()
    partial = layer_rate_schedule("partial", settings)
    assert (partial[:, : L - 2] == 0).all() and (partial[:, L - 2:] == tuned).all()
    discriminative = layer_rate_schedule("discriminative", settings)[0]
    np.testing.assert_allclose(discriminative[1:] / discriminative[:-1], settings.discriminative_decay)
    assert discriminative[-1] == tuned


def test_progressive_unfreezing_schedule_is_a_staircase_from_the_top():
    settings = dataclasses.replace(QUICK, unfreeze_every=10, epochs=60)
    schedule = layer_rate_schedule("progressive", settings)
    first_epoch = [int(np.flatnonzero(schedule[:, layer] > 0)[0]) for layer in range(settings.n_layers)]
    assert first_epoch == [30, 20, 10, 0]  # layer 0 reads the inputs; layer 3 is the head
    assert (schedule[np.arange(60)[:, None] >= np.array(first_epoch)[None, :]] == settings.finetune_lr).all()


@pytest.mark.parametrize("strategy, trainable", [("feature_extraction", [False, False, False, True]),
                                                 ("partial", [False, False, True, True]),
                                                 ("full_finetune", [True, True, True, True])])
def test_frozen_layers_really_do_not_change(strategy, trainable):
    schedule = layer_rate_schedule(strategy, QUICK)
    net = _net()
    before = _snapshot(net)
    fit_batched(net, _problem(schedule))
    assert _changed_layers(before, net) == trainable


def test_progressive_unfreezing_trains_exactly_the_layers_its_schedule_has_unfrozen():
    settings = dataclasses.replace(QUICK, unfreeze_every=10, epochs=60)
    schedule = layer_rate_schedule("progressive", settings)
    for epochs, trainable in [(10, [False, False, False, True]), (11, [False, False, True, True]),
                              (21, [False, True, True, True]), (31, [True, True, True, True])]:
        net = _net(settings)
        before = _snapshot(net)
        fit_batched(net, _problem(schedule[:epochs]))
        assert _changed_layers(before, net) == trainable, epochs


def test_batched_adam_leaves_frozen_state_alone_so_a_late_layer_starts_fresh():
    """A model frozen for 20 steps and then trained equals a fresh torch Adam run of the remaining steps."""
    # float64: the two optimisers round the same update differently
    start = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.randn(3, 7, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    late = start.clone().requires_grad_()
    optimizer = BatchedAdam([late])
    for step in range(40):
        optimizer.zero_grad()
        ((x @ late) ** 2).sum().backward()
        optimizer.step(torch.tensor([0.01, 0.0 if step < 20 else 0.01, 0.01], dtype=torch.float64))
    assert optimizer.step_count(0).tolist() == [40.0, 20.0, 40.0]
    reference = start[1:2].clone().requires_grad_()
    adam = torch.optim.Adam([reference], lr=0.01)
    for _ in range(20):
        adam.zero_grad()
        ((x[1:2] @ reference) ** 2).sum().backward()
        adam.step()
    torch.testing.assert_close(late[1].detach(), reference[0].detach(), atol=FLOAT64_ATOL, rtol=0)


def test_l2sp_with_a_huge_weight_stays_at_the_source_weights_and_with_zero_equals_finetuning():
    schedule = layer_rate_schedule("l2sp", QUICK)
    anchored, free, plain = _net(), _net(), _net()
    start = _snapshot(anchored)
    fit_batched(anchored, _problem(schedule, anchor=1e6))
    fit_batched(free, _problem(schedule, anchor=0.0))
    fit_batched(plain, _problem(layer_rate_schedule("full_finetune", QUICK)))
    for before, after in zip(start, _snapshot(anchored)):
        torch.testing.assert_close(after, before, atol=1e-5, rtol=0)
    for a, b in zip(_snapshot(free), _snapshot(plain)):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    distance = sum(float((a - b).abs().max()) for a, b in zip(_snapshot(plain), start))
    assert distance > 0.01  # without the pull, fine-tuning does move the weights


def test_a_model_trained_in_a_padded_batch_equals_the_same_model_trained_alone():
    together = run_finetuning(SMALL, ["scratch", "full_finetune", "l2sp"], [2, 20], n_seeds=2, settings=QUICK,
                              device="cpu")
    alone = run_finetuning(SMALL, ["full_finetune"], [2], n_seeds=2, settings=QUICK, device="cpu")
    pick = lambda run: [p["target_acc"] for p in run.points  # noqa: E731
                        if p["strategy"] == "full_finetune" and p["labels_per_class"] == 2]
    np.testing.assert_allclose(pick(together), pick(alone), atol=1e-9)


def test_training_in_size_buckets_equals_one_padded_batch():
    prepared = finetune_runs.prepare_finetuning(SMALL, ["scratch", "full_finetune", "progressive"], [1, 5, 50], 2,
                                                QUICK, device="cpu")
    # The two paths sum each model's loss over differently padded rows: in float32 they drift apart by
    # rounding (1.2e-5 in 60 steps), so the comparison runs in float64, where only a real difference shows.
    problem = in_float64(prepared.problem)
    bucketed, _ = fit_by_size(prepared.starts, problem, torch.device("cpu"))
    net = prepared.starts.network("cpu", dtype=torch.float64)
    fit_batched(net, problem)
    assert len(size_buckets([2, 10, 100])) == 3
    assert bucketed.weights[0].dtype == np.float64
    for ours, reference in zip(bucketed.weights + bucketed.biases, list(net.weights) + list(net.biases)):
        np.testing.assert_allclose(ours, reference.detach().numpy(), rtol=0, atol=FLOAT64_ATOL)


def test_feature_extraction_keeps_the_pretrained_body_and_gets_a_new_head():
    run = run_finetuning(SMALL, ["feature_extraction"], [5], n_seeds=2, settings=QUICK, device="cpu")
    data = generate(SMALL.replace(labels_per_class=MAX_LABELS))
    seeds = [finetune_runs.model_seed(SMALL, s) for s in range(2)]
    source = train_from_scratch(data.source_x, data.source_y, seeds, Architecture(QUICK.hidden), 2,
                                QUICK.pretrain_steps, QUICK.lr, torch.device("cpu"))
    for layer in range(QUICK.n_layers - 1):
        np.testing.assert_array_equal(run.networks.weights[layer], source.weights[layer])
    assert not np.allclose(run.networks.weights[-1], source.weights[-1])
    np.testing.assert_allclose(run.networks.mean, source.mean)  # the pretrained model's preprocessing


# --- labelled subsets and labels ------------------------------------------------------------------------


def test_a_seeds_labelled_sets_are_nested_and_differ_across_seeds():
    data = generate(SMALL.replace(labels_per_class=MAX_LABELS))
    small_x, small_y = labelled_subset(data, 2, seed_index=0)
    large_x, large_y = labelled_subset(data, 10, seed_index=0)
    assert np.bincount(small_y).tolist() == [2, 2] and np.bincount(large_y).tolist() == [10, 10]
    assert {tuple(row) for row in small_x} <= {tuple(row) for row in large_x}
    other_x, _ = labelled_subset(data, 2, seed_index=1)
    assert {tuple(row) for row in other_x} != {tuple(row) for row in small_x}


def test_the_target_pool_labels_never_reach_fine_tuning(monkeypatch):
    real = finetune_runs.generate

    def scrambled(scenario):
        data = real(scenario)
        return dataclasses.replace(data, target_pool_y_oracle=np.random.default_rng(5).permutation(
            data.target_pool_y_oracle))

    strategies = ["scratch", "full_finetune", "adapt_finetune", "distill"]  # the last two read the pool
    settings = dataclasses.replace(QUICK, adapt_method="self_training", distill_weight=0.1)
    a = run_finetuning(SMALL, strategies, [2], n_seeds=1, settings=settings, device="cpu")
    monkeypatch.setattr(finetune_runs, "generate", scrambled)
    b = run_finetuning(SMALL, strategies, [2], n_seeds=1, settings=settings, device="cpu")
    for wa, wb in zip(a.networks.weights, b.networks.weights):
        np.testing.assert_array_equal(wa, wb)


def test_bad_input_is_one_clear_error():
    with pytest.raises(InputError, match="labels"):
        run_finetuning(SMALL, ["scratch"], [0])
    with pytest.raises(InputError, match="strategies"):
        run_finetuning(SMALL, ["nope"], [2])
    with pytest.raises(InputError, match="partial_layers"):
        FinetuneSettings(partial_layers=7)
    with pytest.raises(InputError, match="--vary"):
        run_finetuning(SMALL, ["scratch"], [2], knob="dataset", values=[1])
    with pytest.raises(InputError, match="rotation"):
        run_finetuning(SMALL, ["scratch"], [2], knob="rotation", values=[500])


# --- read-outs ------------------------------------------------------------------------------------------


def _curves(scratch, other):
    labels = np.array([1, 2, 5, 10])
    mean = {"target_acc": np.array([scratch, other], dtype=float), "source_acc": np.ones((2, 4))}
    return StrategyCurves(("scratch", "full_finetune"), labels, mean, mean, mean,
                          {"target_acc": 0.7, "source_acc": 1.0}, 3)


def test_labels_to_match_interpolates_on_a_log_scale_and_says_when_it_leaves_the_grid():
    curves = _curves([0.5, 0.6, 0.7, 0.8], [0.65, 0.45, 0.9, np.nan])
    needed = labels_to_match(curves, "full_finetune")
    assert [(r.labels, r.relation) for r in needed] == [(1, "about"), (2, "at most"), (5, "more than")]
    assert needed[0].needed == pytest.approx(np.exp(np.log(2) + 0.5 * (np.log(5) - np.log(2))))
    assert needed[0].saving == pytest.approx(needed[0].needed) and needed[2].text() == "> 10"


@pytest.mark.slow
def test_efficiency_finetuning_beats_scratch_with_two_labels_per_class_on_rotated_moons():
    """The issue's quality check, over 5 data seeds (3 model seeds each): fine-tuning wins by ≥ 0.1 on average."""
    gains = []
    for data_seed in range(5):
        run = run_finetuning(Scenario(rotation=35, seed=data_seed), ["scratch", "full_finetune"], [2], n_seeds=3,
                             device="cpu")
        curves = efficiency_curves(run)
        gains.append(curves.mean["target_acc"][curves.row("full_finetune"), 0]
                     - curves.mean["target_acc"][curves.row("scratch"), 0])
    assert np.mean(gains) >= 0.1, gains
    assert min(gains) > 0, gains


def test_concept_shift_removes_the_gain_of_transfer_and_a_flag_needs_the_paired_test():
    run = run_finetuning(Scenario(), ["scratch", "full_finetune", "feature_extraction"], [1, 2, 5], n_seeds=3,
                         knob="concept", values=[0.0, 1.0], device="cpu")
    grid = gain_map(run)
    gain = grid.gain["full_finetune"]
    assert (gain[0] > 0.05).all()  # no shift: transfer helps at every label count
    assert (gain[1] < gain[0] - 0.05).all()  # concept = 1: the source's labels are wrong on half the plane
    for strategy in grid.transfer_strategies:
        for verdict, negative in zip(grid.verdicts[strategy].ravel(), grid.negative(strategy).ravel()):
            assert negative == (verdict.mean_delta < -grid.margin and verdict.p_value < 0.05)
    assert grid.similar.tolist() == [True, False]
    holds = rule_holds(grid)
    assert holds.shape == (2, 3) and all(h in (True, False) for h in holds.ravel())
    checks = rule_checks(grid)
    assert len(checks) == len(RULES) and sum(c.cells for c in checks) == 6


# --- remedies for forgetting: EWC and replay ---------------------------------------------------------

def test_ewc_with_weight_zero_and_replay_with_no_samples_equal_full_finetuning():
    """Known answers: λ = 0 removes EWC's pull and k = 0 replays nothing, so both follow full fine-tuning exactly."""
    settings = dataclasses.replace(QUICK, ewc_weight=0.0, replay_per_class=0)
    run = run_finetuning(SMALL, ["full_finetune", "ewc", "replay"], [2, 5], n_seeds=2, settings=settings,
                         device="cpu")
    by = {s: [p["target_acc"] for p in run.points if p["strategy"] == s] for s in ("full_finetune", "ewc", "replay")}
    assert by["ewc"] == by["full_finetune"] and by["replay"] == by["full_finetune"]
    order = [p["strategy"] for p in run.points]
    rows = {s: [i for i, name in enumerate(order) if name == s] for s in by}
    for weights in run.networks.weights:
        np.testing.assert_array_equal(weights[rows["ewc"]], weights[rows["full_finetune"]])
        np.testing.assert_array_equal(weights[rows["replay"]], weights[rows["full_finetune"]])


def test_ewc_with_a_huge_weight_keeps_the_source_weights_and_replay_mixes_in_k_source_samples_per_class():
    settings = dataclasses.replace(QUICK, ewc_weight=1e6, replay_per_class=4)
    prepared = finetune_runs.prepare_finetuning(SMALL, ["full_finetune", "ewc", "replay"], [3], 1, settings,
                                                device="cpu")
    sizes = (prepared.problem.weights > 0).sum(dim=1).tolist()
    assert sizes == [3 * 2, 3 * 2, 3 * 2 + 4 * 2]  # replay: 3 target and 4 source samples per class
    assert sorted(prepared.problem.labels[2, 6:14].tolist()) == [0, 0, 0, 0, 1, 1, 1, 1]
    tuned, _ = fit_by_size(prepared.starts, prepared.problem, torch.device("cpu"))
    ewc = [m.strategy for m in prepared.plan].index("ewc")
    scales = prepared.problem.anchor_scale
    assert all(torch.equal(scale[0], torch.ones_like(scale[0])) for scale in scales)  # full fine-tuning: no pull
    params = lambda nets: nets.weights + nets.biases  # noqa: E731  (the order of the optimiser's parameters)
    held = moved = 0
    for after, before, scale in zip(params(tuned), params(prepared.starts), scales):
        informative = scale[ewc].numpy() > 0.01  # weights the source task needs
        change = np.abs(after[ewc] - before[ewc])
        assert change[informative].max(initial=0.0) < 1e-3
        held, moved = held + informative.sum(), moved + (np.abs(after[0] - before[0]) > 1e-3).sum()
    assert held > 0 and moved > 0  # EWC holds what the source needs; full fine-tuning moves


def test_the_diagonal_fisher_is_per_model_nonnegative_scaled_to_mean_one_and_zero_where_nothing_depends():
    net = _net(n_models=2)
    generator = torch.Generator().manual_seed(5)
    inputs = torch.randn(2, 40, 2, generator=generator)
    labels = (inputs[..., 0] > 0).long()
    fisher = diagonal_fisher(net, inputs, labels)
    assert [f.shape for f in fisher] == [p.shape for p in list(net.weights) + list(net.biases)]
    for m in range(2):
        values = torch.cat([f[m].flatten() for f in fisher])
        assert float(values.min()) >= 0 and abs(float(values.mean()) - 1.0) < 1e-5
    alone = diagonal_fisher(_net(n_models=1), inputs[:1], labels[:1])
    for f, a in zip(fisher, alone):  # model 0 of the pair is model 0 alone: models never interact
        torch.testing.assert_close(f[0], a[0], rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        net.weights[0][:, :, 0] = 0.0  # hidden unit 0 of the first layer sees nothing ...
        net.biases[0][:, 0] = -1.0  # ... and stays off: nothing depends on its incoming weights
    fisher = diagonal_fisher(net, inputs, labels)
    assert float(fisher[0][:, :, 0].abs().max()) == 0.0
