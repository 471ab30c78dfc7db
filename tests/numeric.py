"""Tolerances for comparing two computations of the same numbers that round differently.

Where two code paths sum the same terms in a different order (a model trained in a batch or alone, in
size buckets or in one padded batch), float32 results differ in their last digits, and training
steps carry those differences forward. Such tests either run in float64 (:func:`in_float64`, compared
to :data:`FLOAT64_ATOL`) or compare float32 results with :func:`float32_training_atol`. Bit-exact
assertions are kept only where the computation is literally the same.
"""

from __future__ import annotations

import dataclasses

import torch

FLOAT32_EPS = float(torch.finfo(torch.float32).eps)  # 1.19e-7: one unit in the last place at 1.0
# Gap growth of a float32 training measured here: bucketed vs padded fine-tuning drifted 1.19e-5 in 60
# Adam steps (1.7 ulps a step) on torch 2.14.1 and 2.15.0; 16 ulps a step leaves a ninefold margin,
# far below the 1e-2 by which models that leaked into one another would differ.
ULPS_PER_STEP = 16
# Two float64 runs of the same training that differ only in summation order: 1.1e-14 measured (60 steps).
FLOAT64_ATOL = 1e-10


def float32_training_atol(steps: int) -> float:
    """Absolute tolerance between weights (or outputs of order one) of two float32 trainings of one model
    that sum in different orders: :data:`ULPS_PER_STEP` ulps of 1.0 for each of ``steps`` Adam steps."""
    return ULPS_PER_STEP * FLOAT32_EPS * max(1, steps)


def in_float64(problem):
    """A dataclass of tensors (e.g. :class:`core.training.finetune.FitProblem`) with its floating tensors in float64."""
    changed = {field.name: getattr(problem, field.name).double() for field in dataclasses.fields(problem)
               if torch.is_tensor(getattr(problem, field.name)) and getattr(problem, field.name).is_floating_point()}
    return dataclasses.replace(problem, **changed)
