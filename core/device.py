"""Choosing the torch device and thread count, once, in one place."""

from __future__ import annotations

import os
from functools import cache

import torch

DEVICE_ENV_VAR = "DSL_DEVICE"
THREADS_ENV_VAR = "DSL_TORCH_THREADS"


@cache
def pick_device() -> torch.device:
    """Return the training device: ``$DSL_DEVICE`` if set, else cuda, then mps, then cpu."""
    requested = os.environ.get(DEVICE_ENV_VAR, "").strip().lower()
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


_threads_configured = False


def configure_threads(default: int | None = None) -> int:
    """Set torch's intra-op threads once: ``$DSL_TORCH_THREADS``, else ``default``, else all cores (at most 4).

    The served app passes ``default=1``: its sessions train concurrently in one process, and
    with two threads each they oversubscribe the cores (measured with the other core busy: a
    default adaptation run took 4.2 s on 2 threads against 2.2 s on 1). The command line and
    the benchmarks use the cores. numpy's BLAS is limited to one thread: its idle threads spin
    after each call and steal the cores from torch (a shift report took 0.29 s instead of 0.22 s).
    Returns torch's thread count.
    """
    global _threads_configured
    if not _threads_configured:
        from threadpoolctl import threadpool_limits

        fallback = default if default is not None else min(4, os.cpu_count() or 1)
        threads = int(os.environ.get(THREADS_ENV_VAR, fallback))
        torch.set_num_threads(max(1, threads))
        threadpool_limits(limits=1, user_api="blas")
        _threads_configured = True
    return torch.get_num_threads()
