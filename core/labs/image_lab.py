"""The image lab: source-only, feature extraction, fine-tuning with frozen convolution blocks, MMD, DANN
and self-training, all on small CNNs, on the digits of a Scenario.

A small CNN trained on the labelled source plays the pretrained model. The adaptation engine
(:func:`core.labs.adaptation.run_adaptation`) trains it (``source_only``) together with the unsupervised
methods (``mmd``, ``dann``, ``self_training``, aligning the CNN's convolutional features) as one batch.
Then, from each seed's source-only network, as one more batch (:func:`core.training.finetune.fit_batched`):

- ``feature_extraction``: every layer frozen, a new randomly initialised head trained on the
  labelled target images;
- ``finetune_frozen``: the lowest ``frozen_blocks`` convolution blocks frozen, every layer above
  fine-tuned on the labelled target images.

Scores, confusion matrices and per-class accuracy use the target TEST split only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from core.budget import Work, full_batch_loop
from core.data.domains import DomainData, generate
from core.errors import InputError, check_fields
from core.knobs import BY_METHOD, Knob, KnobSet, seeds_knob
from core.labs.adaptation import (
    adaptation_work,
    check_seeds,
    mean_or_none,
    model_seed,
    run_adaptation,
    sd_or_none,
)
from core.labs.embedding import FeatureEmbedding, embed_models
from core.labs.finetune_runs import NEW_HEAD_SEED_OFFSET, with_new_head
from core.nn.networks import CONV_CHANNELS, Networks
from core.scenario import Scenario
from core.training.finetune import FinetuneSettings, FitProblem, fit_batched, layer_rate_schedule, padded_batch
from core.training.methods import IMAGE_ADAPTATION_METHODS, METHODS_BY_NAME
from core.training.train import TrainSettings, align_weight_knob, steps_knob

WITH_LABELS = ("feature_extraction", "finetune_frozen")  # fine-tuning strategies of the pretrained CNN
IMAGE_METHODS = ("source_only", *WITH_LABELS, *(m for m in IMAGE_ADAPTATION_METHODS if m != "source_only"))
ADAPTATION_SHARE = 0.85  # of the progress bar: the adaptation engine's batch; the rest fine-tunes


def method_label(method: str, frozen_blocks: int | None = None) -> str:
    """Human name of an image-lab method (with the number of frozen blocks when given)."""
    if method == "feature_extraction":
        return "Feature extraction"
    if method == "finetune_frozen":
        return "Fine-tune" if frozen_blocks is None else f"Fine-tune, {frozen_blocks} conv block(s) frozen"
    return METHODS_BY_NAME[method].label


@dataclass(frozen=True)
class ImageLabSettings:
    """How the image lab trains (the domains are the Scenario's).

    Parameters
    ----------
    steps : int
        Mini-batch steps of the source-only, MMD, DANN and self-training CNNs, in [10, 5000].
    lam : float
        Alignment weight lambda of MMD, DANN and self-training, in [0, 100].
    hidden : tuple of int
        Dense layers after the convolution blocks (:data:`~core.nn.networks.CONV_CHANNELS`).
    frozen_blocks : int
        ``finetune_frozen``: convolution blocks kept frozen, from the input up (0 = full fine-tuning).
    finetune_epochs : int
        Full-batch epochs of feature extraction and fine-tuning on the labelled target images.
    finetune_lr : float
        Adam rate of a pretrained layer being fine-tuned (a new head learns at 0.01).
    """

    steps: int = 300
    lam: float = 1.0
    hidden: tuple[int, ...] = (32, 32)
    frozen_blocks: int = 1
    finetune_epochs: int = 100
    finetune_lr: float = 0.003

    def __post_init__(self) -> None:
        n_blocks = len(CONV_CHANNELS)
        check_fields(self, [
            ("frozen_blocks", isinstance(self.frozen_blocks, int) and 0 <= self.frozen_blocks <= n_blocks,
             f"an integer in [0, {n_blocks}] (the network's convolution blocks)"),
            ("finetune_epochs", isinstance(self.finetune_epochs, int) and 1 <= self.finetune_epochs <= 2000,
             "an integer in [1, 2000]"),
        ])
        self.train_settings()  # validates steps, lam, hidden
        self.finetune_settings()  # validates finetune_lr

    def train_settings(self) -> TrainSettings:
        return TrainSettings(lam=self.lam, steps=self.steps, hidden=self.hidden)

    def finetune_settings(self) -> FinetuneSettings:
        return FinetuneSettings(hidden=self.hidden, epochs=self.finetune_epochs, finetune_lr=self.finetune_lr,
                                partial_layers=1)

    def to_json(self) -> dict:
        return {"steps": self.steps, "lam": self.lam, "hidden": list(self.hidden), "conv_channels": list(CONV_CHANNELS),
                "frozen_blocks": self.frozen_blocks, "finetune_epochs": self.finetune_epochs,
                "finetune_lr": self.finetune_lr}


_IMAGE = ImageLabSettings()


@dataclass(frozen=True)
class ImagePageSettings(KnobSet):
    """The Image domains page's form, and ``python -m core images``'s flags."""

    methods: tuple[str, ...] = IMAGE_METHODS
    seeds: int = 3
    steps: int = _IMAGE.steps
    lam: float = _IMAGE.lam
    frozen_blocks: int = _IMAGE.frozen_blocks
    epochs: int = _IMAGE.finetune_epochs
    LEARNS: ClassVar[str] = BY_METHOD  # what its models learn from: its transfer setting
    KNOBS: ClassVar[tuple[Knob, ...]] = (
        Knob("methods", str, IMAGE_METHODS, "Methods", "Source only is always trained: it is the pretrained model "
             "the others start from or are compared with.", choices=IMAGE_METHODS, many=True, min_count=0,
             display=method_label),
        seeds_knob("CNNs per method, from different initialisations and mini-batches; results show the mean ± sd "
                   "over seeds."),
        steps_knob("Adam steps of source-only, MMD, DANN and self-training, each on 64 source and 64 target images.",
                   default=_IMAGE.steps),
        align_weight_knob("Weight of the alignment term of MMD, DANN and self-training (0: source only).",
                          default=_IMAGE.lam, options=(0.0, 0.1, 0.3, 1.0, 3.0, 10.0)),
        Knob("frozen_blocks", int, _IMAGE.frozen_blocks, "Frozen convolution blocks (k)",
             "Fine-tuning keeps the lowest k convolution blocks of the source CNN frozen and trains the layers "
             "above; 0 is full fine-tuning.", low=0, high=len(CONV_CHANNELS), step=1),
        Knob("epochs", int, _IMAGE.finetune_epochs, "Fine-tuning epochs", "Full-batch epochs of feature "
             "extraction and fine-tuning on the labelled target images.", low=10, high=1000, step=10),
    )

    def lab_settings(self) -> ImageLabSettings:
        return ImageLabSettings(steps=self.steps, lam=self.lam, frozen_blocks=self.frozen_blocks,
                                finetune_epochs=self.epochs)

    def work(self, scenario: Scenario) -> Work:
        """The unsupervised CNNs as one batch, then feature extraction and fine-tuning on the labelled images (for
        :mod:`core.budget`)."""
        chosen = set(self.methods_to_train())
        work = adaptation_work(scenario, [m for m in IMAGE_ADAPTATION_METHODS if m in chosen], self.seeds, self.steps,
                               replay=False)
        tuned = len(chosen & set(WITH_LABELS)) * self.seeds if scenario.labels_per_class else 0
        if tuned:
            work += full_batch_loop(self.epochs, tuned, scenario.labels_per_class * 10, images=True)
        return work

    def methods_to_train(self) -> tuple[str, ...]:
        """The chosen methods in the lab's order, with source only always in."""
        return tuple(m for m in IMAGE_METHODS if m in self.methods or m == "source_only")


@dataclass
class ImageLabRun:
    """Every method × seed of an image-lab run and its predictions on the target test images.

    ``predictions`` is ``[methods, seeds, test images]``; ``target_acc`` and ``source_acc`` are
    ``[methods, seeds]`` (NaN for a diverged model); ``networks`` holds the models method-major
    (model ``i * n_seeds + s`` is method ``i``, seed ``s``).
    """

    scenario: Scenario
    settings: ImageLabSettings
    n_seeds: int
    methods: tuple[str, ...]
    classes: tuple[int, ...]
    predictions: np.ndarray
    target_acc: np.ndarray
    source_acc: np.ndarray
    diverged: np.ndarray
    train_seconds: float
    device: str
    networks: Networks = field(repr=False)
    notes: tuple[str, ...] = ()

    def index(self, method: str) -> int:
        if method not in self.methods:
            raise InputError("method", f"{method!r} was not trained in this run; trained: " + ", ".join(self.methods))
        return self.methods.index(method)

    def label(self, method: str) -> str:
        return method_label(method, self.settings.frozen_blocks)

    def healthy_seeds(self, method: str) -> list[int]:
        return [s for s in range(self.n_seeds) if not self.diverged[self.index(method), s]]

    def summary(self) -> list[dict]:
        """Per method: mean and sd over seeds of target and source accuracy, and the change against source-only."""
        baseline = np.nanmean(self.target_acc[self.index("source_only")]) if "source_only" in self.methods else None
        rows = []
        for i, method in enumerate(self.methods):
            healthy = ~self.diverged[i]
            target, source = self.target_acc[i, healthy], self.source_acc[i, healthy]
            mean = mean_or_none(target)
            rows.append({
                "method": method, "label": self.label(method),
                "target_acc_mean": mean, "target_acc_sd": sd_or_none(target),
                "source_acc_mean": mean_or_none(source), "source_acc_sd": sd_or_none(source),
                "delta_vs_source_only": None if baseline is None or mean is None else mean - float(baseline),
                "seeds_diverged": int((~healthy).sum()),
            })
        return rows

    def best_method(self) -> str | None:
        """ORACLE: the method with the highest mean target TEST accuracy other than source-only (it reads the
        target test labels, so it is a report, not a choice a practitioner could make); None when no other
        method was chosen or trained without diverging."""
        means = {r["method"]: r["target_acc_mean"] for r in self.summary()
                 if r["method"] != "source_only" and r["target_acc_mean"] is not None}
        return max(means, key=means.get) if means else None

    def confusion(self, method: str, test_y: np.ndarray) -> np.ndarray:
        """Counts ``[K, K]`` (true row, predicted column) on the target test images, summed over healthy seeds."""
        k = len(self.classes)
        position = {c: j for j, c in enumerate(self.classes)}
        matrix = np.zeros((k, k), dtype=np.int64)
        true = np.array([position[c] for c in test_y])
        for s in self.healthy_seeds(method):
            predicted = np.array([position.get(int(c), -1) for c in self.predictions[self.index(method), s]])
            known = predicted >= 0
            np.add.at(matrix, (true[known], predicted[known]), 1)
        return matrix

    def per_class_accuracy(self, method: str, test_y: np.ndarray) -> np.ndarray:
        """Share ``[K]`` of each class's test images predicted right, pooled over healthy seeds (NaN: no images)."""
        matrix = self.confusion(method, test_y)
        totals = matrix.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)

    def misclassified(self, method: str, test_y: np.ndarray, seed: int | None = None) -> np.ndarray:
        """Indices of the target test images that the method's model (first healthy seed by default) gets wrong."""
        seeds = self.healthy_seeds(method)
        if not seeds:
            return np.zeros(0, dtype=int)
        chosen = seeds[0] if seed is None else seed
        return np.flatnonzero(self.predictions[self.index(method), chosen] != test_y)

    def model(self, method: str, seed: int = 0) -> int:
        """Index into :attr:`networks` of one method's seed."""
        return self.index(method) * self.n_seeds + seed

    def feature_embedding(self, data: DomainData, methods: Sequence[str], projection: str = "tsne"
                          ) -> FeatureEmbedding:
        """2-D embeddings of the feature layer of each method's first healthy seed (source and target test images)."""
        models = {}
        for method in methods:
            seeds = self.healthy_seeds(method)
            if not seeds:
                raise InputError("method", f"every seed of {self.label(method)} diverged: no features to show")
            models[method] = self.model(method, seeds[0])
        return embed_models(self.networks, models, {m: self.label(m) for m in methods}, data, projection)

    def to_json(self) -> dict:
        """``scenario``, ``device``, ``train_seconds``, ``settings``, ``results`` (one row per model), ``summary``."""
        results = [{"method": method, "seed": s,
                    "target_acc": None if self.diverged[i, s] else float(self.target_acc[i, s]),
                    "source_acc": None if self.diverged[i, s] else float(self.source_acc[i, s]),
                    "diverged": bool(self.diverged[i, s])}
                   for i, method in enumerate(self.methods) for s in range(self.n_seeds)]
        return {"scenario": self.scenario.to_dict(), "device": self.device, "train_seconds": self.train_seconds,
                "settings": self.settings.to_json(), "results": results, "summary": self.summary(),
                "notes": list(self.notes)}


