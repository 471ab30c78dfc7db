"""Generic checks run over every registered adaptation method (in the spirit of scikit-learn's
``estimator_checks``): a method added to ``core.training.methods.METHODS`` is tested by this module with no test of its
own needed for these properties."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from core.data.domains import generate
from core.errors import InputError
from core.labs.adaptation import run_adaptation
from core.scenario import Scenario
from core.training import train
from core.training.methods import ADAPT_METHODS, IMAGE_ADAPTATION_METHODS, METHODS, METHODS_BY_NAME, SWEEP_METHODS
from core.training.train import ModelSpec, TrainSettings, train_models
from tests.numeric import float32_training_atol

pytestmark = pytest.mark.unit

QUICK = TrainSettings(steps=40)
SMALL = Scenario(rotation=40, n_source=200, n_target=200, n_test=200)
EVERY_METHOD = pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])


@pytest.fixture(scope="module")
def inputs():
    return generate(SMALL).training_inputs()


def _train(inputs, names, lam=1.0, seed=0):
    specs = [ModelSpec(name, seed, lam) for name in names]
    return train_models(inputs, specs, dataclasses.replace(QUICK, lam=lam), n_classes=2, device="cpu")


def _weights(trained, m):
    return np.concatenate([w[m].ravel() for w in trained.weights + trained.biases])


def _close(a, b) -> bool:
    return np.allclose(a, b, rtol=0, atol=float32_training_atol(QUICK.steps))  # sums in other orders


@EVERY_METHOD
def test_its_description_is_complete_and_lambda_appears_where_it_weighs_a_term(method):
    assert method.label and method.summary and re.fullmatch(r"#[0-9A-F]{6}", method.colour)
    assert ("\\lambda" in method.loss) == method.aligns
    assert not (method.aligns and not method.reads_target_pool), "an aligning method reads the target pool"


@EVERY_METHOD
def test_at_lambda_zero_it_trains_exactly_like_source_only_or_lambda_does_not_matter(method, inputs):
    trained = _train(inputs, ["source_only", method.name], lam=0.0)
    if method.aligns:
        assert _close(_weights(trained, 1), _weights(trained, 0)), f"{method.name} at λ = 0 is not source-only"
    else:
        weighted = _train(inputs, [method.name], lam=5.0)
        assert _close(_weights(weighted, 0), _weights(trained, 1)), f"λ changed {method.name}, which has no λ"


@EVERY_METHOD
def test_the_target_pool_reaches_its_loss_exactly_when_it_says_so(method, inputs):
    """The pool mirrored about its mean keeps each feature's mean and std (so the input standardisation),
    but not its distribution: only a method that reads the pool can notice."""
    pool = inputs.target_pool_x
    mirrored = dataclasses.replace(inputs, target_pool_x=2 * pool.mean(axis=0) - pool)
    moved = not _close(_weights(_train(inputs, [method.name]), 0), _weights(_train(mirrored, [method.name]), 0))
    assert moved == method.reads_target_pool, f"{method.name}: the pool moved the weights: {moved}"


@EVERY_METHOD
def test_the_target_pool_labels_never_enter_its_training(method):
    data = generate(SMALL)
    scrambled = dataclasses.replace(data, target_pool_y_oracle=np.random.default_rng(1).permutation(
        data.target_pool_y_oracle))
    a = run_adaptation(SMALL, [method.name], n_seeds=1, settings=QUICK, device="cpu", data=data)
    b = run_adaptation(SMALL, [method.name], n_seeds=1, settings=QUICK, device="cpu", data=scrambled)
    np.testing.assert_array_equal(_weights(a.trained, 0), _weights(b.trained, 0))


@EVERY_METHOD
def test_a_model_in_a_mixed_batch_equals_the_same_model_trained_alone(method, inputs):
    others = [m.name for m in METHODS if m.name != method.name]
    batch = _train(inputs, [*others[:2], method.name, *others[2:]])
    alone = _train(inputs, [method.name])
    assert _close(_weights(batch, 2), _weights(alone, 0)), f"{method.name} depends on the models beside it"


@EVERY_METHOD
def test_its_term_gives_one_finite_value_per_model_and_its_schedule_one_column(method, inputs):
    specs = tuple(ModelSpec(name, seed, 1.0) for seed in (0, 1) for name in ("source_only", method.name))
    run = train._BatchedRun(inputs, specs, QUICK, 2, torch.device("cpu"))
    assert run.schedule.source.shape == run.schedule.target.shape == run.schedule.lr.shape == (QUICK.steps, 4)
    own = [t for t in run.terms if t.rows.tolist() == [1, 3]]
    assert len(own) == (method.term is not None) and len(run.terms) == len(own)
    for term in own:
        task, features_source = run._task_loss(QUICK.steps - 1)
        features_pool = run.model.features(run.pool_x[run.pool_rows[:, QUICK.steps - 1]])
        value, metric = term.loss(QUICK.steps - 1, 0.99, features_source, features_pool)
        assert value.shape == (2,) and bool(torch.isfinite(value).all())
        assert metric is None or metric.shape == (2,)


@EVERY_METHOD
def test_it_asks_for_target_labels_exactly_when_it_trains_on_them(method):
    unlabelled = SMALL.replace(labels_per_class=0)
    if method.needs_target_labels:
        with pytest.raises(InputError, match="labels_per_class"):
            run_adaptation(unlabelled, [method.name], n_seeds=1, settings=QUICK, device="cpu")
    else:
        assert run_adaptation(unlabelled, [method.name], n_seeds=1, settings=QUICK, device="cpu").rows


def test_every_list_of_methods_comes_from_the_registry():
    assert set(SWEEP_METHODS) | set(ADAPT_METHODS) | set(IMAGE_ADAPTATION_METHODS) <= set(METHODS_BY_NAME)
    assert SWEEP_METHODS == ("mmd", "dann") and "source_only" in IMAGE_ADAPTATION_METHODS
    assert all(METHODS_BY_NAME[name].aligns for name in ADAPT_METHODS)
