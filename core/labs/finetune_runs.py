"""A fine-tuning experiment: strategies × label counts × seeds (× shift magnitudes), trained as ONE batch.

This is what the Fine-tuning and Negative transfer pages and ``python -m core efficiency`` /
``python -m core transfer-map`` call. Per seed, the pretrained source network is trained once
(on the labelled source, which no shift knob changes) and shared by every strategy, label
count and shift magnitude; ``adapt_finetune`` adds one adapted network per shift magnitude and
seed, trained by the adaptation engine (:func:`core.training.train.train_models`).

Labelled target samples: the target's labelled split is drawn once with 100 points per class
(the most a Scenario allows); seed ``s`` takes the first ``n`` per class of its own shuffle of
it. So a seed's larger label sets contain its smaller ones, its ``n``-label set is the same in
every experiment, and the spread over seeds includes the luck of which points were labelled.
Scores use the target TEST split (and the labelled source sample for source accuracy, as in the
adaptation engine).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from core.budget import Work, data_points, full_batch_loop, minibatch_loop, scoring
from core.data.domains import DomainData, generate
from core.device import pick_device
from core.errors import InputError
from core.knobs import WITH_TARGET_LABELS, Knob, KnobSet, seeds_knob
from core.labs.adaptation import check_seeds, method_label, model_seed
from core.nn.models import seeded_generator
from core.nn.networks import Architecture, Networks
from core.scenario import IMAGE_LABELS_PER_CLASS, KNOBS_BY_NAME, NUMERIC_KNOBS, Scenario
from core.training.finetune import (
    DISTILL_SAMPLES,
    DISTILL_TEMPERATURE,
    FISHER_SAMPLES,
    STRATEGIES,
    STRATEGIES_BY_NAME,
    STRENGTH_SETTINGS,
    FinetuneSettings,
    FitProblem,
    diagonal_fisher,
    fit_by_size,
    layer_rate_schedule,
    padded_batch,
    train_from_scratch,
    trained_parameters,
)
from core.training.methods import ADAPT_METHODS
from core.training.pretext import pretrain_by_rotation
from core.training.train import ModelSpec, TrainSettings, train_models

LABEL_SUBSET_STREAM = 11  # numpy stream of the per-seed shuffles of the labelled reservoir
REPLAY_STREAM = 13  # of the source samples that replay mixes in
FISHER_STREAM = 17  # of the source samples EWC's Fisher is estimated on
DISTILL_STREAM = 19  # of the unlabelled target pool points distillation teaches on
MAX_LABELS = 100  # the Scenario's own limit on labels_per_class (digits: IMAGE_LABELS_PER_CLASS)
SCRATCH_SEED_OFFSET = 30_011
NEW_HEAD_SEED_OFFSET = 50_021
ADAPTER_SEED_OFFSET = 70_001
PRETEXT_SEED_OFFSET = 90_001
PRETRAIN_SHARE = 0.25  # share of the progress bar given to pretraining


@dataclass(frozen=True)
class PlannedModel:
    """One fine-tuned model: its strategy, shift magnitude (index into the values), label count and seed, and its
    remedy's strength when the run varies it (None: the settings')."""

    strategy: str
    value_index: int
    labels: int
    seed: int
    strength: float | None = None

    def settings(self, settings: FinetuneSettings) -> FinetuneSettings:
        """The run's settings as this model uses them (with its own strength)."""
        return settings.with_strength(self.strategy, self.strength)


@dataclass
class ExperimentDesign:
    """What an experiment varies: strategies × label counts × seeds, optionally a knob's values, and optionally
    the strengths of some remedies (``strengths``: strategy → values; one model per value)."""

    scenario: Scenario
    strategies: tuple[str, ...]
    labels: tuple[int, ...]
    n_seeds: int
    settings: FinetuneSettings
    knob: str | None
    values: tuple[float, ...]
    strengths: dict[str, tuple[float, ...]]


