"""Which network a run trains (:class:`Architecture`) and trained networks kept as arrays (:class:`Networks`).

Two-dimensional points are read by a multilayer perceptron (:class:`~core.nn.models.BatchedMLP`);
images, flattened to rows, by a small convolutional network (:class:`~core.nn.conv.BatchedCNN`)
whose convolution blocks come before the same dense hidden layers. Both have the same
``weights`` / ``biases`` lists, layers from the input up and the head last, so every trainer
handles both alike; an :class:`Architecture` says which to build, and how inputs are standardised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.nn.conv import BatchedCNN
from core.nn.models import BatchedMLP, BatchedNetwork, seeded_generator
from core.nn.standardise import input_statistics, standardise

CONV_CHANNELS = (8, 16)  # the convolution blocks of an image network (3×3, stride 2 each)


@dataclass(frozen=True)
class Architecture:
    """A network family: dense ``hidden`` layers, after convolution blocks of ``channels`` for images.

    Parameters
    ----------
    hidden : tuple of int
        Widths of the dense hidden layers; the last is the feature layer.
    image_shape : tuple of int, optional
        ``(C, H, W)`` when inputs are flattened images; ``None`` for points.
    channels : tuple of int
        Output channels of the convolution blocks (images only).
    adapter_width : int
        Bottleneck width of the residual adapter after every dense hidden layer; 0: none.
    """

    hidden: tuple[int, ...]
    image_shape: tuple[int, int, int] | None = None
    channels: tuple[int, ...] = ()
    adapter_width: int = 0

    @classmethod
    def for_inputs(cls, hidden: Sequence[int], image_shape: tuple[int, int, int] | None) -> Architecture:
        """An MLP for points; for images, :data:`CONV_CHANNELS` convolution blocks and then ``hidden``."""
        hidden = tuple(int(h) for h in hidden)
        if image_shape is None:
            return cls(hidden)
        return cls(hidden, tuple(int(s) for s in image_shape), CONV_CHANNELS)

    @classmethod
    def of(cls, net: BatchedNetwork) -> Architecture:
        """The architecture of a built network."""
        if isinstance(net, BatchedCNN):
            return cls(net.hidden, net.image_shape, net.channels, net.adapter_width)
        return cls(net.hidden, adapter_width=net.adapter_width)

    @property
    def is_image(self) -> bool:
        return self.image_shape is not None

    @property
    def n_conv(self) -> int:
        """Convolution blocks (layers ``0 .. n_conv - 1``)."""
        return len(self.channels)

    @property
    def n_layers(self) -> int:
        """Layers with parameters: convolution blocks, dense hidden layers and the head."""
        return self.n_conv + len(self.hidden) + 1

    @property
    def n_rate_columns(self) -> int:
        """Columns of a learning-rate schedule: one per layer, one more for the adapters when there are any."""
        return self.n_layers + (1 if self.adapter_width and self.hidden else 0)

    def with_adapters(self, width: int) -> Architecture:
        """The same network with (``width > 0``) or without (0) an adapter after every dense hidden layer."""
        return Architecture(self.hidden, self.image_shape, self.channels, int(width))

    def build(self, n_models: int, n_features: int, n_classes: int,
              generator: torch.Generator | Sequence[torch.Generator] | None = None,
              device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> BatchedNetwork:
        """``n_models`` new networks (initial weights from ``generator``, as the network classes draw them)."""
        if self.image_shape is None:
            return BatchedMLP(n_models, n_features, self.hidden, n_classes, generator=generator, device=device,
                              dtype=dtype, adapter_width=self.adapter_width)
        return BatchedCNN(n_models, self.image_shape, self.channels, self.hidden, n_classes, generator=generator,
                          device=device, dtype=dtype, adapter_width=self.adapter_width)

    def input_statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std ``[d]`` that this network's inputs are standardised with (:func:`input_statistics`)."""
        return input_statistics(x, self.image_shape)

    def describe(self, n_features: int, n_classes: int) -> str:
        """The architecture as text, e.g. ``"2→32→32→2 (ReLU)"`` or ``"3×16×16 → conv8/2 → conv16/2 → 32 → 10"``."""
        return self.build(1, n_features, n_classes, device="cpu").describe()


