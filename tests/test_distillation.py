"""Knowledge distillation: the soft-target term, its weight alpha, and the temperature curve."""

import numpy as np
import pytest
import torch

from core.errors import InputError
from core.labs.distillation import TEMPERATURE_CURVE, DistillSettings, domain_balanced_weights, run_distillation
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
