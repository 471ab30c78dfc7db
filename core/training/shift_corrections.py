"""The remedies for the two shifts that keep a part of the joint distribution fixed.

- **Covariate shift** (P(X) moves, P(Y|X) stays): importance weighting. The source loss is reweighted by the
  density ratio ``w(x) = p_T(x) / p_S(x)``, estimated with a probabilistic domain classifier:
  ``w(x) = P(T | x) / P(S | x) · n_S / n_T`` (Bickel et al. 2007), clipped at :data:`WEIGHT_CLIP` and normalised
  to mean 1 over the source.
- **Prior shift** (P(Y) moves, P(X|Y) stays): label-shift correction. The target priors ``q`` are re-estimated
  from the source model's posteriors on the unlabelled target by EM (Saerens et al. 2002); the posteriors are
  then corrected by ``p_T(y | x) ∝ p_S(y | x) · q_y / p_y``, which for a softmax classifier is a shift of its
  last bias by ``log(q_y / p_y)``.
"""

from __future__ import annotations

import numpy as np
import torch

from core.nn.models import train_binary_classifiers

WEIGHT_CLIP = 10.0  # the largest importance weight (before normalising to mean 1)
DOMAIN_CLASSIFIER_STEPS = 300
DOMAIN_CLASSIFIER_HIDDEN = (16,)  # small and weight-decayed: a smooth ratio (a wider MLP overfits the two samples)
DOMAIN_CLASSIFIER_DECAY = 1e-2
DOMAIN_CLASSIFIER_SEED = 0  # the weights depend on the data only, never on which models train beside
EM_ITERATIONS = 200
EM_TOLERANCE = 1e-6
PRIOR_FLOOR = 1e-6  # no class's estimated prior goes below this (its log is taken)


def importance_weights(source_x: np.ndarray, target_x: np.ndarray, device: torch.device | str = "cpu",
                       clip: float = WEIGHT_CLIP) -> np.ndarray:
    """Density-ratio weights ``[N_S]`` of the source points from an MLP domain classifier (inputs as given:
    standardise them first), clipped at ``clip`` and normalised to mean 1."""
    x = np.concatenate([source_x, target_x]).astype(np.float32)
    y = np.concatenate([np.zeros(len(source_x)), np.ones(len(target_x))]).astype(np.float32)
    classifier = train_binary_classifiers(x, y, hidden=DOMAIN_CLASSIFIER_HIDDEN, seeds=(DOMAIN_CLASSIFIER_SEED,),
                                          steps=DOMAIN_CLASSIFIER_STEPS, weight_decay=DOMAIN_CLASSIFIER_DECAY,
                                          device=device)
    with torch.no_grad():
        logit = classifier(torch.as_tensor(source_x, dtype=torch.float32, device=classifier.weights[0].device))
    odds = np.exp(np.clip(logit[0, :, 0].cpu().numpy().astype(np.float64), -30, 30))
    weights = np.clip(odds * len(source_x) / len(target_x), 0.0, clip)
    return weights / weights.mean()


def em_target_priors(probabilities: np.ndarray, source_priors: np.ndarray, iterations: int = EM_ITERATIONS
                     ) -> np.ndarray:
    """Target class priors ``[..., K]`` re-estimated by EM from source-model posteriors ``[..., N, K]`` on
    unlabelled target points (Saerens et al. 2002): alternate the posteriors adjusted to the current priors and
    the priors as their mean, from the source priors."""
    source_priors = np.clip(np.asarray(source_priors, dtype=np.float64), PRIOR_FLOOR, None)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    priors = np.broadcast_to(source_priors, probabilities.shape[:-2] + source_priors.shape).copy()
    for _ in range(iterations):
        adjusted = probabilities * (priors / source_priors)[..., None, :]
        adjusted /= adjusted.sum(axis=-1, keepdims=True).clip(PRIOR_FLOOR)
        updated = np.clip(adjusted.mean(axis=-2), PRIOR_FLOOR, None)
        updated /= updated.sum(axis=-1, keepdims=True)
        converged = np.abs(updated - priors).max() < EM_TOLERANCE
        priors = updated
        if converged:
            break
    return priors


def prior_shift_bias(target_priors: np.ndarray, source_priors: np.ndarray) -> np.ndarray:
    """The change ``log(q / p)`` of a softmax classifier's last bias that turns source posteriors into target
    ones under prior shift."""
    return np.log(np.clip(target_priors, PRIOR_FLOOR, None)) - np.log(np.clip(source_priors, PRIOR_FLOOR, None))