@dataclass
class Networks:
    """``M`` trained networks as CPU arrays, each with the input standardisation it was trained with.

    ``mean`` and ``std`` are ``[M, d]``: model ``m`` reads ``(x - mean[m]) / std[m]``; ``adapters`` holds the
    adapters' parameters (in :attr:`~core.nn.models.BatchedNetwork.adapters` order) when the architecture has any.
    """

    architecture: Architecture
    n_features: int
    n_classes: int
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    mean: np.ndarray
    std: np.ndarray
    adapters: list[np.ndarray] = field(default_factory=list)

    @property
    def parameters(self) -> list[np.ndarray]:
        """Every parameter array in :meth:`~core.nn.models.BatchedNetwork.trainable` order."""
        return self.weights + self.biases + self.adapters

    @property
    def n_models(self) -> int:
        return len(self.mean)

    def network(self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> BatchedNetwork:
        """A batched network holding these weights (in ``dtype``)."""
        net = self.architecture.build(self.n_models, self.n_features, self.n_classes, device=device, dtype=dtype)
        with torch.no_grad():
            for param, value in zip(net.trainable(), self.parameters, strict=True):
                param.copy_(torch.as_tensor(value))
        return net

    @property
    def adapters_are_identity(self) -> bool:
        """Whether every adapter's up-projection and its bias are zero, so the networks compute what they would
        without adapters (true of new adapters, :meth:`with_adapters`)."""
        return not any(np.any(up) for group in range(0, len(self.adapters), 4) for up in self.adapters[group + 2:
                                                                                                        group + 4])

    def without_adapters(self) -> Networks:
        """These networks without their adapters (what they compute when every adapter is the identity)."""
        return Networks(self.architecture.with_adapters(0), self.n_features, self.n_classes, self.weights,
                        self.biases, self.mean, self.std)

    def with_adapters(self, width: int, seeds: Sequence[int]) -> Networks:
        """These networks with a new adapter of bottleneck ``width`` after every dense hidden layer, drawn per model
        from ``seeds``: each adapter starts as the identity, so the networks compute exactly what they did."""
        architecture = self.architecture.with_adapters(width)
        fresh = architecture.build(self.n_models, self.n_features, self.n_classes,
                                   generator=[seeded_generator(s) for s in seeds], device="cpu")
        return Networks(architecture, self.n_features, self.n_classes, self.weights, self.biases, self.mean, self.std,
                        [a.detach().numpy() for a in fresh.adapters])

    def standardised(self, x: np.ndarray) -> np.ndarray:
        """Inputs ``[N, d]`` (shared) or ``[M, N, d]`` as each model reads them: ``[M, N, d]``."""
        x = np.asarray(x, dtype=np.float64)
        return standardise(x, self.mean[:, None, :], self.std[:, None, :]).astype(np.float32)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities ``[M, N, K]`` of every model."""
        with torch.no_grad():
            return torch.softmax(self.network()(torch.from_numpy(self.standardised(x))), dim=-1).numpy()

    def features(self, x: np.ndarray) -> np.ndarray:
        """Feature-layer activations ``[M, N, H]`` of every model."""
        with torch.no_grad():
            return self.network().features(torch.from_numpy(self.standardised(x))).numpy()

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Accuracy ``[M]`` of every model on ``(x, y)``."""
        return (self.predict_proba(x).argmax(axis=-1) == np.asarray(y)[None, :]).mean(axis=1)

    def select(self, models: Sequence[int]) -> Networks:
        """A subset of the models, in the order given."""
        rows = np.asarray(models, dtype=int)
        return Networks(self.architecture, self.n_features, self.n_classes, [w[rows] for w in self.weights],
                        [b[rows] for b in self.biases], self.mean[rows], self.std[rows],
                        [a[rows] for a in self.adapters])

    @classmethod
    def concatenate(cls, parts: Sequence[Networks]) -> Networks:
        """The models of ``parts``, one after the other."""
        first = parts[0]
        stacked = lambda arrays: [np.concatenate(column) for column in zip(*arrays)]  # noqa: E731
        return cls(first.architecture, first.n_features, first.n_classes, stacked([p.weights for p in parts]),
                   stacked([p.biases for p in parts]), np.concatenate([p.mean for p in parts]),
                   np.concatenate([p.std for p in parts]), stacked([p.adapters for p in parts]))

    @classmethod
    def from_net(cls, net: BatchedNetwork, mean: np.ndarray, std: np.ndarray) -> Networks:
        arrays = lambda params: [p.detach().cpu().numpy() for p in params]  # noqa: E731
        return cls(Architecture.of(net), net.in_features, net.out_features, arrays(net.weights), arrays(net.biases),
                   np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64), arrays(net.adapters))