@dataclass
class FinetuneRun(ExperimentDesign):
    """The trained models of an experiment and their scores.

    ``points`` has one dict per fine-tuned model: ``strategy``, ``labels_per_class``, ``seed``,
    ``target_acc``, ``source_acc``, ``diverged`` (and the knob's value when one was varied, the remedy's
    ``strength`` when strengths were). ``trained_parameters``: per strategy, the parameters of one network
    it trains.
    ``pretrained`` has one dict per shift magnitude and seed for the pretrained source network
    before fine-tuning: ``target_acc`` and ``source_acc`` (and the knob's value).
    """

    points: list[dict]
    pretrained: list[dict]
    train_seconds: float
    device: str
    networks: Networks = field(repr=False)
    plan: tuple[PlannedModel, ...] = field(repr=False)
    trained_parameters: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        """``scenario``, ``device``, ``train_seconds``, ``settings``, ``points`` and ``pretrained``."""
        answer = {"scenario": self.scenario.to_dict(), "device": self.device, "train_seconds": self.train_seconds,
                  "settings": self.settings.to_json(), "strategies": list(self.strategies),
                  "labels": list(self.labels), "seeds": self.n_seeds, "trained_parameters": self.trained_parameters}
        if self.knob is not None:
            answer["vary"] = {"knob": self.knob, "values": list(self.values)}
        if self.strengths:
            answer["strengths"] = {strategy: list(values) for strategy, values in self.strengths.items()}
        return {**answer, "points": self.points, "pretrained": self.pretrained}


