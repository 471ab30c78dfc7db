"""Knowledge distillation: the soft-target term, its weight alpha, and the temperature curve."""

import numpy as np
import pytest
import torch

from core.errors import InputError
from core.labs.distillation import (
    TEMPERATURE_CURVE,
    DistillRun,
    DistillSettings,
    domain_balanced_weights,
    run_distillation,
)
from core.nn.models import BatchedMLP, seeded_generator
from core.scenario import Scenario
from core.training.finetune import FitProblem, fit_batched

pytestmark = pytest.mark.unit

SMALL = Scenario(rotation=20, n_source=200, n_target=200, n_test=300)
QUICK = DistillSettings(steps=80, teacher_hidden=(32, 32))


def test_with_alpha_zero_every_soft_student_is_the_hard_label_student():
    run = run_distillation(SMALL, n_seeds=2, settings=DistillSettings(alpha=0.0, steps=80, teacher_hidden=(32, 32)),
                           device="cpu")
    hard = run.accuracies("student_hard")
    for temperature in run.temperatures:
        np.testing.assert_array_equal(run.accuracies("student_soft", temperature), hard)


def test_soft_targets_change_the_student_and_every_role_is_scored():
    run = run_distillation(SMALL, n_seeds=2, settings=QUICK, device="cpu")
    assert set(run.temperatures) == set(TEMPERATURE_CURVE) | {QUICK.temperature}
    assert len(run.accuracies("teacher")) == len(run.accuracies("student_hard")) == 2
    assert not np.array_equal(run.accuracies("student_soft"), run.accuracies("student_hard"))
    assert run.teacher_parameters > 10 * run.student_parameters
    assert all(0 <= r["target_acc"] <= 1 for r in run.rows)
    answer = run.to_json()
    assert answer["settings"]["temperature"] == QUICK.temperature and len(answer["results"]) == len(run.rows)


def test_the_soft_term_is_temperature_squared_times_the_soft_cross_entropy():
    """One step's loss gradient equals the hand-written T² · CE(softmax(t/T), softmax(z/T)) gradient."""
    net = BatchedMLP(1, 2, (4,), 3, generator=seeded_generator(0), device="cpu")
    x = torch.randn(1, 5, 2, generator=torch.Generator().manual_seed(1))
    soft = torch.softmax(torch.randn(1, 5, 3, generator=torch.Generator().manual_seed(2)), dim=-1)
    temperature = 3.0
    expected = -(soft * torch.log_softmax(net(x) / temperature, dim=-1)).sum(-1).mean() * temperature ** 2
    expected.backward()
    reference = net.weights[0].grad.clone()
    problem = FitProblem(x, torch.zeros(1, 5, dtype=torch.long), torch.zeros(1, 5), torch.zeros(1, 1, 2),
                         soft_targets=soft, soft_weights=torch.full((1, 5), 0.2),
                         temperature=torch.tensor([temperature]))
    net.zero_grad()
    fit_batched(net, problem)  # rate 0: one step computes the gradient and moves nothing
    torch.testing.assert_close(net.weights[0].grad, reference)


def test_domain_balanced_weights_give_each_labelled_domain_half_the_loss():
    weights = domain_balanced_weights(100, 4, 50)
    assert weights[:100].sum() == pytest.approx(0.5) and weights[100:104].sum() == pytest.approx(0.5)
    assert (weights[104:] == 0).all()
    assert domain_balanced_weights(10, 0).sum() == pytest.approx(1.0)


def test_bad_distillation_settings_are_one_clear_error():
    with pytest.raises(InputError, match="temperature"):
        DistillSettings(temperature=0.5)
    with pytest.raises(InputError, match="alpha"):
        DistillSettings(alpha=1.5)
    with pytest.raises(InputError, match="seeds"):
        run_distillation(SMALL, n_seeds=0)


def _run_with(soft: list[float], hard: list[float]) -> DistillRun:
    rows = [{"role": "student_soft", "seed": s, "temperature": 1.0, "target_acc": a} for s, a in enumerate(soft)]
    rows += [{"role": "student_hard", "seed": s, "temperature": None, "target_acc": a} for s, a in enumerate(hard)]
    return DistillRun(SMALL, DistillSettings(temperature=1.0), len(soft), rows, 0, 0, 0.0, "cpu")


def test_the_verdict_on_soft_targets_is_computed_from_the_paired_test():
    helps = _run_with([0.90, 0.91, 0.92, 0.89, 0.93], [0.87, 0.89, 0.88, 0.86, 0.90]).soft_versus_hard()
    assert helps.helps and helps.points == pytest.approx(3.0) and helps.p_value < 0.05 and helps.pairs == 5
    assert helps.text().startswith("Distillation helps here") and "p < 0.001" in helps.text()
    noisy = _run_with([0.90, 0.80, 0.95], [0.85, 0.86, 0.90]).soft_versus_hard()
    assert noisy.points > 0 and not noisy.helps and "not significant" in noisy.text()
    worse = _run_with([0.85, 0.86, 0.84], [0.90, 0.91, 0.92]).soft_versus_hard()
    assert not worse.helps and worse.text().startswith("Distillation does not help")
    # a diverged student drops its seed's pair, it does not shift the pairing
    diverged = _run_with([None, 0.91, 0.92], [0.10, 0.89, 0.90]).soft_versus_hard()
    assert diverged.pairs == 2 and diverged.points == pytest.approx(2.0)
