"""Label spreading (Zhou et al., 2004) over a nearest-neighbour graph of the unlabelled target pool.

Self-training labels each pool point by the model's own prediction there. Where a rotation swings a stretch of
the target outside the source's support, the source boundary cuts through it and the wrong side is labelled
confidently wrong, then learnt. Spreading the predictions along the pool's own graph first labels a point by the
connected stretch of data it lies on: with ``α`` close to 1 a cluster takes (roughly) its majority's class.

``F = (1 - α)(I - α S)⁻¹ Y`` with ``S = D^-1/2 W D^-1/2`` the normalised affinity of the symmetrised
``k``-nearest-neighbour graph (Gaussian weights, width the mean neighbour distance). ``I - α S`` is factorised
once per run (Cholesky, ``N³ / 3`` flops: about 40 ms at 500 pool points, a few seconds at the 5,000 the
scenario allows); each spread is then two triangular solves, ``O(N²)`` per column.
"""

from __future__ import annotations

import torch

SPREAD_NEIGHBOURS = 10
SPREAD_ALPHA = 0.999


class LabelSpreading:
    """The spreading operator of one point set ``x [N, d]`` (factorised once; :meth:`spread` applies it)."""

    def __init__(self, x: torch.Tensor, neighbours: int = SPREAD_NEIGHBOURS, alpha: float = SPREAD_ALPHA):
        self.alpha = float(alpha)
        k = min(int(neighbours), len(x) - 1)
        self.factor = None
        if k >= 1:
            # float64: I - αS is ill-conditioned for α near 1 (condition number up to (1 + α) / (1 - α))
            system = torch.eye(len(x), dtype=torch.float64, device=x.device)
            system -= self.alpha * normalised_neighbour_graph(x.double(), k)
            self.factor = torch.linalg.cholesky(system)

    def spread(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores ``[..., N, K]`` (e.g. class probabilities of several models) spread along the graph."""
        if self.factor is None:
            return scores
        shape = scores.shape
        columns = scores.double().movedim(-2, 0).reshape(shape[-2], -1)  # [N, everything else]
        solved = torch.cholesky_solve((1 - self.alpha) * columns, self.factor)
        return solved.reshape(shape[-2], *shape[:-2], shape[-1]).movedim(0, -2).to(scores.dtype)


def normalised_neighbour_graph(x: torch.Tensor, neighbours: int) -> torch.Tensor:
    """``D^-1/2 W D^-1/2`` (``[N, N]``) of the symmetrised ``neighbours``-nearest-neighbour graph of ``x``:
    Gaussian weights whose width is the mean neighbour distance, an edge found from either end."""
    distances = torch.cdist(x, x)
    nearest, columns = distances.topk(neighbours + 1, dim=1, largest=False)
    nearest, columns = nearest[:, 1:], columns[:, 1:]  # not the point itself
    width = nearest.mean().clamp_min(1e-12)
    affinity = torch.zeros_like(distances).scatter_(1, columns, torch.exp(-nearest.pow(2) / (2 * width ** 2)))
    affinity = torch.maximum(affinity, affinity.T)
    scale = affinity.sum(dim=1).clamp_min(1e-300).rsqrt()
    return scale[:, None] * affinity * scale[None, :]
