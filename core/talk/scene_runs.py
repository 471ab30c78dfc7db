"""The runs the pages make, as stored results: their kinds, their keys at the pages' default settings,
and ``warm``, which trains a talk's scenes before the talk.

A page builds the key of each run from its form's values with the functions here, and fetches it
through :func:`stored_run`; ``python -m core warm`` builds the same keys from the same defaults,
so the pages then find every scene's results in the result store (:mod:`core.talk.result_store`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.labs import adaptation, finetune_runs, image_lab, sweeps
from core.labs.image_lab import IMAGE_METHODS, ImageLabSettings
from core.labs.lambda_models import lambda_grid
from core.metrics import shift_report
from core.scenario import Scenario
from core.talk.presets import Preset
from core.talk.result_store import ResultStore, default_store
from core.training.finetune import STRATEGIES, FinetuneSettings
from core.training.methods import METHODS
from core.training.train import TrainSettings

Progress = Callable[[float], None] | None


@dataclass(frozen=True)
class RunKind:
    """A kind of stored run: its name in the store and the engine function that computes it from a key."""

    name: str
    compute: Callable[..., Any]  # compute(*key, progress=None)


SHIFT_REPORT = RunKind("shift_report", lambda scenario, progress=None: shift_report.shift_report(scenario))
DIVERGENCE_SWEEP = RunKind("divergence_sweep", lambda scenario, knob, n_points, progress=None:
                           shift_report.divergence_sweep(scenario, knob, n_points=n_points))
ADAPTATION = RunKind("adaptation", lambda scenario, methods, n_seeds, settings, progress=None:
                     adaptation.run_adaptation(scenario, methods, n_seeds, settings, progress=progress))
LAMBDA_SWEEP = RunKind("lambda_sweep", lambda scenario, method, lambdas, n_seeds, settings, progress=None:
                       sweeps.lambda_sweep_with_models(scenario, method, lambdas, n_seeds, settings,
                                                       progress=progress))
FINETUNE = RunKind("finetune", lambda scenario, strategies, labels, n_seeds, settings, knob=None, values=None,
                   progress=None: finetune_runs.run_finetuning(scenario, strategies, labels, n_seeds, settings,
                                                               knob=knob, values=values, progress=progress))
IMAGE_LAB = RunKind("image_lab", lambda scenario, methods, n_seeds, settings, progress=None:
                    image_lab.run_image_lab(scenario, n_seeds, settings, methods, progress=progress))


def stored_run(kind: RunKind, key: tuple, progress: Progress = None, store: ResultStore | None = None) -> Any:
    """``kind``'s result at ``key`` from ``store`` (default: :func:`default_store`), computed and stored when
    it is not there."""
    store = default_store() if store is None else store
    return store.fetch(kind.name, key, lambda: kind.compute(*key, progress=progress))


# --- Domain shift -------------------------------------------------------------------------------------

SWEEP_POINTS = 9  # the page's default number of points along the swept knob


def divergence_sweep_key(scenario: Scenario, knob: str | None = None, n_points: int = SWEEP_POINTS) -> tuple:
    """Key of the divergence sweep; the page's default knob is the first it offers."""
    return scenario, knob or shift_report.sweep_knobs(scenario)[0], n_points


# --- Adaptation ---------------------------------------------------------------------------------------

ADAPTATION_DEFAULTS = {"adapt_methods": [m.name for m in METHODS], "adapt_seeds": 3,
                       "adapt_lam": TrainSettings().lam, "adapt_steps": TrainSettings().steps}
ADAPTATION_BASELINE = "source_only"


