"""Adam for batched models: a learning rate per model (and per parameter), as one tensor program."""

from __future__ import annotations

from typing import Sequence

import torch


class BatchedAdam:
    """Adam (Kingma & Ba, 2015) whose learning rate is a tensor ``[M]`` over the models' axis.

    Every parameter has the models' axis first (``[M, ...]``), so model ``m`` is updated with
    ``lr[m]``; a rate of 0 freezes a model (or, per parameter, a layer of it). The moment
    estimates are elementwise, so models never influence one another.

    Parameters
    ----------
    params : sequence of torch.Tensor
        Parameters with the models' axis first.
    betas : tuple of float, default=(0.9, 0.999)
    eps : float, default=1e-8
    """

    def __init__(self, params: Sequence[torch.Tensor], betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params = list(params)
        self.betas = betas
        self.eps = eps
        self.step_count = 0
        self.first = [torch.zeros_like(p) for p in self.params]
        self.second = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: torch.Tensor | Sequence[torch.Tensor]) -> None:
        """One update; ``lr`` is ``[M]`` for every parameter, or a list with one ``[M]`` per parameter."""
        self.step_count += 1
        beta1, beta2 = self.betas
        rates = lr if isinstance(lr, (list, tuple)) else [lr] * len(self.params)
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in live]
        grads = [self.params[i].grad for i in live]
        first = [self.first[i] for i in live]
        second = [self.second[i] for i in live]
        # the moments of all parameters at once (foreach kernels: few Python-level calls)
        torch._foreach_lerp_(first, grads, 1.0 - beta1)
        torch._foreach_mul_(second, beta2)
        torch._foreach_addcmul_(second, grads, grads, value=1.0 - beta2)
        denominators = torch._foreach_sqrt(torch._foreach_div(second, 1.0 - beta2 ** self.step_count))
        torch._foreach_add_(denominators, self.eps)
        updates = torch._foreach_div(first, denominators)
        # one scaled, broadcastable rate per distinct rate tensor (most parameters share one)
        bias_correction = 1.0 / (1.0 - beta1 ** self.step_count)
        scaled: dict[int, torch.Tensor] = {}
        factors = []
        for p, i in zip(params, live):
            key = (id(rates[i]), p.dim())
            if key not in scaled:
                scaled[key] = (rates[i] * bias_correction).view(-1, *([1] * (p.dim() - 1)))
            factors.append(scaled[key])
        torch._foreach_mul_(updates, factors)
        torch._foreach_sub_(params, updates)
