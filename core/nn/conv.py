"""Batched small convolutional networks: ``M`` independent CNNs run as one tensor program.

The models are stacked along the channel axis, so that every convolution block of all ``M``
networks is one grouped :func:`torch.nn.functional.conv2d` (``groups=M``), and the dense layers
after it are one :func:`torch.baddbmm` each, as in :class:`~core.nn.models.BatchedMLP`. Inputs are
flattened images, ``[N, C*H*W]`` shared by all models or ``[M, N, C*H*W]`` one set per model,
the same convention as the MLP's ``[N, d]`` / ``[M, N, d]``; the network reshapes them itself.
So :class:`BatchedCNN` drops into the trainers that take a batched MLP (:mod:`core.training.train`,
:func:`core.training.finetune.fit_batched`): its parameters are the same ``weights`` / ``biases`` lists
with the model axis first, one entry per layer from the input up and the head last, and freezing
"the first ``k`` convolution blocks" is a learning rate of 0 for layers ``0 .. k - 1``.

Design (timings: ``benchmarks/bench_conv.py``):

- a block is a 3×3 convolution with stride 2 and padding 1, then ReLU. It halves the resolution
  as a 3×3 convolution followed by a 2×2 max-pool does, with a quarter of the multiply-adds and
  no full-resolution activation to keep for the backward pass, so it is the faster on a CPU;
- a shared input is not copied ``M`` times: the first block is one ordinary convolution with
  ``M * C_out`` output channels on the ``C`` shared input channels, which equals the grouped
  convolution of the input repeated along channels, without building that repeated tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from core.errors import InputError
from core.nn.models import BatchedNetwork

__all__ = ["BatchedCNN"]

KERNEL = 3
STRIDE = 2
PADDING = 1


def _downsampled(size: int) -> int:
    """Side of a feature map after one block (3×3, stride 2, padding 1): ``ceil(size / 2)``."""
    return (size + 2 * PADDING - KERNEL) // STRIDE + 1


class BatchedCNN(BatchedNetwork):
    """``M`` independent small convolutional networks with ReLU activations, evaluated together.

    Parameters
    ----------
    n_models : int
        Number of independent networks ``M``.
    image_shape : tuple of int
        ``(C, H, W)`` of one input image; inputs are flattened, ``in_features = C * H * W``.
    channels : tuple of int, default=(8, 16)
        Output channels of the convolution blocks (each a 3×3 convolution with stride 2 and
        padding 1, then ReLU; each halves the height and the width, rounding up).
    hidden : tuple of int, default=(64,)
        Widths of the dense hidden layers after the flattened last block; ``()`` makes the
        flattened block output the features.
    out_features : int, default=10
        Output dimension (classes).
    generator : torch.Generator or sequence of torch.Generator, optional
        Source of the initial weights, as for :class:`~core.nn.models.BatchedMLP`: a sequence of
        ``M`` generators draws model ``m`` from ``generator[m]`` alone (equal to a one-model
        network built from that seed); one generator draws the models in turn; ``None``: seed 0.
    device : torch.device or str, optional
        Device of the parameters (default: :func:`core.device.pick_device`).
    dtype : torch.dtype, default=torch.float32
    adapter_width : int, default=0
        Bottleneck width of a residual adapter after every dense hidden layer; 0: no adapters.

    Attributes
    ----------
    weights : torch.nn.ParameterList
        One entry per layer, from the input up: ``[M, C_out, C_in, 3, 3]`` for a convolution
        block, ``[M, fan_in, fan_out]`` for a dense layer and the head.
    biases : torch.nn.ParameterList
        ``[M, C_out]`` or ``[M, fan_out]``.

    Notes
    -----
    Initialisation is that of :class:`~core.nn.models.BatchedMLP` with a convolution's fan-in
    ``C_in * 3 * 3``: weights feeding a ReLU from ``U(-sqrt(6 / fan_in), sqrt(6 / fan_in))``,
    the head from ``U(-sqrt(3 / fan_in), sqrt(3 / fan_in))``, biases from
    ``U(-1 / sqrt(fan_in), 1 / sqrt(fan_in))``; per model in the order weight 0, bias 0, ...

    The block output is flattened per model in ``(channel, row, column)`` order, as
    ``torch.flatten`` does for one network. Layers ``0 .. n_layers - 2`` form the *body*
    (:meth:`features`), the last layer is the *head* (:meth:`head`).

    Examples
    --------
    >>> from core.nn.models import seeded_generator
    >>> net = BatchedCNN(4, (3, 16, 16), generator=seeded_generator(0), device="cpu")
    >>> net(torch.zeros(5, 3 * 16 * 16)).shape
    torch.Size([4, 5, 10])
    >>> net.describe()
    '3×16×16 → conv8/2 → conv16/2 → 64 → 10'
    """

    def __init__(
        self,
        n_models: int,
        image_shape: tuple[int, int, int],
        channels: tuple[int, ...] = (8, 16),
        hidden: tuple[int, ...] = (64,),
        out_features: int = 10,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        adapter_width: int = 0,
    ):
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) != 3 or any(s < 1 for s in image_shape):
            raise InputError("image_shape", f"expected (C, H, W) of positive integers, got {image_shape}")
        channels, hidden = tuple(int(c) for c in channels), tuple(int(h) for h in hidden)
        if any(c < 1 for c in channels) or any(h < 1 for h in hidden) or int(out_features) < 1:
            raise InputError("channels", "channel counts and layer widths must be positive integers")
        in_channels, height, width = image_shape
        super().__init__(n_models, in_channels * height * width, out_features, adapter_width)
        self.image_shape = image_shape
        self.channels = channels
        self.hidden = hidden

        layers = []
        for c_in, c_out in zip((in_channels, *channels), channels):
            layers.append(((c_out, c_in, KERNEL, KERNEL), c_out))
            height, width = _downsampled(height), _downsampled(width)
        self.map_shape = (channels[-1] if channels else in_channels, height, width)
        widths = (self.map_shape[0] * height * width, *hidden, self.out_features)
        layers += [((fan_in, fan_out), fan_out) for fan_in, fan_out in zip(widths, widths[1:])]
        self._init_parameters(layers, generator, device, dtype, adapted=hidden)

    @property
    def n_conv(self) -> int:
        """Number of convolution blocks (layers ``0 .. n_conv - 1``)."""
        return len(self.channels)

    @property
    def feature_dim(self) -> int:
        """Width of :meth:`features`: the last hidden width, or the flattened last block."""
        return self.hidden[-1] if self.hidden else self.map_shape[0] * self.map_shape[1] * self.map_shape[2]

    def convolved(self, x: torch.Tensor) -> torch.Tensor:
        """Output ``[M, N, C_last * H_last * W_last]`` of the convolution blocks, flattened per model,
        for inputs as in :meth:`features`."""
        if not self.channels:
            return self._batched(x)
        if self._is_shared(x):
            # one convolution with M * C_out outputs reads the shared channels once (no repeat)
            maps, groups = x.reshape(-1, *self.image_shape), 1
        else:
            c, h, w = self.image_shape
            # models along the channel axis: [N, M * C, H, W]
            maps = x.reshape(self.n_models, -1, c, h, w).transpose(0, 1).reshape(-1, self.n_models * c, h, w)
            groups = self.n_models
        for i in range(self.n_conv):
            maps = torch.relu(F.conv2d(maps, self.weights[i].flatten(0, 1), self.biases[i].flatten(),
                                       stride=STRIDE, padding=PADDING, groups=groups))
            groups = self.n_models
        return maps.reshape(maps.shape[0], self.n_models, -1).transpose(0, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the body: the last hidden dense layer after its ReLU.

        Parameters
        ----------
        x : torch.Tensor of shape [N, C*H*W] or [M, N, C*H*W]
            Flattened images; a 2-D input is shared by all ``M`` models.

        Returns
        -------
        h : torch.Tensor of shape [M, N, feature_dim]
            With ``hidden=()`` the flattened output of the last convolution block.
        """
        return self._dense(self.convolved(x), self.n_conv)

    def describe(self) -> str:
        """Architecture as text, e.g. ``"3×16×16 → conv8/2 → conv16/2 → 64 → 10"``."""
        parts = ["×".join(str(s) for s in self.image_shape)]
        parts += [f"conv{c}/{STRIDE}" for c in self.channels]
        parts += [str(w) for w in (*self.hidden, self.out_features)]
        return " → ".join(parts) + (f" ({self._adapters_text()[2:]})" if len(self.adapters) else "")