def adaptation_methods(scenario: Scenario, names: Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
    """The methods to train, in the fixed order, with the baseline; and the chosen ones skipped because
    they need labelled target samples and the scenario has none."""
    names = set(names)
    skipped = [m.name for m in METHODS if m.name in names and m.needs_target_labels and scenario.labels_per_class == 0]
    methods = tuple(m.name for m in METHODS
                    if m.name == ADAPTATION_BASELINE or (m.name in names and m.name not in skipped))
    return methods, skipped


def adaptation_key(scenario: Scenario, values: Mapping[str, Any] = ADAPTATION_DEFAULTS) -> tuple:
    """Key of the Adaptation page's run for its form's ``values``."""
    methods, _ = adaptation_methods(scenario, values["adapt_methods"])
    settings = TrainSettings(lam=float(values["adapt_lam"]), steps=int(values["adapt_steps"]))
    return scenario, methods, int(values["adapt_seeds"]), settings


# --- MMD vs lambda ------------------------------------------------------------------------------------

LAMBDA_DEFAULTS = {"lam_method": "mmd", "lam_count": 12, "lam_seeds": 3, "lam_steps": TrainSettings().steps}


def lambda_sweep_key(scenario: Scenario, values: Mapping[str, Any] = LAMBDA_DEFAULTS) -> tuple:
    """Key of the MMD-vs-λ page's sweep for its form's ``values``."""
    return (scenario, values["lam_method"], lambda_grid(int(values["lam_count"])), int(values["lam_seeds"]),
            TrainSettings(steps=int(values["lam_steps"])))


# --- Negative transfer --------------------------------------------------------------------------------

TRANSFER_REFERENCE = "scratch"
TRANSFER_STRATEGIES = tuple(s.name for s in STRATEGIES if s.name != TRANSFER_REFERENCE)
TRANSFER_MAPS = (  # (knob, its values: the rows of a map)
    ("rotation", tuple(float(v) for v in np.arange(0, 181, 30))),
    ("concept", tuple(float(v) for v in np.linspace(0, 1, 5))),
)
TRANSFER_SETTINGS = FinetuneSettings()
TRANSFER_DEFAULTS = {"nt_strategies": ["feature_extraction", "finetune"], "nt_mapped": "finetune",
                     "nt_labels": [1, 2, 5, 10, 20, 50], "nt_seeds": 3}


def transfer_map_keys(scenario: Scenario, values: Mapping[str, Any] = TRANSFER_DEFAULTS) -> list[tuple]:
    """Keys of the Negative transfer page's maps, one per knob of :data:`TRANSFER_MAPS`, for its form's ``values``."""
    mapped = values["nt_mapped"]
    strategies = tuple(s for s in (TRANSFER_REFERENCE, *TRANSFER_STRATEGIES)
                       if s in (TRANSFER_REFERENCE, mapped) or s in values["nt_strategies"])
    labels = finetune_runs.check_labels(values["nt_labels"], "Labelled target samples per class")
    return [(finetune_runs.pool_scenario(scenario), strategies, labels, int(values["nt_seeds"]), TRANSFER_SETTINGS,
             knob, knob_values) for knob, knob_values in TRANSFER_MAPS]


# --- Image domains ------------------------------------------------------------------------------------

_IMAGE = ImageLabSettings()
IMAGE_DEFAULTS = {"img_methods": list(IMAGE_METHODS), "img_seeds": 3, "img_steps": _IMAGE.steps, "img_lam": _IMAGE.lam,
                  "img_frozen": _IMAGE.frozen_blocks, "img_epochs": _IMAGE.finetune_epochs}


def image_lab_key(scenario: Scenario, values: Mapping[str, Any] = IMAGE_DEFAULTS) -> tuple:
    """Key of the Image domains page's run for its form's ``values``."""
    methods = tuple(m for m in IMAGE_METHODS if m in values["img_methods"] or m == "source_only")
    settings = ImageLabSettings(steps=int(values["img_steps"]), lam=float(values["img_lam"]),
                                frozen_blocks=int(values["img_frozen"]), finetune_epochs=int(values["img_epochs"]))
    return scenario, methods, int(values["img_seeds"]), settings


# --- Warming a talk's scenes --------------------------------------------------------------------------

def scene_runs(preset: Preset) -> list[tuple[RunKind, tuple]]:
    """The runs (kind, key) the scene's page makes at its default settings."""
    scenario = preset.scenario
    if preset.page == "domain_shift":
        return [(SHIFT_REPORT, (scenario,)), (DIVERGENCE_SWEEP, divergence_sweep_key(scenario))]
    if preset.page == "adaptation":
        return [(ADAPTATION, adaptation_key(scenario))]
    if preset.page == "lambda_sweep":
        return [(LAMBDA_SWEEP, lambda_sweep_key(scenario))]
    if preset.page == "negative_transfer":
        return [(FINETUNE, key) for key in transfer_map_keys(scenario)]
    if preset.page == "image_domains":
        return [(IMAGE_LAB, image_lab_key(scenario))]
    raise ValueError(f"no default runs for page {preset.page!r}")


def is_warm(preset: Preset) -> bool:
    """Whether every run of the scene is in the result store."""
    store = default_store()
    return all(store.contains(kind.name, key) for kind, key in scene_runs(preset))


def warm(presets: Iterable[Preset], report: Callable[[str, str, float], None] | None = None) -> list[dict]:
    """Compute and store every run of ``presets`` not yet stored; one row (scene, run, seconds, state) per run."""
    store, rows = default_store(), []
    for preset in presets:
        for kind, key in scene_runs(preset):
            stored = store.contains(kind.name, key)
            start = time.perf_counter()
            stored_run(kind, key, store=store)
            seconds = time.perf_counter() - start
            rows.append({"scene": preset.name, "run": kind.name, "seconds": round(seconds, 3),
                         "state": "already stored" if stored else "trained and stored"})
            if report is not None:
                report(preset.name, kind.name, seconds)
    return rows

