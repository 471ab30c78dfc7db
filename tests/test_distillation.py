"""Knowledge distillation: the soft-target term, its weight alpha, and the temperature curve."""

import numpy as np
import pytest
import torch

from core.errors import InputError
from core.labs.distillation import (
    STUDENT_LABELS,
    TEMPERATURE_CURVE,
    DistillRun,
    DistillSettings,
    domain_balanced_weights,
    run_distillation,
    student_weights,
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
    np.testing.assert_array_equal(run.accuracies("student_soft", labels="all"), run.accuracies("student_hard",
                                                                                               labels="all"))


def test_a_student_with_the_target_labels_only_never_sees_the_source():
    for alpha in (0.0, 0.3, 1.0):
        hard, soft = student_weights("target", alpha, 100, 4, 50)
        assert (hard[:100] == 0).all() and (soft[:100] == 0).all()  # the source stays with the teacher
        assert (hard[104:] == 0).all() and hard.sum() == pytest.approx(1 - alpha)  # hard labels: the 4 labelled
        assert soft[100:] == pytest.approx(np.full(54, alpha / 54))  # soft targets: all of the target
    hard, soft = student_weights("all", 0.3, 100, 4, 50)
    np.testing.assert_allclose(hard, 0.7 * domain_balanced_weights(100, 4, 50))
    assert soft == pytest.approx(np.full(154, 0.3 / 154))


def test_each_student_setting_is_scored_and_compared_on_its_own():
    run = run_distillation(SMALL, n_seeds=2, settings=QUICK, device="cpu")
    for labels in STUDENT_LABELS:
        assert len(run.accuracies("student_soft", labels=labels)) == len(run.accuracies("student_hard",
                                                                                        labels=labels)) == 2
        assert run.soft_versus_hard(labels=labels).pairs == 2
    # the student from hard labels with the target labels only never saw a source label: it must do worse on
    # the source than the one that had them (rotation 20: the target labels alone leave the source ambiguous)
    assert run.statistics("student_hard", "source_acc").mean < run.statistics("student_hard", "source_acc",
                                                                               labels="all").mean
    assert set(run.to_json()["soft_versus_hard"]) == set(STUDENT_LABELS)


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
    rows = [{"role": "student_soft", "seed": s, "temperature": 1.0, "labels": "target", "target_acc": a}
            for s, a in enumerate(soft)]
    rows += [{"role": "student_hard", "seed": s, "temperature": None, "labels": "target", "target_acc": a}
             for s, a in enumerate(hard)]
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