def _finetune_from_source(data: DomainData, source: Networks, seeds: Sequence[int], settings: ImageLabSettings,
                          device: torch.device, progress: Callable[[float], None] | None
                          ) -> tuple[Networks, set[int]]:
    """Feature extraction and fine-tuning with frozen blocks from each seed's source-only network, as one batch.
    Returns the networks (feature extraction's seeds first) and the models stopped for diverging."""
    n_seeds = len(seeds)
    starts = Networks.concatenate([with_new_head(source, [s + NEW_HEAD_SEED_OFFSET for s in seeds]), source])
    finetune = settings.finetune_settings()
    n_layers = starts.architecture.n_layers
    extraction = layer_rate_schedule("feature_extraction", finetune, n_layers)
    frozen = layer_rate_schedule("full_finetune", finetune, n_layers)
    frozen[:, :settings.frozen_blocks] = 0.0
    rates = np.stack([extraction] * n_seeds + [frozen] * n_seeds, axis=1)
    labelled = [((data.target_labelled_x - starts.mean[m]) / starts.std[m], data.target_labelled_y)
                for m in range(starts.n_models)]
    inputs, labels, weights = padded_batch(labelled, device)
    net = starts.network(device)
    stopped = fit_batched(net, FitProblem(inputs, labels, weights, torch.as_tensor(rates, dtype=torch.float32,
                                                                                   device=device)), progress)
    return Networks.from_net(net, starts.mean, starts.std), {m for m, _ in stopped}


