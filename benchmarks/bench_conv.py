"""Timings of the batched CNN (core.nn.conv): M = 18 small CNNs as one program against a loop of 18.

Run ``python benchmarks/bench_conv.py [--repeats 20]``. One training step's forward and backward
pass (cross-entropy on random labels, gradients of every parameter) of 18 networks
3×16×16 → conv8/2 → conv16/2 → 64 → 10 on a batch of 128 images. Prints medians of:

- the batched network on a shared input (its first block is one convolution with 18 × 8 output
  channels on the 3 shared channels) and on the same input repeated per model (``[M, N, d]``:
  the models' inputs stacked along channels, a grouped convolution from the first block on);
- a loop over 18 one-model :class:`~core.nn.conv.BatchedCNN` and over 18 plain ``torch.nn``
  networks of the same architecture;
- the block design: the batched network with 3×3 stride-2 convolutions (what it uses) against
  stride-1 convolutions each followed by a 2×2 max-pool (same weights, same output sizes).

Set ``DSL_TORCH_THREADS`` for the thread count (2 by default) and ``DSL_DEVICE`` for the device.

On Linux, glibc's malloc gives the batched step's multi-megabyte buffers back to the system after
every step and the next step faults them in again (about 6,800 page faults a step, measured with
``/usr/bin/time -v``); the one-model loops allocate small buffers and do not pay this. With
``MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=268435456`` in the environment the
memory is kept and, at 1 thread, the batched step took 14.6 ms instead of 22.2 ms. The first
line printed says which allocator setting a run used.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.nn.functional as F
from _common import median_seconds, setup
from torch import nn

from core.device import pick_device
from core.nn.conv import BatchedCNN
from core.nn.models import seeded_generator

N_MODELS = 18
N_IMAGES = 128
IMAGE = (3, 16, 16)
CHANNELS = (8, 16)
HIDDEN = (64,)
CLASSES = 10


def _step(parameters, logits_of, labels: torch.Tensor, device: torch.device):
    """A function running one forward and backward pass of ``logits_of()`` ``[M, N, K]``."""

    def run() -> None:
        for p in parameters:
            p.grad = None
        logits = logits_of()
        F.cross_entropy(logits.flatten(0, 1), labels.repeat(logits.shape[0]), reduction="sum").backward()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return run


def _pooled_logits(net: BatchedCNN, x: torch.Tensor) -> torch.Tensor:
    """``net``'s forward pass with each block as a stride-1 convolution and a 2×2 max-pool."""
    maps, groups = x.reshape(-1, *IMAGE), 1
    for i in range(net.n_conv):
        maps = torch.relu(F.conv2d(maps, net.weights[i].flatten(0, 1), net.biases[i].flatten(), padding=1,
                                   groups=groups))
        maps, groups = F.max_pool2d(maps, 2), net.n_models
    return net.head(net._dense(maps.reshape(maps.shape[0], net.n_models, -1).transpose(0, 1), net.n_conv))


def _plain_network(seed: int, device: torch.device) -> nn.Sequential:
    torch.manual_seed(seed)
    layers, c_in, side = [], IMAGE[0], IMAGE[1]
    for c_out in CHANNELS:
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
        c_in, side = c_out, (side + 1) // 2
    widths = (c_in * side * side, *HIDDEN)
    layers.append(nn.Flatten())
    for fan_in, fan_out in zip(widths, widths[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], CLASSES))
    return nn.Sequential(*layers).to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(setup())
    kept = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    print(f"glibc malloc: {'trim threshold ' + kept if kept else 'default thresholds (memory given back each step)'}")
    device = pick_device()
    gen = seeded_generator(0)
    x = torch.randn(N_IMAGES, IMAGE[0] * IMAGE[1] * IMAGE[2], generator=gen).to(device)
    labels = torch.randint(0, CLASSES, (N_IMAGES,), generator=gen).to(device)
    seeds = range(N_MODELS)

    batched = BatchedCNN(N_MODELS, IMAGE, CHANNELS, HIDDEN, CLASSES, generator=[seeded_generator(s) for s in seeds],
                         device=device)
    singles = [BatchedCNN(1, IMAGE, CHANNELS, HIDDEN, CLASSES, generator=seeded_generator(s), device=device)
               for s in seeds]
    plains = [_plain_network(s, device) for s in seeds]
    params = list(batched.parameters())
    repeated = x.expand(N_MODELS, -1, -1)
    print(f"{N_MODELS} networks {batched.describe()} ({batched.parameter_count():,} parameters each), "
          f"{N_IMAGES} images, forward + backward; medians of {args.repeats}")

    def loop(networks, logits_of) -> None:
        for net in networks:
            for p in net.parameters():
                p.grad = None
            F.cross_entropy(logits_of(net), labels, reduction="sum").backward()
        if device.type == "cuda":
            torch.cuda.synchronize()

    timings = {
        "batched, shared input (one wide first conv)": _step(params, lambda: batched(x), labels, device),
        "batched, input repeated per model (grouped)": _step(params, lambda: batched(repeated), labels, device),
        "batched, conv stride 1 + 2x2 max-pool blocks": _step(params, lambda: _pooled_logits(batched, x), labels,
                                                               device),
        "loop of 18 one-model BatchedCNN": lambda: loop(singles, lambda net: net(x)[0]),
        "loop of 18 plain torch.nn networks": lambda: loop(plains, lambda net: net(x.view(-1, *IMAGE))),
    }
    seconds = {name: median_seconds(fn, args.repeats)[0] for name, fn in timings.items()}
    reference = seconds["batched, shared input (one wide first conv)"]
    for name, value in seconds.items():
        print(f"  {name:<46} {value * 1e3:8.2f} ms   {value / reference:5.2f}x the batched shared-input step")
    print(f"batched speed-up over the loop of one-model BatchedCNN: "
          f"{seconds['loop of 18 one-model BatchedCNN'] / reference:.1f}x; "
          f"over plain torch.nn: {seconds['loop of 18 plain torch.nn networks'] / reference:.1f}x")


if __name__ == "__main__":
    main()
