"""The runs the pages make, as stored results: their kinds, their keys at the pages' default settings,
and ``warm``, which trains a talk's scenes before the talk.

A page builds the key of each run from its settings (a :class:`~core.knobs.KnobSet`) with the functions
here, and fetches it through :func:`stored_run`; ``python -m core warm`` builds the same keys from the same defaults,
so the pages then find every scene's results in the result store (:mod:`core.talk.result_store`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from core.labs import adaptation, distillation, finetune_runs, forgetting, image_lab, shift_matrix, sweeps
from core.labs.adaptation import AdaptationPageSettings
from core.labs.distillation import DistillationPageSettings
from core.labs.finetune_runs import FinetunePageSettings
from core.labs.forgetting import ForgettingPageSettings
from core.labs.image_lab import ImagePageSettings
from core.labs.negative_transfer import MAPS, TransferMapPageSettings
from core.labs.shift_matrix import ShiftMatrixPageSettings
from core.labs.sweeps import BoundPageSettings, LambdaSweepPageSettings
from core.metrics import shift_report
from core.metrics.shift_report import DivergenceSweepPageSettings
from core.scenario import Scenario
from core.talk.presets import Preset
from core.talk.result_store import ResultStore, default_store

Progress = Callable[[float], None] | None


@dataclass(frozen=True)
class RunKind:
    """A kind of stored run: its name in the store, the engine function that computes it from a key, and the
    type of its result (a stored file that decodes to anything else is deleted and recomputed)."""

    name: str
    compute: Callable[..., Any]  # compute(*key, progress=None, **watch)
    result_type: type = object


SHIFT_REPORT = RunKind("shift_report", lambda scenario, progress=None: shift_report.shift_report(scenario),
                       shift_report.ShiftReport)
DIVERGENCE_SWEEP = RunKind("divergence_sweep", lambda scenario, knob, n_points, progress=None:
                           shift_report.divergence_sweep(scenario, knob, n_points=n_points), list)
ADAPTATION = RunKind("adaptation", lambda scenario, methods, n_seeds, settings, progress=None, on_frame=None:
                     adaptation.run_adaptation(scenario, methods, n_seeds, settings, progress=progress,
                                               on_frame=on_frame), adaptation.AdaptationRun)
LAMBDA_SWEEP = RunKind("lambda_sweep", lambda scenario, method, lambdas, n_seeds, settings, progress=None:
                       sweeps.lambda_sweep_with_models(scenario, method, lambdas, n_seeds, settings,
                                                       progress=progress), tuple)
FINETUNE = RunKind("finetune", lambda scenario, strategies, labels, n_seeds, settings, knob=None, values=None,
                   progress=None: finetune_runs.run_finetuning(scenario, strategies, labels, n_seeds, settings,
                                                               knob=knob, values=values, progress=progress),
                   finetune_runs.FinetuneRun)
SHIFT_MATRIX = RunKind("shift_matrix", lambda cases, methods, n_seeds, settings, progress=None:
                       shift_matrix.shift_matrix(cases, methods, n_seeds, settings, progress=progress),
                       shift_matrix.ShiftMatrix)
BOUND = RunKind("bound", lambda scenario, knob, values, n_seeds, adapted, progress=None:
                sweeps.ben_david_sweep(scenario, knob, values, n_seeds=n_seeds, adapted=adapted, progress=progress),
                list)
DISTILLATION = RunKind("distillation", lambda scenario, n_seeds, settings, progress=None:
                       distillation.run_distillation(scenario, n_seeds, settings, progress=progress),
                       distillation.DistillRun)
FORGETTING = RunKind("forgetting", lambda scenario, settings, progress=None:
                     forgetting.run_forgetting(scenario, settings, progress=progress), forgetting.ForgettingRun)
IMAGE_LAB = RunKind("image_lab", lambda scenario, methods, n_seeds, settings, progress=None:
                    image_lab.run_image_lab(scenario, n_seeds, settings, methods, progress=progress),
                    image_lab.ImageLabRun)


def stored_run(kind: RunKind, key: tuple, progress: Progress = None, store: ResultStore | None = None,
               **watch: Any) -> Any:
    """``kind``'s result at ``key`` from ``store`` (default: :func:`default_store`), computed and stored when
    it is not there; ``watch`` (such as the adaptation run's ``on_frame``) goes to the computation."""
    store = default_store() if store is None else store
    return store.fetch(kind.name, key, lambda: kind.compute(*key, progress=progress, **watch), kind.result_type)


# --- The keys of each page's runs, from its settings ----------------------------------------------------

def divergence_sweep_key(scenario: Scenario, settings: DivergenceSweepPageSettings) -> tuple:
    """Key of the Domain shift page's divergence sweep (a knob the dataset lacks falls back to its first; the
    swept knob at its default, :func:`~core.metrics.shift_report.sweep_base`)."""
    knob = settings.knob_for(scenario)
    return shift_report.sweep_base(scenario, knob), knob, settings.points


def adaptation_key(scenario: Scenario, settings: AdaptationPageSettings) -> tuple:
    """Key of the Adaptation page's run."""
    methods, _ = settings.methods_to_train(scenario)
    return scenario, methods, settings.seeds, settings.train_settings()


def lambda_sweep_key(scenario: Scenario, settings: LambdaSweepPageSettings) -> tuple:
    """Key of the MMD-vs-λ page's sweep."""
    return scenario, settings.method, settings.lambdas(), settings.seeds, settings.train_settings()


def bound_key(scenario: Scenario, settings: BoundPageSettings) -> tuple:
    """Key of the Ben-David bound page's sweep."""
    return scenario, settings.knob, settings.values(), settings.seeds, settings.adapted_method()


def distillation_key(scenario: Scenario, settings: DistillationPageSettings) -> tuple:
    """Key of the Distillation page's run."""
    return scenario, settings.seeds, settings.distill_settings()


def finetune_key(scenario: Scenario, settings: FinetunePageSettings) -> tuple:
    """Key of the Fine-tuning page's run."""
    return (finetune_runs.pool_scenario(scenario), settings.strategies_to_train(), settings.labels_for(scenario),
            settings.seeds, settings.finetune_settings())


def forgetting_key(scenario: Scenario, settings: ForgettingPageSettings) -> tuple:
    """Key of the Forgetting page's run (the strengths of remedies it does not train at their defaults)."""
    return finetune_runs.pool_scenario(scenario), settings.trained()


def transfer_map_keys(scenario: Scenario, settings: TransferMapPageSettings) -> list[tuple]:
    """Keys of the Negative transfer page's maps, one per knob of :data:`~core.labs.negative_transfer.MAPS`."""
    labels = settings.labels_for(scenario)
    return [(finetune_runs.pool_scenario(scenario), settings.strategies_to_train(), labels, settings.seeds,
             settings.finetune_settings(), knob, knob_values) for knob, knob_values in MAPS]


def shift_matrix_key(settings: ShiftMatrixPageSettings) -> tuple:
    """Key of the Which method for which shift page's matrix (its scenarios are its own, not the sidebar's)."""
    return settings.cases, settings.methods, settings.seeds, settings.train_settings()


def image_lab_key(scenario: Scenario, settings: ImagePageSettings) -> tuple:
    """Key of the Image domains page's run."""
    return scenario, settings.methods_to_train(), settings.seeds, settings.lab_settings()


# --- Warming a talk's scenes --------------------------------------------------------------------------

DEFAULT_RUNS: dict[str, Callable[[Scenario], list[tuple[RunKind, tuple]]]] = {  # page -> its runs at its defaults
    "domain_shift": lambda scenario: [(SHIFT_REPORT, (scenario,)), (DIVERGENCE_SWEEP, divergence_sweep_key(
        scenario, DivergenceSweepPageSettings()))],
    "adaptation": lambda scenario: [(ADAPTATION, adaptation_key(scenario, AdaptationPageSettings()))],
    "bound": lambda scenario: [(BOUND, bound_key(scenario, BoundPageSettings()))],
    "distillation": lambda scenario: [(DISTILLATION, distillation_key(scenario, DistillationPageSettings()))],
    "lambda_sweep": lambda scenario: [(LAMBDA_SWEEP, lambda_sweep_key(scenario, LambdaSweepPageSettings()))],
    "finetune": lambda scenario: [(FINETUNE, finetune_key(scenario, FinetunePageSettings()))],
    "forgetting": lambda scenario: [(FORGETTING, forgetting_key(scenario, ForgettingPageSettings()))],
    "negative_transfer": lambda scenario: [(FINETUNE, key)
                                           for key in transfer_map_keys(scenario, TransferMapPageSettings())],
    "image_domains": lambda scenario: [(IMAGE_LAB, image_lab_key(scenario, ImagePageSettings()))],
    "shift_matrix": lambda scenario: [(SHIFT_MATRIX, shift_matrix_key(ShiftMatrixPageSettings()))],
}


def scene_runs(preset: Preset) -> list[tuple[RunKind, tuple]]:
    """The runs (kind, key) the scene's page makes at its default settings."""
    if preset.page not in DEFAULT_RUNS:
        raise ValueError(f"no default runs for page {preset.page!r}")
    return DEFAULT_RUNS[preset.page](preset.scenario)


def is_warm(preset: Preset) -> bool:
    """Whether every run of the scene is in the result store."""
    store = default_store()
    return all(store.contains(kind.name, key) for kind, key in scene_runs(preset))


NOT_STORED = "trained, NOT stored"  # warm's state of a run the store could not keep (the log says why)


def warm(presets: Iterable[Preset], report: Callable[[str, str, float], None] | None = None) -> list[dict]:
    """Compute and store every run of ``presets`` not yet stored; one row (scene, run, seconds, state) per run,
    the state :data:`NOT_STORED` for a run the store could not keep."""
    store, rows = default_store(), []
    for preset in presets:
        for kind, key in scene_runs(preset):
            stored = store.contains(kind.name, key)
            start = time.perf_counter()
            stored_run(kind, key, store=store)
            seconds = time.perf_counter() - start
            state = "already stored" if stored else "trained and stored" if store.contains(kind.name, key) \
                else NOT_STORED
            rows.append({"scene": preset.name, "run": kind.name, "seconds": round(seconds, 3), "state": state})
            if report is not None:
                report(preset.name, kind.name, seconds)
    return rows