REFERENCE = "scratch"  # every fine-tuning run trains it: each strategy is compared with it
LABEL_OPTIONS = (1, 2, 5, 10, 20, 50, 100)  # the label counts the pages offer
DEFAULT_LABELS = (1, 2, 5, 10, 20, 50)
# the page's default strategies: all but the remedies for forgetting (the Forgetting page's, at several strengths)
# and self-supervised pretraining (a second pretraining, on four turns of the source): with them the default run
# took 2× the time of the grid before them (benchmarks/bench_finetune.py); each is one choice away
OPTIONAL_STRATEGIES = ("ewc", "replay", "distill", "self_supervised")
DEFAULT_STRATEGIES = tuple(s.name for s in STRATEGIES if s.name not in OPTIONAL_STRATEGIES)
L2SP_WEIGHTS = (0.0, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
DISTILL_WEIGHTS = (0.0, 0.0001, 0.001, 0.01, 0.1, 1.0)
_FINETUNE = FinetuneSettings()


def strategy_label(name: str) -> str:
    return STRATEGIES_BY_NAME[name].label


def labels_knob(label: str) -> Knob:
    """Labelled target samples per class: one experiment per count."""
    return Knob("labels", int, DEFAULT_LABELS, label, "Each count is its own experiment: every strategy is "
                "fine-tuned on that many labelled target points per class (a seed's larger sets contain its smaller "
                f"ones); at most {IMAGE_LABELS_PER_CLASS} on digits.", low=1, high=MAX_LABELS, many=True,
                options=LABEL_OPTIONS)


def epochs_knob() -> Knob:
    return Knob("epochs", int, _FINETUNE.epochs, "Fine-tuning epochs", "Full-batch Adam steps on the labelled "
                "target samples (one step per epoch).", low=10, high=1000, step=10)


class LabelCounts:
    """Mixin for page settings with ``labels``: the counts a scenario can draw."""

    labels: tuple[int, ...]

    def labels_for(self, scenario: Scenario) -> tuple[int, ...]:
        """The label counts, checked against what ``scenario`` holds; the default counts are capped there instead."""
        limit = max_labels(scenario)
        if self.labels == DEFAULT_LABELS:
            return tuple(n for n in self.labels if n <= limit)
        return check_labels(self.labels, "labels", maximum=limit)


@dataclass(frozen=True)
class FinetunePageSettings(LabelCounts, KnobSet):
    """The Fine-tuning page's form, and ``python -m core efficiency``'s flags."""

    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    labels: tuple[int, ...] = DEFAULT_LABELS
    seeds: int = 3
    epochs: int = _FINETUNE.epochs
    partial_layers: int = _FINETUNE.partial_layers
    unfreeze_every: int = _FINETUNE.unfreeze_every
    discriminative_decay: float = _FINETUNE.discriminative_decay
    l2sp_weight: float = _FINETUNE.l2sp_weight
    adapt_method: str = _FINETUNE.adapt_method
    ewc_weight: float = _FINETUNE.ewc_weight
    replay_per_class: int = _FINETUNE.replay_per_class
    distill_weight: float = _FINETUNE.distill_weight
    adapter_width: int = _FINETUNE.adapter_width
    LEARNS: ClassVar[str] = WITH_TARGET_LABELS  # what its models learn from: its transfer setting
    KNOBS: ClassVar[tuple[Knob, ...]] = (
        Knob("strategies", str, DEFAULT_STRATEGIES, "Strategies",
             "Scratch is always trained: it is the reference every strategy is compared with. EWC, replay and "
             "distillation (the remedies for forgetting; the Forgetting page sweeps their strengths) and "
             "self-supervised pretraining are not chosen by default: each makes the run longer.",
             choices=tuple(STRATEGIES_BY_NAME), many=True, display=strategy_label),
        labels_knob("Labelled target samples per class"),
        seeds_knob("Pretrained networks, initialisations and labelled samples per cell; the bands span the seeds' "
                   "min to max."),
        epochs_knob(),
        Knob("partial_layers", int, _FINETUNE.partial_layers, "Partial: top layers trained (k)",
             f"Partial fine-tuning trains the top k of the network's {_FINETUNE.n_layers} layers.", low=1,
             high=_FINETUNE.n_layers, step=1),
        Knob("unfreeze_every", int, _FINETUNE.unfreeze_every, "Progressive: unfreeze every (epochs)",
             "Epochs between unfreezing one layer and the next one down.", low=5, high=100, step=5),
        Knob("discriminative_decay", float, _FINETUNE.discriminative_decay, "Discriminative: decay per layer down (δ)",
             "Each layer down learns δ times more slowly than the one above (2.6 in ULMFiT).", low=1.0, high=5.0,
             step=0.1),
        Knob("l2sp_weight", float, _FINETUNE.l2sp_weight, "L2-SP: pull towards the source weights (α)",
             "α = 0 is full fine-tuning; a large α keeps the source weights.", low=0.0, high=1000.0,
             options=L2SP_WEIGHTS),
        Knob("adapt_method", str, _FINETUNE.adapt_method, "Adapt, then fine-tune: adaptation method",
             "The unsupervised adaptation (source and unlabelled target pool) before fine-tuning.",
             choices=ADAPT_METHODS, display=method_label),
        Knob("ewc_weight", float, _FINETUNE.ewc_weight, "EWC: pull towards the source weights (λ)",
             "λ = 0 is full fine-tuning; the pull on each weight is λ times its Fisher information on the source "
             "(scaled to mean 1).", low=0.0, high=1000.0, options=L2SP_WEIGHTS),
        Knob("replay_per_class", int, _FINETUNE.replay_per_class, "Replay: source samples per class (k)",
             "Labelled source samples per class mixed into every replay model's fine-tuning set; 0 is full "
             "fine-tuning.", low=0, high=100, step=1),
        Knob("distill_weight", float, _FINETUNE.distill_weight, "Distillation: weight of the source's answers (β)",
             "β = 0 is full fine-tuning; the source network's softened answers on unlabelled target pool points "
             "are weighed by β. Once the few labels are fitted, Adam's steps do not shrink with β, so even a small "
             "β holds the network near the source.", low=0.0, high=1.0, options=DISTILL_WEIGHTS),
        Knob("adapter_width", int, _FINETUNE.adapter_width, "Adapters: bottleneck width (r)",
             "Units of every adapter's bottleneck: an adapter after a hidden layer of width w trains 2·r·w + r + w "
             "parameters.",
             low=1, high=32, step=1),
    )

    def finetune_settings(self) -> FinetuneSettings:
        return FinetuneSettings(epochs=self.epochs, partial_layers=self.partial_layers,
                                unfreeze_every=self.unfreeze_every, discriminative_decay=self.discriminative_decay,
                                l2sp_weight=self.l2sp_weight, adapt_method=self.adapt_method,
                                ewc_weight=self.ewc_weight, replay_per_class=self.replay_per_class,
                                distill_weight=self.distill_weight, adapter_width=self.adapter_width)

    def strategies_to_train(self) -> tuple[str, ...]:
        """The chosen strategies in the registry's order, with scratch, the reference, always in."""
        return tuple(s.name for s in STRATEGIES if s.name == REFERENCE or s.name in self.strategies)

    def work(self, scenario: Scenario) -> Work:
        """What :func:`run_finetuning` will compute (for :mod:`core.budget`)."""
        return finetune_work(scenario, self.strategies_to_train(), self.labels_for(scenario), self.seeds,
                             self.finetune_settings())


def max_labels(scenario: Scenario) -> int:
    """The most labels per class a run can draw: 100 on points, the labelled reservoir on digits."""
    return IMAGE_LABELS_PER_CLASS if scenario.is_image else MAX_LABELS




def check_labels(values: Sequence[float], field: str = "labels", maximum: int = MAX_LABELS) -> tuple[int, ...]:
    if not values or not all(float(v).is_integer() and 1 <= v <= maximum for v in values):
        raise InputError(field, f"expected integers in [1, {maximum}], got {list(values)}")
    return tuple(sorted({int(v) for v in values}))


def finetune_work(scenario: Scenario, strategies: Sequence[str], labels: Sequence[int], n_seeds: int,
                  settings: FinetuneSettings, n_values: int = 1,
                  strengths: Mapping[str, Sequence[float]] | None = None) -> Work:
    """Pretraining on the source (and, for self-supervised pretraining, on its four rotations), the adaptation of
    *adapt, then fine-tune* (per value), one full-batch loop per label count over every strategy (× strength) ×
    label count × seed (× value), each model on its own labelled set (the mean over the label counts; replay's
    source samples and distillation's pool points on their own models), and EWC's Fisher."""
    strengths = strengths or {}
    classes = 10 if scenario.is_image else 2
    per_strategy = {s: len(strengths.get(s, (None,))) * len(labels) * n_seeds * n_values for s in strategies}
    models = sum(per_strategy.values())
    largest = lambda strategy, name: max(  # noqa: E731
        [getattr(settings, name)] if strategy not in strengths else strengths[strategy])
    # per class, over all models: replay's source samples are on its own models only
    replayed = per_strategy.get("replay", 0) * largest("replay", "replay_per_class") / models
    work = (full_batch_loop(settings.pretrain_steps, n_seeds, scenario.n_source, images=scenario.is_image)
            + full_batch_loop(settings.epochs, models, round((np.mean(labels) + replayed) * classes),
                              groups=len(labels), images=scenario.is_image)
            + data_points(scenario.n_source + scenario.n_target + scenario.n_test).times(n_values)
            + scoring(models, scenario.n_source + scenario.n_test))
    if "distill" in strategies:  # its pool points: one more group of its models
        work += full_batch_loop(settings.epochs, per_strategy["distill"], min(DISTILL_SAMPLES, scenario.n_target),
                                images=scenario.is_image)
    starts = {STRATEGIES_BY_NAME[s].start for s in strategies}
    if "pretext" in starts:
        work += full_batch_loop(settings.pretrain_steps, n_seeds, 4 * scenario.n_source, images=scenario.is_image)
    if "adapted" in starts:
        work += minibatch_loop(settings.pretrain_steps, {settings.adapt_method: n_seeds}, scenario.n_target,
                               scenario.is_image).times(n_values)
    if "ewc" in strategies:  # the Fisher: one pass per source sample over every EWC model
        work += full_batch_loop(FISHER_SAMPLES, per_strategy["ewc"], 1, images=scenario.is_image)
    return work


def pool_scenario(scenario: Scenario) -> Scenario:
    """The scenario as a fine-tuning run uses it: ``labels_per_class`` is the labelled pool (100 per
    class; digits: their reservoir) that every label count is drawn from (the scenario's own value
    plays no part)."""
    return scenario.replace(labels_per_class=max_labels(scenario))


def labelled_subset(data: DomainData, n: int, seed_index: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` labelled target points per class of seed ``seed_index``'s shuffle (nested in ``n``)."""
    rng = np.random.default_rng([data.scenario.seed, LABEL_SUBSET_STREAM, seed_index])
    picks = []
    for k in data.target_classes:
        members = np.flatnonzero(data.target_labelled_y == k)
        picks.append(members[rng.permutation(len(members))[:n]])
    rows = np.concatenate(picks)
    return data.target_labelled_x[rows], data.target_labelled_y[rows]


def _n_classes(datasets: Sequence[DomainData]) -> int:
    return max(max(d.source_classes + d.target_classes) for d in datasets) + 1


def _per_source_sample(datasets: Sequence[DomainData], pretrain: Callable[[DomainData], Networks]
                       ) -> tuple[list[int], list[Networks]]:
    """``pretrain`` run once per distinct source sample; returns which sample each dataset uses and the
    networks of each sample."""
    keys: dict[bytes, int] = {}
    which, networks = [], []
    for data in datasets:
        key = data.source_x.tobytes() + data.source_y.tobytes()
        if key not in keys:
            keys[key] = len(networks)
            networks.append(pretrain(data))
        which.append(keys[key])
    return which, networks


def _pretrain_sources(datasets: Sequence[DomainData], seeds: Sequence[int], settings: FinetuneSettings,
                      architecture: Architecture, n_classes: int, device: torch.device
                      ) -> tuple[list[int], list[Networks]]:
    """One source network per seed and distinct source sample, trained on its labels."""
    return _per_source_sample(datasets, lambda data: train_from_scratch(
        data.source_x, data.source_y, seeds, architecture, n_classes, settings.pretrain_steps, settings.lr, device))


def _pretrain_pretexts(datasets: Sequence[DomainData], seeds: Sequence[int], settings: FinetuneSettings,
                       architecture: Architecture, device: torch.device) -> tuple[list[int], list[Networks]]:
    """One network per seed and distinct source sample, pretrained on its inputs alone (rotation prediction)."""
    return _per_source_sample(datasets, lambda data: pretrain_by_rotation(
        data.source_x, [s + PRETEXT_SEED_OFFSET for s in seeds], architecture, settings.pretrain_steps, settings.lr,
        device))


def _adapt(data: DomainData, seeds: Sequence[int], settings: FinetuneSettings, n_classes: int,
           device: torch.device) -> Networks:
    """Networks adapted without target labels by the adaptation engine (one per seed)."""
    specs = [ModelSpec(settings.adapt_method, seed, 1.0) for seed in seeds]
    trained = train_models(data.training_inputs(), specs,
                           TrainSettings(hidden=settings.hidden, steps=settings.pretrain_steps), n_classes,
                           device=device)
    return trained.as_networks()


def random_networks(seeds: Sequence[int], n_features: int, architecture: Architecture, n_classes: int,
                    mean: np.ndarray, std: np.ndarray) -> Networks:
    """New networks, one per seed, that read inputs standardised by ``mean`` and ``std`` ``[M, d]``."""
    net = architecture.build(len(seeds), n_features, n_classes, generator=[seeded_generator(s) for s in seeds],
                             device="cpu")
    return Networks.from_net(net, mean, std)


def with_new_head(network: Networks, seeds: Sequence[int], n_classes: int | None = None) -> Networks:
    """``network`` with its head replaced by a new, randomly initialised one per model (feature extraction), of
    ``n_classes`` outputs (default: as many as it has)."""
    n_classes = network.n_classes if n_classes is None else n_classes
    fresh = random_networks(seeds, network.n_features, network.architecture, n_classes, network.mean, network.std)
    return Networks(network.architecture, network.n_features, n_classes, network.weights[:-1] + fresh.weights[-1:],
                    network.biases[:-1] + fresh.biases[-1:], network.mean, network.std, network.adapters)


def _starting_networks(plan: Sequence[PlannedModel], datasets: Sequence[DomainData], seeds: Sequence[int],
                       sources: tuple[list[int], list[Networks]], adapted: dict[int, Networks],
                       pretexts: tuple[list[int], list[Networks]] | None, architecture: Architecture,
                       n_classes: int) -> Networks:
    """Every planned model's starting weights and input standardisation, stacked in plan order."""
    which_source, source_nets = sources
    n_features = datasets[0].n_features
    rows: list[Networks] = []
    for model in plan:
        data, seed = datasets[model.value_index], seeds[model.seed]
        start = STRATEGIES_BY_NAME[model.strategy].start
        if start == "random":  # standardised with the target pool's statistics: the data it is for
            mean, std = architecture.input_statistics(data.target_pool_x)
            rows.append(random_networks([seed + SCRATCH_SEED_OFFSET], n_features, architecture, n_classes,
                                        mean[None], std[None]))
            continue
        if start == "pretext":  # the rotation task's body, with a head for the target's classes
            which_pretext, pretext_nets = pretexts
            network = with_new_head(pretext_nets[which_pretext[model.value_index]].select([model.seed]),
                                    [seed + NEW_HEAD_SEED_OFFSET], n_classes)
            rows.append(network)
            continue
        source = adapted[model.value_index] if start == "adapted" else source_nets[which_source[model.value_index]]
        network = source.select([model.seed])
        if model.strategy == "feature_extraction":  # a new head on the frozen source body
            network = with_new_head(network, [seed + NEW_HEAD_SEED_OFFSET])
        rows.append(network)
    return Networks.concatenate(rows)


def _check(scenario: Scenario, strategies: Sequence[str], labels: Sequence[int], n_seeds: int, knob: str | None,
           values: Sequence[float] | None, strengths: Mapping[str, Sequence[float]]
           ) -> tuple[tuple[str, ...], tuple[int, ...], int, dict[str, tuple[float, ...]]]:
    strategies = tuple(dict.fromkeys(strategies))
    if not strategies or any(s not in STRATEGIES_BY_NAME for s in strategies):
        raise InputError("strategies", f"expected names among {', '.join(STRATEGIES_BY_NAME)}, got {list(strategies)}")
    checked = {}
    for strategy, chosen in strengths.items():
        if strategy not in STRENGTH_SETTINGS or strategy not in strategies or not chosen:
            raise InputError("strengths", f"give one or more strengths for remedies among "
                             f"{', '.join(STRENGTH_SETTINGS)} that the run trains, got {strategy!r}")
        for value in chosen:  # the settings' own checks say what is allowed
            FinetuneSettings().with_strength(strategy, value)
        checked[strategy] = tuple(dict.fromkeys(float(v) for v in chosen))
    if knob is not None:
        if knob not in NUMERIC_KNOBS or knob == "labels_per_class":
            raise InputError("--vary", f"{knob!r} cannot be varied; use a numeric scenario key such as rotation")
        if not values:
            raise InputError("--vary", "give at least one value")
    return strategies, check_labels(labels, maximum=max_labels(scenario)), check_seeds(n_seeds), checked


@dataclass
class PreparedRun(ExperimentDesign):
    """Everything an experiment trains, before training: the plan, the data and one :class:`FitProblem`."""

    datasets: list[DomainData]
    sources: tuple[list[int], list[Networks]]
    plan: tuple[PlannedModel, ...]
    starts: Networks
    problem: FitProblem
    device: torch.device


def prepare_finetuning(scenario: Scenario, strategies: Sequence[str], labels: Sequence[int], n_seeds: int = 3,
                       settings: FinetuneSettings = FinetuneSettings(), knob: str | None = None,
                       values: Sequence[float] | None = None, device=None,
                       strengths: Mapping[str, Sequence[float]] | None = None) -> PreparedRun:
    """Generate the domains, pretrain (and adapt) the starting networks, and lay out the batch."""
    strategies, labels, n_seeds, strengths = _check(scenario, strategies, labels, n_seeds, knob, values,
                                                    strengths or {})
    scenario = pool_scenario(scenario)
    device = torch.device(device) if device is not None else pick_device()
    values = tuple(float(KNOBS_BY_NAME[knob].parse(v)) for v in values) if knob is not None else (float("nan"),)
    scenarios = [scenario.replace(**{knob: v}) for v in values] if knob is not None else [scenario]
    datasets = [generate(s) for s in scenarios]
    n_classes = _n_classes(datasets)
    seeds = [model_seed(scenario, s) for s in range(n_seeds)]
    architecture = Architecture.for_inputs(settings.hidden, datasets[0].image_shape)

    sources = _pretrain_sources(datasets, seeds, settings, architecture, n_classes, device)
    starts_from = {STRATEGIES_BY_NAME[s].start for s in strategies}
    adapted = {}
    if "adapted" in starts_from:
        adapted = {v: _adapt(data, seeds, settings, n_classes, device) for v, data in enumerate(datasets)}
    pretexts = _pretrain_pretexts(datasets, seeds, settings, architecture, device) if "pretext" in starts_from else None
    plan = tuple(PlannedModel(strategy, v, n, s, strength) for v in range(len(datasets)) for n in labels
                 for strategy in strategies for strength in strengths.get(strategy, (None,)) for s in range(n_seeds))
    starts = _starting_networks(plan, datasets, seeds, sources, adapted, pretexts, architecture, n_classes)
    with_adapters = any(STRATEGIES_BY_NAME[s].adapters for s in strategies)
    if with_adapters:  # every model carries them (as the identity, frozen, but for the adapter strategy's)
        starts = starts.with_adapters(settings.adapter_width, [seeds[m.seed] + ADAPTER_SEED_OFFSET for m in plan])
    sets = [_fine_tuning_set(m, datasets[m.value_index], m.settings(settings)) for m in plan]
    inputs, targets, weights = padded_batch(
        [((x - starts.mean[i]) / starts.std[i], y) for i, (x, y, _) in enumerate(sets)], device,
        labelled=[n for _, _, n in sets])
    schedules = {s: layer_rate_schedule(s, settings, architecture.n_layers, with_adapters) for s in strategies}
    rates = torch.as_tensor(np.stack([schedules[m.strategy] for m in plan], axis=1), dtype=torch.float32,
                            device=device)
    pulled = {"l2sp": "l2sp_weight", "ewc": "ewc_weight"}
    anchor = torch.tensor([getattr(m.settings(settings), pulled[m.strategy]) if m.strategy in pulled else 0.0
                           for m in plan], device=device)
    problem = FitProblem(inputs, targets, weights, rates, anchor_strength=anchor,
                         anchor_scale=_ewc_scales(plan, starts, datasets, device))
    _add_distillation(problem, plan, starts, settings, [(n, len(y) - n) for _, y, n in sets])
    return PreparedRun(scenario, strategies, labels, n_seeds, settings, knob, values if knob else (), strengths,
                       datasets, sources, plan, starts, problem, device)


def source_samples(data: DomainData, per_class: int, seed_index: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` labelled source points per class (all of a class when it has fewer), drawn for seed
    ``seed_index`` from numpy stream ``stream``."""
    rng = np.random.default_rng([data.scenario.seed, stream, seed_index])
    picks = [members[rng.permutation(len(members))[:per_class]]
             for members in (np.flatnonzero(data.source_y == k) for k in data.source_classes)]
    rows = np.concatenate(picks)
    return data.source_x[rows], data.source_y[rows]


def _fine_tuning_set(model: PlannedModel, data: DomainData, settings: FinetuneSettings
                     ) -> tuple[np.ndarray, np.ndarray, int]:
    """A model's fine-tuning inputs, their labels and how many of them (the first) are labelled: its labelled
    target samples; for ``replay``, with its source samples mixed in; for ``distill``, followed by the unlabelled
    pool points the source network teaches on (label 0 as a placeholder: they carry no label loss)."""
    x, y = labelled_subset(data, model.labels, model.seed)
    if model.strategy == "replay" and settings.replay_per_class > 0:
        source_x, source_y = source_samples(data, settings.replay_per_class, model.seed, REPLAY_STREAM)
        x, y = np.concatenate([x, source_x]), np.concatenate([y, source_y])
    labelled = len(y)
    if model.strategy == "distill" and settings.distill_weight > 0:
        rng = np.random.default_rng([data.scenario.seed, DISTILL_STREAM, model.seed])
        pool = data.target_pool_x[rng.permutation(len(data.target_pool_x))[:DISTILL_SAMPLES]]
        x, y = np.concatenate([x, pool]), np.concatenate([y, np.zeros(len(pool), dtype=y.dtype)])
    return x, y, labelled


@torch.no_grad()
def _add_distillation(problem: FitProblem, plan: Sequence[PlannedModel], starts: Networks,
                      settings: FinetuneSettings, counts: Sequence[tuple[int, int]]) -> None:
    """For the ``distill`` models: the source network's softened answers on their unlabelled points as soft
    targets (weight β / n_U each); ``counts`` are every model's labelled and unlabelled points. The other
    models' soft weights are 0."""
    soft_weights = torch.zeros_like(problem.weights)
    for m, (model, (labelled, unlabelled)) in enumerate(zip(plan, counts)):
        if model.strategy == "distill" and unlabelled > 0:
            soft_weights[m, labelled:labelled + unlabelled] = model.settings(settings).distill_weight / unlabelled
    if not bool((soft_weights > 0).any()):
        return
    temperature = torch.full((len(plan),), DISTILL_TEMPERATURE, device=problem.inputs.device)
    teacher = starts.network(problem.inputs.device)(problem.inputs)  # the start of a distill model: the source
    problem.soft_targets = torch.softmax(teacher / DISTILL_TEMPERATURE, dim=-1)
    problem.soft_weights, problem.temperature = soft_weights, temperature


def _ewc_scales(plan: Sequence[PlannedModel], starts: Networks, datasets: Sequence[DomainData],
                device: torch.device) -> list[torch.Tensor] | None:
    """Per parameter ``[M, ...]``: the source's diagonal Fisher for the ``ewc`` models (estimated with their
    starting weights on :data:`FISHER_SAMPLES` source points), 1 for every other model; None without ``ewc``."""
    rows = [i for i, m in enumerate(plan) if m.strategy == "ewc"]
    if not rows:
        return None
    chosen = starts.select(rows)
    per_class = FISHER_SAMPLES // max(1, len(datasets[0].source_classes))
    samples = [source_samples(datasets[plan[i].value_index], per_class, plan[i].seed, FISHER_STREAM) for i in rows]
    inputs, targets, _ = padded_batch([((x - chosen.mean[j]) / chosen.std[j], y)
                                       for j, (x, y) in enumerate(samples)], device)
    fisher = diagonal_fisher(chosen.network(device), inputs, targets)
    scales = [torch.ones((len(plan), *f.shape[1:]), device=device) for f in fisher]
    for scale, f in zip(scales, fisher):
        scale[rows] = f
    return scales


def run_finetuning(scenario: Scenario, strategies: Sequence[str], labels: Sequence[int], n_seeds: int = 3,
                   settings: FinetuneSettings = FinetuneSettings(), knob: str | None = None,
                   values: Sequence[float] | None = None, device=None,
                   progress: Callable[[float], None] | None = None,
                   strengths: Mapping[str, Sequence[float]] | None = None) -> FinetuneRun:
    """Fine-tune ``strategies`` × ``labels`` × seeds (× ``values`` of ``knob``) as one batch and score them.

    Parameters
    ----------
    scenario : Scenario
        The domains. Its ``labels_per_class`` plays no part: the run's scenario has 100 there, the
        labelled pool that each of ``labels`` is drawn from.
    strategies : sequence of str
        Names from :data:`core.training.finetune.STRATEGIES`.
    labels : sequence of int
        Labelled target samples per class, each in [1, 100] (digits: [1, 20]).
    n_seeds : int, default=3
        Seeds per cell, in [1, 10]: initialisation, pretraining and which points are labelled.
    settings : FinetuneSettings
    knob, values : str and sequence of float, optional
        Also vary a numeric scenario key over ``values`` (the negative-transfer map).
    device : torch.device or str, optional
        Default :func:`core.device.pick_device`.
    progress : callable, optional
        Called with the share done.
    strengths : mapping of str to sequence of float, optional
        Remedies (keys of :data:`~core.training.finetune.STRENGTH_SETTINGS`) trained once per strength given
        (the forgetting trade-off); the points then carry their ``strength``.
    """
    started = time.perf_counter()
    prepared = prepare_finetuning(scenario, strategies, labels, n_seeds, settings, knob, values, device, strengths)
    if progress is not None:
        progress(PRETRAIN_SHARE)
    tuned, stopped = fit_by_size(prepared.starts, prepared.problem, prepared.device, progress=None if progress is None
                                 else (lambda share: progress(PRETRAIN_SHARE + (1 - PRETRAIN_SHARE) * share)))
    knob, values = prepared.knob, prepared.values
    points = _score(prepared.plan, prepared.datasets, tuned, dict(stopped), knob, values)
    pretrained = _score_pretrained(prepared.datasets, prepared.sources, knob, values, prepared.n_seeds)
    return FinetuneRun(prepared.scenario, prepared.strategies, prepared.labels, prepared.n_seeds, settings, knob,
                       values, prepared.strengths, points, pretrained, time.perf_counter() - started,
                       str(prepared.device), tuned, prepared.plan, _trained_parameters(prepared))


def _trained_parameters(prepared: PreparedRun) -> dict[str, int]:
    """Per strategy: the parameters of one network it trains."""
    data = prepared.datasets[0]
    architecture = Architecture.for_inputs(prepared.settings.hidden, data.image_shape)
    return {s: trained_parameters(s, prepared.settings, architecture, data.n_features, prepared.starts.n_classes)
            for s in prepared.strategies}


def _score(plan: Sequence[PlannedModel], datasets: Sequence[DomainData], tuned: Networks, stopped: dict[int, int],
           knob: str | None, values: Sequence[float]) -> list[dict]:
    target_acc, source_acc = np.zeros(len(plan)), np.zeros(len(plan))
    for v, data in enumerate(datasets):
        members = [m for m, model in enumerate(plan) if model.value_index == v]
        chosen = tuned.select(members)
        target_acc[members] = chosen.accuracy(data.target_test_x, data.target_test_y)
        source_acc[members] = chosen.accuracy(data.source_x, data.source_y)
    points = []
    for m, model in enumerate(plan):
        diverged = m in stopped
        strength = {} if model.strength is None else {"strength": model.strength}
        point = {"strategy": model.strategy, **strength, "labels_per_class": model.labels, "seed": model.seed,
                 "target_acc": None if diverged else float(target_acc[m]),
                 "source_acc": None if diverged else float(source_acc[m]),
                 "diverged": (f"{model.strategy} (seed {model.seed}, {model.labels} labels per class) diverged at "
                              f"step {stopped[m]}") if diverged else None}
        points.append({knob: values[model.value_index], **point} if knob else point)
    return points


def _score_pretrained(datasets: Sequence[DomainData], sources: tuple[list[int], list[Networks]],
                      knob: str | None, values: Sequence[float], n_seeds: int) -> list[dict]:
    which, networks = sources
    rows = []
    for v, data in enumerate(datasets):
        net = networks[which[v]]
        target, source = net.accuracy(data.target_test_x, data.target_test_y), net.accuracy(data.source_x,
                                                                                            data.source_y)
        for s in range(n_seeds):
            row = {"seed": s, "target_acc": float(target[s]), "source_acc": float(source[s])}
            rows.append({knob: values[v], **row} if knob else row)
    return rows
