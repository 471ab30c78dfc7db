"""Adam for batched models: a learning rate per model (and per parameter), as one tensor program."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class BatchedAdam:
    """Adam (Kingma & Ba, 2015) whose learning rate is a tensor ``[M]`` over the models' axis.

    Every parameter has the models' axis first (``[M, ...]``), so model ``m`` is updated with
    ``lr[m]``. A rate of 0 freezes a model (or, per parameter, a layer of it) the way
    ``requires_grad=False`` does in PyTorch: its weights do not move AND its moment estimates
    and step count stay untouched, so a layer unfrozen later (progressive unfreezing) starts
    with fresh moments and a full-size first step. The moments are elementwise, so models
    never influence one another.

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
        self.first = [torch.zeros_like(p) for p in self.params]
        self.second = [torch.zeros_like(p) for p in self.params]
        # Adam steps each model has taken with each parameter (rate > 0), for the bias corrections:
        # one [parameters, models] table per number of models (a critic may have fewer models);
        # float64, because 1 - beta2**t cancels badly in float32 for small t
        self.groups: dict[int, list[int]] = {}
        for i, p in enumerate(self.params):
            self.groups.setdefault(p.shape[0], []).append(i)
        self.counts = {m: torch.zeros(len(members), m, dtype=torch.float64, device=self.params[members[0]].device)
                       for m, members in self.groups.items()}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step_count(self, index: int) -> torch.Tensor:
        """Adam steps ``[M]`` that each model has taken with parameter ``index``."""
        m = self.params[index].shape[0]
        return self.counts[m][self.groups[m].index(index)]

    @torch.no_grad()
    def step(self, lr: torch.Tensor | Sequence[torch.Tensor]) -> None:
        """One update; ``lr`` is ``[M]`` for every parameter, or a list with one ``[M]`` per parameter."""
        beta1, beta2 = self.betas
        rates = lr if isinstance(lr, (list, tuple)) else [lr] * len(self.params)
        live, tables = [], {"weight1": [], "weight2": [], "correction2": [], "factor": []}
        for m, members in self.groups.items():  # per-model bookkeeping as [P, M] tables
            rows = [k for k, i in enumerate(members) if self.params[i].grad is not None]
            if not rows:
                continue
            dtype = self.params[members[rows[0]]].dtype
            rate = torch.stack([rates[members[k]] for k in rows]).to(dtype)
            active = rate > 0
            counts = self.counts[m]
            if len(rows) == len(members):
                counts += active
                steps = counts.clamp_min(1.0)
            else:
                index = torch.as_tensor(rows, device=counts.device)
                counts.index_add_(0, index, active.to(counts.dtype))
                steps = counts.index_select(0, index).clamp_min(1.0)
            live += [members[k] for k in rows]
            tables["weight1"].append(active.to(dtype) * (1.0 - beta1))
            tables["weight2"].append(active.to(dtype) * (1.0 - beta2))
            tables["correction2"].append((1.0 - beta2 ** steps).to(dtype))
            tables["factor"].append(rate / (1.0 - beta1 ** steps).to(dtype))
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        first = [self.first[i] for i in live]
        second = [self.second[i] for i in live]

        def per_model(name: str) -> list[torch.Tensor]:
            """Each live parameter's row of a table, broadcast to the parameter's shape."""
            rows = [row for table in tables[name] for row in table]
            return [row.view(-1, *([1] * (p.dim() - 1))).expand_as(p) for row, p in zip(rows, params)]

        # moments move only where the model's rate is positive (lerp weight 0 elsewhere)
        torch._foreach_lerp_(first, grads, per_model("weight1"))
        torch._foreach_lerp_(second, torch._foreach_mul(grads, grads), per_model("weight2"))
        denominators = torch._foreach_sqrt(torch._foreach_div(second, per_model("correction2")))
        torch._foreach_add_(denominators, self.eps)
        updates = torch._foreach_div(first, denominators)
        torch._foreach_mul_(updates, per_model("factor"))
        torch._foreach_sub_(params, updates)
