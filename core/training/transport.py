"""Optimal transport for the asymmetric ``ot`` method: entropic plans and a Wasserstein–Procrustes map.

Plain OT matches each source point to the nearest target mass, which mislabels much of a
rotated target. Estimating a *similarity map* (rotation, scale, translation) jointly with
the coupling (Wasserstein–Procrustes, as in Grave et al. 2019 and, for a linear map,
Perrot et al. 2016) undoes a rotation instead: alternate an entropic OT plan between the
mapped source and the target with the least-squares similarity (Umeyama 1991) that sends
each source point to its barycentre in the target.
"""

from __future__ import annotations

import math

import torch

MAP_POINTS = 256  # points per domain used to estimate the map (it has few parameters)
MAP_TOLERANCE = 1e-5  # alternations stop once no mapped point moves further than this in a round


def sinkhorn_potentials(cost: torch.Tensor, epsilon: float, iterations: int,
                        g: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-domain Sinkhorn for uniform weights: dual potentials ``(f, g)`` of the entropic plan.

    The plan is ``exp((f_i + g_j - C_ij) / epsilon)``; ``g`` warm-starts the iterations.
    """
    n_source, n_target = cost.shape
    log_a = -math.log(n_source)
    log_b = -math.log(n_target)
    scaled = -cost / epsilon
    g = torch.zeros(n_target, dtype=cost.dtype, device=cost.device) if g is None else g
    for _ in range(iterations):
        f = epsilon * (log_a - torch.logsumexp(scaled + g[None, :] / epsilon, dim=1))
        g = epsilon * (log_b - torch.logsumexp(scaled + f[:, None] / epsilon, dim=0))
    return f, g


def barycentres(cost: torch.Tensor, g: torch.Tensor, epsilon: float, target: torch.Tensor) -> torch.Tensor:
    """Each source point's barycentre in the target under the entropic plan with target potential ``g``.

    A row of the plan is proportional to ``exp((g_j - C_ij) / epsilon)``; ``f`` only scales it.
    """
    weights = torch.softmax((g[None, :] - cost) / epsilon, dim=1)  # rows of the plan, normalised
    return weights @ target


def fit_similarity(source: torch.Tensor, images: torch.Tensor) -> tuple[torch.Tensor, float, torch.Tensor]:
    """Least-squares ``x -> s R x + t`` sending ``source`` onto ``images`` (Umeyama 1991), R a rotation."""
    mean_source, mean_images = source.mean(dim=0), images.mean(dim=0)
    centred_source, centred_images = source - mean_source, images - mean_images
    covariance = centred_images.T @ centred_source / len(source)
    u, singular, vt = torch.linalg.svd(covariance)
    sign = torch.ones(len(singular), dtype=source.dtype, device=source.device)
    sign[-1] = torch.sign(torch.linalg.det(u @ vt))
    rotation = u @ torch.diag(sign) @ vt
    variance = centred_source.pow(2).sum(dim=1).mean().clamp_min(1e-12)
    scale = float((singular * sign).sum() / variance)
    shift = mean_images - scale * rotation @ mean_source
    return rotation, scale, shift


def wasserstein_procrustes(source: torch.Tensor, target: torch.Tensor, epsilon: float = 0.05,
                           outer: int = 40, inner: int = 20, seed: int = 0) -> torch.Tensor:
    """Map ``source`` [N_S, d] into the target's space with a similarity fitted jointly with OT.

    Starts from the identity (the smallest transformation); each round computes an entropic
    plan (cost: squared distances over their median, ``epsilon`` relative) between the mapped
    source and the target and refits the similarity to the barycentres, for at most ``outer`` rounds or until
    the mapped points move less than :data:`MAP_TOLERANCE`. Estimated on at most :data:`MAP_POINTS` points per
    domain (seeded subsample), applied to every source point.
    """
    generator = torch.Generator().manual_seed(seed)
    def pick(x: torch.Tensor) -> torch.Tensor:
        return x[torch.randperm(len(x), generator=generator)[:MAP_POINTS].to(x.device)]

    fit_source, fit_target = pick(source), pick(target)
    rotation = torch.eye(source.shape[1], dtype=source.dtype, device=source.device)
    scale, shift = 1.0, torch.zeros(source.shape[1], dtype=source.dtype, device=source.device)
    g = previous = None
    for _ in range(outer):
        mapped = scale * fit_source @ rotation.T + shift
        if previous is not None and float((mapped - previous).abs().max()) < MAP_TOLERANCE:
            break
        previous = mapped
        cost = torch.cdist(mapped, fit_target).pow(2)
        cost = cost / cost.median().clamp_min(1e-12)
        _, g = sinkhorn_potentials(cost, epsilon, inner, g)
        rotation, scale, shift = fit_similarity(fit_source, barycentres(cost, g, epsilon, fit_target))
    return scale * source @ rotation.T + shift
