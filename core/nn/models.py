"""Batched small networks: ``M`` independent multilayer perceptrons run as one tensor program.

Every parameter carries a leading model axis: a layer's weight is ``[M, fan_in, fan_out]`` and
its bias ``[M, fan_out]``, and a forward pass is one :func:`torch.baddbmm` per layer. Training
``M`` models (seeds, trade-off weights, shift magnitudes, domain pairs) therefore costs about
as much Python overhead as training one, and because every per-model loss is summed (not
averaged) over models and Adam acts elementwise, model ``m`` of a batch follows exactly the
trajectory it would follow if it were trained alone.

Inputs are never standardised inside a network: the helper that owns the train split
standardises with that split's statistics (see :mod:`core.nn.standardise`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.device import pick_device
from core.errors import InputError

__all__ = [
    "BatchedMLP",
    "BatchedNetwork",
    "layer_init_bounds",
    "seeded_generator",
    "train_binary_classifiers",
]


def seeded_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """Return a fresh :class:`torch.Generator` seeded with ``seed``.

    Parameters
    ----------
    seed : int
        Non-negative seed.
    device : torch.device or str, default="cpu"
        Device of the generator. Initial weights are drawn on the generator's device, so a
        CPU generator gives the same initial weights whatever device the model runs on.

    Returns
    -------
    generator : torch.Generator
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def layer_init_bounds(fan_in: int, feeds_relu: bool) -> tuple[float, float]:
    """Bounds of the uniform initial weights and biases of a layer with ``fan_in`` inputs per unit.

    Parameters
    ----------
    fan_in : int
        Inputs of one unit (``in_features`` for a dense layer, ``C_in * k * k`` for a convolution).
    feeds_relu : bool
        Whether the layer's output goes through a ReLU (He gain ``sqrt(2)``) or not (gain 1).

    Returns
    -------
    weight_bound, bias_bound : float
        ``gain * sqrt(3 / fan_in)`` and ``1 / sqrt(fan_in)``.
    """
    gain = math.sqrt(2.0) if feeds_relu else 1.0
    return gain * math.sqrt(3.0 / fan_in), 1.0 / math.sqrt(fan_in)


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """``U(-bound, bound)`` draws of ``shape`` from ``generator``, on the generator's device."""
    return (2 * torch.rand(shape, generator=generator, device=generator.device, dtype=dtype) - 1) * bound


