"""Our batched MMD (DAN) trainer against skada.deep's DAN: seconds per trained model and target accuracy.

Run ``python benchmarks/bench_vs_skada.py [--seeds 8] [--batched 8] [--rotations 35,20]`` after
``pip install -r requirements-bench.txt`` (skada is a benchmark-only dependency; the app never
imports it). Both sides train on the very same points: ``core.data.domains.generate(Scenario(rotation=r))``
(two moons, noise 0.1, 500 labelled source points, 500 unlabelled target-pool points), inputs
standardised with the pooled source + pool mean and std (what our trainer does), and are scored
on the 1,000 target test points.

- skada: ``skada.deep.DAN`` (skorch) with a 2→64→64 ReLU feature extractor (the features are the
  output of the second ReLU, ``layer_name="feature"``) and a linear head to 2 classes;
  ``reg=1``, Adam with lr 0.01, ``max_epochs=100``, ``batch_size=64``, ``train_split=None``.
  Its domain-balanced loader gives each step 64 source + 64 target points and
  ``floor(500 / 64) = 7`` steps an epoch: 700 steps in all. One model per ``fit``.
- ours: the ``mmd`` method of :mod:`core.training.train` with the same network, lambda = 1, Adam lr 0.01,
  and the same number of steps and points per step (700 steps of 64 source + 64 target points),
  trained one model per run and ``--batched`` models (seeds) per run. The app's current defaults
  (``TrainSettings()``: steps, batch and widths are printed in the rows) are timed too, and so is our
  ``self_training`` at those defaults (not a DAN: the method of ours that adapts best here, for reference).

Seconds are training only (skada's ``fit``, our ``train_models`` / ``run_adaptation``'s
``train_seconds``), on torch's threads as the app sets them (2; ``DSL_TORCH_THREADS=1`` gives
steadier times when other processes share the cores: both sides run hundreds of tiny ops a step,
and with 2 threads on 2 busy cores every op can wait for a time slice); medians over runs, the
two sides interleaved seed by seed. Accuracy: mean ± sd over seeds on the target test points
(the spread is large: compare means over 8 or more seeds, not 3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch  # noqa: E402  (after _common: thread set-up and import path)
from _common import setup

from core.data.domains import DomainData, generate  # noqa: E402
from core.labs.adaptation import model_seed, run_adaptation  # noqa: E402
from core.nn.standardise import input_statistics, standardise  # noqa: E402
from core.scenario import Scenario  # noqa: E402
from core.training.train import ModelSpec, TrainSettings, train_models  # noqa: E402

EPOCHS, BATCH, LAM, LR, HIDDEN = 100, 64, 1.0, 0.01, 64
SOURCE_DOMAIN, TARGET_DOMAIN, MASKED_LABEL = 1, -2, -1  # skada: source >= 0, target < 0, masked y = -1


def _skada():
    try:
        from skada.deep import DAN
    except ImportError as error:
        sys.exit(f"skada is not installed ({error}): .venv/bin/pip install -r requirements-bench.txt")
    return DAN


class SkadaNet(torch.nn.Module):
    """2→64→64 ReLU feature extractor + linear head; skada reads the features off ``feature``."""

    def __init__(self, hidden: int = HIDDEN, n_classes: int = 2):
        super().__init__()
        self.dense0 = torch.nn.Linear(2, hidden)
        self.relu0 = torch.nn.ReLU()
        self.dense1 = torch.nn.Linear(hidden, hidden)
        self.feature = torch.nn.ReLU()
        self.head = torch.nn.Linear(hidden, n_classes)

    def forward(self, X, sample_weight=None):  # skada passes sample_weight at prediction time
        return self.head(self.feature(self.dense1(self.relu0(self.dense0(X)))))


def skada_steps(data: DomainData) -> int:
    """Optimiser steps of skada's DomainBalancedSampler: max over domains of floor(n / batch), per epoch."""
    per_epoch = max(len(data.source_x) // BATCH, len(data.target_pool_x) // BATCH)
    return EPOCHS * per_epoch


def skada_fit(data: DomainData, seed: int, epochs: int = EPOCHS) -> tuple[float, float]:
    """Train one skada DAN; return (fit seconds, target test accuracy)."""
    DAN = _skada()
    pooled = np.concatenate([data.source_x, data.target_pool_x])
    mean, std = input_statistics(pooled)
    scale = lambda a: standardise(a, mean, std).astype(np.float32)  # noqa: E731
    x = np.concatenate([scale(data.source_x), scale(data.target_pool_x)])
    y = np.concatenate([data.source_y, np.full(len(data.target_pool_x), MASKED_LABEL)]).astype(np.int64)
    domain = np.concatenate([np.full(len(data.source_x), SOURCE_DOMAIN),
                             np.full(len(data.target_pool_x), TARGET_DOMAIN)]).astype(np.int64)
    torch.manual_seed(seed)  # skorch and skada's sampler draw from torch's global generator
    net = DAN(SkadaNet(), layer_name="feature", reg=LAM, max_epochs=epochs, batch_size=BATCH,
              optimizer=torch.optim.Adam, lr=LR, train_split=None, verbose=0, device="cpu")
    started = time.perf_counter()
    net.fit(x, y, domain)
    seconds = time.perf_counter() - started
    test_x = scale(data.target_test_x)
    predicted = net.predict(test_x, sample_domain=np.full(len(test_x), TARGET_DOMAIN, dtype=np.int64))
    return seconds, float((predicted == data.target_test_y).mean())


def ours_single(data: DomainData, settings: TrainSettings, seed_index: int) -> tuple[float, float]:
    """Train one model alone (the seed run_adaptation gives its ``seed_index``-th model)."""
    spec = ModelSpec("mmd", model_seed(data.scenario, seed_index), settings.lam)
    trained = train_models(data.training_inputs(), [spec], settings, n_classes=2)
    accuracy = (trained.predict_proba(data.target_test_x).argmax(axis=-1) == data.target_test_y).mean(axis=1)
    return trained.train_seconds, float(accuracy[0])


def ours_batched(data: DomainData, settings: TrainSettings, n_models: int, method: str = "mmd"
                 ) -> tuple[float, list[float]]:
    """Train ``n_models`` seeds of ``method`` as one batched run; return (train seconds, accuracies)."""
    run = run_adaptation(data.scenario, [method], n_seeds=n_models, settings=settings, data=data)
    return run.train_seconds, [r["target_acc"] for r in run.rows if r["target_acc"] is not None]


def _row(name: str, per_run: int, run_seconds: list[float], accuracies: list[float]) -> dict:
    median = statistics.median(run_seconds)
    return {"name": name, "models": per_run, "runs": len(run_seconds), "run_s": median,
            "model_s": median / per_run, "acc_mean": float(np.mean(accuracies)),
            "acc_sd": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
            "n_acc": len(accuracies)}


def compare(rotation: float, n_seeds: int, n_batched: int, batched_runs: int) -> list[dict]:
    """Time and score both sides on one scenario; skada and our runs are interleaved seed by seed,
    so that load from other processes falls on both alike."""
    data = generate(Scenario(rotation=rotation))
    steps = skada_steps(data)
    same = TrainSettings(lam=LAM, steps=steps, lr=LR, hidden=(HIDDEN, HIDDEN), batch_size=BATCH)
    default = TrainSettings(lam=LAM)
    print(f"\nscenario: {data.scenario.to_query() or 'defaults'} (moons, noise 0.1): {len(data.source_x)} source, "
          f"{len(data.target_pool_x)} target-pool, {len(data.target_test_x)} target-test points")

    skada_fit(data, seed=10_000, epochs=2)  # warm-ups (first-call costs), not timed
    ours_single(data, TrainSettings(lam=LAM, steps=20, hidden=(HIDDEN, HIDDEN), batch_size=BATCH), 0)
    skada_runs, single_runs, batched_runs_, default_runs, default_single_runs, pseudo_runs = [], [], [], [], [], []
    for seed in range(max(n_seeds, batched_runs)):
        if seed < n_seeds:
            skada_runs.append(skada_fit(data, seed))
            single_runs.append(ours_single(data, same, seed))
            default_single_runs.append(ours_single(data, default, seed))
        if seed < batched_runs:
            batched_runs_.append(ours_batched(data, same, n_batched))
            default_runs.append(ours_batched(data, default, n_batched))
            pseudo_runs.append(ours_batched(data, default, n_batched, "self_training"))

    def row(name, per_run, runs):
        return _row(name, per_run, [s for s, _ in runs],
                    runs[-1][1] if per_run > 1 else [a for _, a in runs])

    hidden = "→".join(str(h) for h in (2, *default.hidden, 2))
    rows = [
        row(f"skada.deep DAN ({EPOCHS} epochs × {steps // EPOCHS} steps of {BATCH}+{BATCH}, 2→64→64→2)", 1, skada_runs),
        row(f"ours mmd, same: {steps} steps of {BATCH}+{BATCH}, 2→64→64→2", 1, single_runs),
        row(f"ours mmd, same, {n_batched} seeds in one run", n_batched, batched_runs_),
        row(f"ours mmd, app defaults: {default.steps} steps of {default.batch_size}+{default.batch_size}, {hidden}",
            1, default_single_runs),
        row(f"ours mmd, app defaults, {n_batched} seeds in one run", n_batched, default_runs),
        row(f"ours self_training (another method), app defaults, {n_batched} seeds in one run", n_batched,
            pseudo_runs),
    ]
    _print(rows)
    shared = min(n_seeds, n_batched)
    gap = np.abs(np.array([a for _, a in single_runs[:shared]]) - np.array(batched_runs_[-1][1][:shared])).max()
    print(f"per-seed target accuracy, skada: {_fmt([a for _, a in skada_runs])}")
    print(f"per-seed target accuracy, ours (same): {_fmt(batched_runs_[-1][1])}")
    print(f"ours, the same {shared} seeds trained alone vs in one batch: max |accuracy difference| {gap:.4f}")
    return rows


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.3f}" for v in values)