def run_image_lab(scenario: Scenario, n_seeds: int = 3, settings: ImageLabSettings = ImageLabSettings(),
                  methods: Sequence[str] = IMAGE_METHODS, device=None,
                  progress: Callable[[float], None] | None = None) -> ImageLabRun:
    """Train the image lab's ``methods`` × ``n_seeds`` on the scenario's digits and score them.

    Parameters
    ----------
    scenario : Scenario
        Must be an image dataset (``dataset=digits``).
    n_seeds : int, default=3
        Seeds per method, in [1, 10].
    settings : ImageLabSettings
    methods : sequence of str
        Names from :data:`IMAGE_METHODS`; ``source_only`` is always trained (it is the pretrained
        model). Methods that need target labels are skipped, with a note, when ``labels_per_class`` is 0.
    device : torch.device or str, optional
    progress : callable, optional
        Called with the share done.
    """
    if not scenario.is_image:
        raise InputError("dataset", f"the image lab needs an image dataset (digits), got {scenario.dataset}")
    unknown = [m for m in methods if m not in IMAGE_METHODS]
    if unknown:
        raise InputError("methods", f"unknown method {unknown[0]!r}; allowed: " + ", ".join(IMAGE_METHODS))
    n_seeds = check_seeds(n_seeds)
    started = time.perf_counter()
    data = generate(scenario)
    notes = []
    wanted = set(methods) | {"source_only"}
    if scenario.labels_per_class == 0 and wanted & set(WITH_LABELS):
        notes.append("Feature extraction and fine-tuning need labelled target images: set labels_per_class ≥ 1.")
        wanted -= set(WITH_LABELS)
    chosen = tuple(m for m in IMAGE_METHODS if m in wanted)
    unsupervised = tuple(m for m in IMAGE_ADAPTATION_METHODS if m in wanted)
    report = None if progress is None else (lambda share: progress(ADAPTATION_SHARE * share))
    adapted = run_adaptation(scenario, unsupervised, n_seeds, settings.train_settings(), device=device,
                             progress=report, data=data, replay=False)  # the page shows no replay yet
    device_used = torch.device(adapted.trained.device)
    networks = adapted.trained.as_networks()
    stopped = set(np.flatnonzero(adapted.trained.diverged).tolist())
    order = {method: [i * n_seeds + s for s in range(n_seeds)] for i, method in enumerate(unsupervised)}
    parts = [networks]
    if set(WITH_LABELS) & wanted:
        seeds = [model_seed(scenario, s) for s in range(n_seeds)]
        report = None if progress is None else (lambda share: progress(ADAPTATION_SHARE + (1 - ADAPTATION_SHARE)
                                                                       * share))
        tuned, tuned_stopped = _finetune_from_source(data, networks.select(order["source_only"]), seeds, settings,
                                                     device_used, report)
        offset = networks.n_models
        stopped |= {offset + m for m in tuned_stopped}
        order["feature_extraction"] = [offset + s for s in range(n_seeds)]
        order["finetune_frozen"] = [offset + n_seeds + s for s in range(n_seeds)]
        parts.append(tuned)
    every = Networks.concatenate(parts)
    rows = [m for method in chosen for m in order[method]]
    ordered = every.select(rows)
    diverged = np.array([m in stopped for m in rows]).reshape(len(chosen), n_seeds)
    predictions = ordered.predict_proba(data.target_test_x).argmax(axis=-1).reshape(len(chosen), n_seeds, -1)
    target_acc = (predictions == data.target_test_y).mean(axis=-1)
    source_acc = ordered.accuracy(data.source_x, data.source_y).reshape(len(chosen), n_seeds)
    target_acc[diverged], source_acc[diverged] = np.nan, np.nan
    if progress is not None:
        progress(1.0)
    return ImageLabRun(scenario, settings, n_seeds, chosen, adapted.classes, predictions, target_acc, source_acc,
                       diverged, time.perf_counter() - started, str(device_used), ordered, tuple(notes))