class BatchedNetwork(nn.Module):
    """What every batched network shares: ``M`` models, parameter lists with the model axis first.

    A subclass describes its layers (weight shape and units of each, from the input up, the
    dense head last) and implements :meth:`features`; this class draws the initial parameters,
    checks inputs, and provides the head, the forward pass and layer freezing, so that the
    trainers (:mod:`core.training.train`, :func:`core.training.finetune.fit_batched`) handle every subclass alike.

    Parameters
    ----------
    n_models : int
        Number of independent networks ``M``.
    in_features : int
        Input dimension ``d`` of one sample (flattened).
    out_features : int
        Output dimension.

    Attributes
    ----------
    weights : torch.nn.ParameterList
        ``weights[i]`` has shape ``[M, *weight_shape_i]``; the head's is ``[M, fan_in, out_features]``.
    biases : torch.nn.ParameterList
        ``biases[i]`` has shape ``[M, units_i]``.
    """

    def __init__(self, n_models: int, in_features: int, out_features: int, adapter_width: int = 0):
        super().__init__()
        if int(n_models) < 1:
            raise InputError("n_models", f"must be at least 1, got {n_models}")
        if int(adapter_width) < 0:
            raise InputError("adapter_width", f"must be 0 (no adapters) or positive, got {adapter_width}")
        self.n_models = int(n_models)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.adapter_width = int(adapter_width)

    def _init_parameters(
        self,
        layers: Sequence[tuple[tuple[int, ...], int]],
        generator: torch.Generator | Sequence[torch.Generator] | None,
        device: torch.device | str | None,
        dtype: torch.dtype,
        adapted: Sequence[int] = (),
    ) -> None:
        """Draw and register ``weights`` and ``biases`` (and the adapters after the layers of widths ``adapted``).

        ``layers`` lists ``(weight_shape, units)`` of one model's layers: a dense layer's weight is
        ``(fan_in, units)``, a convolution's ``(units, C_in, k, k)``, so a unit's fan-in is the
        weight's size over ``units``; the bias has ``units`` entries. Every layer but the last
        feeds a ReLU (:func:`layer_init_bounds`). For each model the draws are made in the order
        weight 0, bias 0, weight 1, bias 1, ...; with a sequence of ``M`` generators model ``m``
        is drawn from ``generator[m]`` alone.

        With ``adapter_width`` ``r > 0``, a residual bottleneck adapter ``h + U relu(D h + b) + c`` follows every
        dense hidden layer (of width ``adapted[k]``): its down-projection ``D`` is drawn after all the layers (so
        the layers' draws do not change), its up-projection ``U`` and ``c`` start at zero, so a new adapter is the
        identity (Houlsby et al., 2019).
        """
        device = torch.device(device) if device is not None else pick_device()
        if generator is None:
            generator = seeded_generator(0)
        if isinstance(generator, torch.Generator):
            generators = [generator] * self.n_models
        else:
            generators = list(generator)
            if len(generators) != self.n_models:
                raise InputError(
                    "generator", f"expected 1 or {self.n_models} generators, got {len(generators)}"
                )
        per_model, adapters = [], []
        r = self.adapter_width
        for gen in generators:
            drawn = []
            for i, (shape, units) in enumerate(layers):
                w_bound, b_bound = layer_init_bounds(math.prod(shape) // units, feeds_relu=i < len(layers) - 1)
                drawn.append((_uniform(shape, w_bound, gen, dtype), _uniform((units,), b_bound, gen, dtype)))
            per_model.append(drawn)
            own = []
            for width in adapted if r else ():
                w_bound, b_bound = layer_init_bounds(width, feeds_relu=True)
                own += [_uniform((width, r), w_bound, gen, dtype), _uniform((r,), b_bound, gen, dtype),
                        torch.zeros((r, width), dtype=dtype, device=gen.device),
                        torch.zeros((width,), dtype=dtype, device=gen.device)]
            adapters.append(own)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([m[i][0] for m in per_model]).to(device)) for i in range(len(layers))
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([m[i][1] for m in per_model]).to(device)) for i in range(len(layers))
        )
        self.adapters = nn.ParameterList(
            nn.Parameter(torch.stack([m[i] for m in adapters]).to(device)) for i in range(len(adapters[0]))
        )

    @property
    def n_layers(self) -> int:
        """Number of layers with parameters, the head included."""
        return len(self.weights)

    @property
    def n_rate_columns(self) -> int:
        """Learning-rate columns of a schedule: one per layer, and one more shared by all adapters."""
        return self.n_layers + (1 if len(self.adapters) else 0)

    def trainable(self) -> list[nn.Parameter]:
        """Every parameter in the trainers' order: the weights, the biases, then the adapters' parameters."""
        return list(self.weights) + list(self.biases) + list(self.adapters)

    def rate_columns(self) -> list[int]:
        """For each parameter of :meth:`trainable`, its column of a ``[.., n_rate_columns]`` rate schedule."""
        layers = list(range(self.n_layers))
        return layers + layers + [self.n_layers] * len(self.adapters)

    def layer(self, index: int) -> tuple[nn.Parameter, nn.Parameter]:
        """Return the ``(weight, bias)`` parameters of layer ``index``."""
        return self.weights[index], self.biases[index]

    def set_trainable(self, layers: Sequence[int], trainable: bool) -> None:
        """Set ``requires_grad`` of the weight and bias of each layer in ``layers``."""
        for i in layers:
            w, b = self.layer(i)
            w.requires_grad_(trainable)
            b.requires_grad_(trainable)

    def _is_shared(self, x: torch.Tensor) -> bool:
        """Check an input ``[N, d]`` (shared by all models: True) or ``[M, N, d]`` (False)."""
        if x.dim() != 2 and (x.dim() != 3 or x.shape[0] != self.n_models):
            raise InputError(
                "x", f"expected shape [N, d] or [{self.n_models}, N, d], got {list(x.shape)}"
            )
        if x.shape[-1] != self.in_features:
            raise InputError("x", f"expected {self.in_features} features, got {x.shape[-1]}")
        return x.dim() == 2

    def _batched(self, x: torch.Tensor) -> torch.Tensor:
        """A checked input as ``[M, N, d]`` (a shared input is broadcast, not copied)."""
        return x.unsqueeze(0).expand(self.n_models, -1, -1) if self._is_shared(x) else x

    def _dense(self, h: torch.Tensor, first: int) -> torch.Tensor:
        """Dense layers ``first .. n_layers - 2`` with ReLU on ``h`` of shape ``[M, N, fan_in]``."""
        for k, i in enumerate(range(first, self.n_layers - 1)):
            h = torch.relu(torch.baddbmm(self.biases[i].unsqueeze(1), h, self.weights[i]))
            if len(self.adapters):
                down, down_bias, up, up_bias = self.adapters[4 * k: 4 * k + 4]
                bottleneck = torch.relu(torch.baddbmm(down_bias.unsqueeze(1), h, down))
                h = h + torch.baddbmm(up_bias.unsqueeze(1), bottleneck, up)
        return h

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the body ``[M, N, feature_dim]`` for inputs ``[N, d]`` or ``[M, N, d]``."""
        raise NotImplementedError

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Apply the last (output) layer to features ``h`` of shape ``[M, N, feature_dim]``."""
        return torch.baddbmm(self.biases[-1].unsqueeze(1), h, self.weights[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the outputs ``[M, N, out_features]`` for inputs ``[N, d]`` or ``[M, N, d]``."""
        return self.head(self.features(x))

    def _adapters_text(self) -> str:
        """``", adapters r = 4"`` when the network has adapters, else nothing (for :meth:`describe`)."""
        return f", adapters r = {self.adapter_width}" if len(self.adapters) else ""

    def parameter_count(self) -> int:
        """Weights and biases of ONE of the ``M`` networks."""
        return int(sum(p[0].numel() for p in self.parameters()))


class BatchedMLP(BatchedNetwork):
    """``M`` independent multilayer perceptrons with ReLU activations, evaluated together.

    Parameters
    ----------
    n_models : int
        Number of independent networks ``M``.
    in_features : int
        Input dimension ``d``.
    hidden : tuple of int, default=()
        Widths of the hidden layers; ``()`` gives ``M`` linear (affine) models.
    out_features : int, default=1
        Output dimension (``1`` for a binary classifier's single logit).
    generator : torch.Generator or sequence of torch.Generator, optional
        Source of the initial weights. With one generator, models are drawn one after the
        other from it; with a sequence of ``M`` generators, model ``m`` is drawn from
        ``generator[m]`` alone, so that it equals a one-model network built from the same
        generator seed. ``None`` uses a generator seeded with 0.
    device : torch.device or str, optional
        Device of the parameters (default: :func:`core.device.pick_device`).
    dtype : torch.dtype, default=torch.float32
        Parameter dtype.
    adapter_width : int, default=0
        Bottleneck width of a residual adapter after every hidden layer; 0: no adapters.

    Attributes
    ----------
    weights : torch.nn.ParameterList
        ``weights[i]`` has shape ``[M, fan_in, fan_out]``.
    biases : torch.nn.ParameterList
        ``biases[i]`` has shape ``[M, fan_out]``.

    Notes
    -----
    Initialisation is Kaiming-uniform-like (:func:`layer_init_bounds`): a weight feeding a ReLU
    is drawn from ``U(-sqrt(6 / fan_in), sqrt(6 / fan_in))`` (He gain), the output layer from
    ``U(-sqrt(3 / fan_in), sqrt(3 / fan_in))`` (linear gain), and every bias from
    ``U(-1 / sqrt(fan_in), 1 / sqrt(fan_in))``. For each model the draws are made in the
    order weight 0, bias 0, weight 1, bias 1, ...

    Layers ``0 .. n_layers - 2`` form the *body* (:meth:`features`), the last layer is the
    *head* (:meth:`head`); freeze a layer with ``layer(i)[0].requires_grad_(False)`` etc. or
    :meth:`set_trainable`.

    Examples
    --------
    >>> net = BatchedMLP(3, 2, (16,), 1, generator=seeded_generator(0), device="cpu")
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([3, 5, 1])
    """

    def __init__(
        self,
        n_models: int,
        in_features: int,
        hidden: tuple[int, ...] = (),
        out_features: int = 1,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        adapter_width: int = 0,
    ):
        super().__init__(n_models, in_features, out_features, adapter_width)
        hidden = tuple(int(h) for h in hidden)
        if int(in_features) < 1 or int(out_features) < 1 or any(h < 1 for h in hidden):
            raise InputError("hidden", "layer widths must be positive integers")
        self.hidden = hidden
        widths = (self.in_features, *hidden, self.out_features)
        self._init_parameters([((fan_in, fan_out), fan_out) for fan_in, fan_out in zip(widths, widths[1:])],
                              generator, device, dtype, adapted=hidden)

    @property
    def feature_dim(self) -> int:
        """Width of :meth:`features` (the last hidden width, or ``in_features`` if linear)."""
        return self.hidden[-1] if self.hidden else self.in_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the body: the last hidden layer after its ReLU.

        Parameters
        ----------
        x : torch.Tensor of shape [N, d] or [M, N, d]
            Inputs; a 2-D input is shared by all ``M`` models.

        Returns
        -------
        h : torch.Tensor of shape [M, N, feature_dim]
            For a linear model (``hidden=()``) this is the input itself, broadcast to ``M``.
        """
        return self._dense(self._batched(x), 0)

    def describe(self) -> str:
        """Architecture as text, e.g. ``"2→32→32→1 (ReLU)"`` or ``"2→1 (linear)"``."""
        arrows = "→".join(str(w) for w in (self.in_features, *self.hidden, self.out_features))
        return f"{arrows} (ReLU{self._adapters_text()})" if self.hidden else f"{arrows} (linear)"


def _as_float_tensor(value, name: str, device: torch.device) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value)
    tensor = tensor.to(device=device, dtype=torch.float32)
    if not torch.isfinite(tensor).all():
        raise InputError(name, "contains NaN or infinite values")
    return tensor


def _adamw(params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW, with the fused kernel where the device has one (much less Python overhead)."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def train_binary_classifiers(
    x,
    y,
    sample_weight=None,
    *,
    hidden: tuple[int, ...] = (32, 32),
    seeds: Sequence[int] = (0,),
    steps: int = 200,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    device: torch.device | str | None = None,
) -> BatchedMLP:
    """Train ``M = len(seeds)`` binary classifiers (one logit each) as one batched program.

    Full-batch Adam on :func:`torch.nn.functional.binary_cross_entropy_with_logits` with a
    single logit per model (the probability of class 1 is ``sigmoid(logit)``). Model ``m``
    minimises its own weighted mean loss ``sum_i w_mi * bce_mi / sum_i w_mi``; the per-model
    losses are summed, so the models do not influence one another and model ``m`` equals the
    model obtained by training it alone with seed ``seeds[m]``.

    Parameters
    ----------
    x : array-like of shape [N, d] or [M, N, d]
        Inputs, already standardised if that is wanted (see :func:`core.nn.standardise.standardise_with_train`). A 2-D
        array is shared by all models; a 3-D array gives each model its own data.
    y : array-like of shape [N] or [M, N]
        Labels in {0, 1} (soft labels in [0, 1] are accepted).
    sample_weight : array-like of shape [N] or [M, N], optional
        Non-negative weights (e.g. class-balancing weights); default: uniform.
    hidden : tuple of int, default=(32, 32)
        Hidden widths; ``()`` gives logistic regression.
    seeds : sequence of int, default=(0,)
        One initialisation seed per model.
    steps : int, default=200
        Number of full-batch Adam steps.
    lr : float, default=1e-2
        Adam learning rate.
    weight_decay : float, default=0.0
        Decoupled weight decay (AdamW); 0 gives plain Adam.
    device : torch.device or str, optional
        Training device (default: :func:`core.device.pick_device`).

    Returns
    -------
    model : BatchedMLP
        The trained networks (``out_features=1``); ``model(x)[..., 0]`` are the logits.
    """
    device = torch.device(device) if device is not None else pick_device()
    seeds = [int(s) for s in seeds]
    n_models = len(seeds)
    if n_models < 1:
        raise InputError("seeds", "give at least one seed")
    if int(steps) < 0:
        raise InputError("steps", f"must be non-negative, got {steps}")
    xt = _as_float_tensor(x, "x", device)
    yt = _as_float_tensor(y, "y", device)
    if xt.dim() == 2:
        xt = xt.unsqueeze(0).expand(n_models, -1, -1)
    if xt.dim() != 3 or xt.shape[0] != n_models:
        raise InputError("x", f"expected shape [N, d] or [{n_models}, N, d], got {list(xt.shape)}")
    n = xt.shape[1]
    if n < 1:
        raise InputError("x", "needs at least one training point")
    if yt.dim() == 1:
        yt = yt.unsqueeze(0).expand(n_models, -1)
    if yt.shape != xt.shape[:2]:
        raise InputError("y", f"expected shape [{n}] or [{n_models}, {n}], got {list(yt.shape)}")
    if ((yt < 0) | (yt > 1)).any():
        raise InputError("y", "labels must lie in [0, 1] (0 and 1 for hard labels)")
    if sample_weight is None:
        wt = torch.ones_like(yt)
    else:
        wt = _as_float_tensor(sample_weight, "sample_weight", device)
        if wt.dim() == 1:
            wt = wt.unsqueeze(0).expand(n_models, -1)
        if wt.shape != yt.shape:
            raise InputError("sample_weight", f"expected the shape of y, got {list(wt.shape)}")
        if (wt < 0).any() or (wt.sum(dim=1) <= 0).any():
            raise InputError("sample_weight", "must be non-negative with a positive sum per model")
    wt = wt / wt.sum(dim=1, keepdim=True)

    model = BatchedMLP(
        n_models,
        xt.shape[2],
        hidden,
        1,
        generator=[seeded_generator(s) for s in seeds],
        device=device,
    )
    optimizer = _adamw(model.parameters(), lr=lr, weight_decay=weight_decay)
    with torch.enable_grad():  # also when called under torch.no_grad()
        for _ in range(int(steps)):
            optimizer.zero_grad(set_to_none=True)
            logits = model(xt)[..., 0]
            loss = (F.binary_cross_entropy_with_logits(logits, yt, reduction="none") * wt).sum()
            loss.backward()
            optimizer.step()
    return model