def _print(rows: list[dict]) -> None:
    skada = rows[0]["model_s"]
    width = max(len(r["name"]) for r in rows)
    print(f"{'method':<{width}}  {'models/run':>10}  {'runs':>4}  {'s/run':>8}  {'s/model':>8}  "
          f"{'target acc (mean ± sd, n)':>26}  {'skada s/model ÷ ours':>20}")
    for r in rows:
        ratio = "" if r is rows[0] else f"{skada / r['model_s']:.1f}×"
        accuracy = f"{r['acc_mean']:.3f} ± {r['acc_sd']:.3f} (n={r['n_acc']})"
        print(f"{r['name']:<{width}}  {r['models']:>10}  {r['runs']:>4}  {r['run_s']:8.3f}  {r['model_s']:8.4f}  "
              f"{accuracy:>26}  {ratio:>20}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=8, help="skada fits and our one-model runs (seeds)")
    parser.add_argument("--batched", type=int, default=8, help="seeds trained in one batched run of ours (1-10)")
    parser.add_argument("--batched-runs", type=int, default=3, help="repeats of each batched run of ours")
    parser.add_argument("--rotations", default="35,20", help="comma-separated rotations in degrees")
    args = parser.parse_args()
    machine = setup()
    _skada()
    import skada
    import skorch

    print(f"{machine}; skada {skada.__version__}, skorch {skorch.__version__}; "
          f"load average before {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    for rotation in (float(r) for r in args.rotations.split(",")):
        compare(rotation, args.seeds, args.batched, args.batched_runs)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average after {os.getloadavg()[0]:.2f} "
          f"(other processes on the cores inflate every time here)")


if __name__ == "__main__":
    main()
