"""Fine-tuning strategies: which layers train, at what rate, from which weights; one batched loop.

A strategy is fully described by three things, so that all strategies, label counts, seeds and
shift magnitudes of an experiment train together as ONE tensor program (weights ``[M, ...]``):

- its starting weights: random (``scratch``), the pretrained source network (with a new,
  re-initialised head for ``feature_extraction``), an adapted network (``adapt_finetune``), or a
  network pretrained without labels on a pretext task (``self_supervised``, :mod:`core.training.pretext`);
- its learning-rate schedule, a ``[epochs, layers]`` table per model (:func:`layer_rate_schedule`);
  a rate of 0 freezes a layer exactly (:class:`~core.nn.optim.BatchedAdam` leaves its weights and
  its Adam state untouched); with adapters in the batch, one more column is the adapters' rate
  (``adapter``: every model carries them, as the identity, but only this strategy trains them);
- an optional pull towards the source weights (``l2sp``; ``ewc`` weighs it per weight by the source's
  Fisher information), applied as a decoupled proximal step;
- optionally, source samples replayed beside the labelled target samples (``replay``), or the source
  network's softened answers on unlabelled target points as soft targets (``distill``).

Fine-tuning is full-batch: the labelled target set is small (``labels_per_class × classes``
points), so one epoch is one step. The pretrained source network is trained full-batch on the
labelled source with inputs standardised by the source's own statistics, as a pretrained model
ships with its preprocessing; fine-tuning keeps that preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import InputError, check_fields
from core.nn.models import BatchedNetwork, seeded_generator
from core.nn.networks import Architecture, Networks
from core.nn.optim import BatchedAdam
from core.nn.standardise import standardise
from core.training.methods import ADAPT_METHODS
from core.training.train import healthy_models


@dataclass(frozen=True)
class Strategy:
    """One way of using a pretrained network for the target task.

    Attributes
    ----------
    name, label : str
        Key (URLs, command line, JSON) and human name.
    summary : str
        One sentence on what it does.
    loss : str
        The fine-tuning objective in LaTeX.
    start : str
        Where the weights start: ``"random"``, ``"source"`` (the supervised source network), ``"adapted"``
        (adapted without target labels) or ``"pretext"`` (pretrained on the unlabelled source by a
        self-supervised task, with a new head).
    adapters : bool
        Whether the network carries residual adapters (trained; the layers they follow are frozen).
    """

    name: str
    label: str
    summary: str
    loss: str
    start: str = "source"
    adapters: bool = False


_TARGET = r"\frac{1}{n_L}\sum_{j} \ell\big(f_\theta(x^L_j), y^L_j\big)"
STRATEGIES: tuple[Strategy, ...] = (
    Strategy("scratch", "Scratch", "A new network trained on the labelled target samples alone: no transfer.",
             r"\min_{\theta}\; " + _TARGET + r",\quad \theta_0 \text{ random}", start="random"),
    Strategy("feature_extraction", "Feature extraction",
             "The source body is frozen; a new, randomly initialised head is trained on its features.",
             r"\min_{\theta_{L}}\; " + _TARGET + r",\quad \theta_{1..L-1} = \theta^S_{1..L-1} \text{ frozen}"),
    Strategy("partial", "Partial fine-tuning",
             "Only the last k layers are trained (at the fine-tuning rate); the lower layers stay frozen.",
             r"\min_{\theta_{L-k+1..L}}\; " + _TARGET + r",\quad \theta_0 = \theta^S"),
    Strategy("full_finetune", "Full fine-tuning", "Every layer is trained, from the source weights, at the fine-tuning "
             "rate.", r"\min_{\theta}\; " + _TARGET + r",\quad \theta_0 = \theta^S"),
    Strategy("progressive", "Progressive unfreezing",
             "Training starts with the head alone; every few epochs the next layer down is unfrozen (ULMFiT).",
             r"\min_{\theta_{l}:\, t \ge (L-l)\,E}\; " + _TARGET + r",\quad \theta_0 = \theta^S"),
    Strategy("discriminative", "Discriminative rates",
             "Every layer trains, lower layers more slowly: the rate is divided by the decay factor per layer "
             "down (ULMFiT).", r"\eta_l = \eta\, \delta^{-(L-l)},\quad \min_{\theta}\; " + _TARGET
             + r",\quad \theta_0 = \theta^S"),
    Strategy("l2sp", "L2-SP", "Full fine-tuning with a pull towards the source weights, of strength α "
             "(Li et al., 2018), applied as a decoupled proximal step so that any α is stable.",
             r"\min_{\theta}\; " + _TARGET + r" + \frac{\alpha}{2}\,\big\|\theta - \theta^S\big\|_2^2,"
             r"\quad \theta_0 = \theta^S"),
    Strategy("ewc", "EWC", "Full fine-tuning with a pull towards the source weights weighted per weight by the source "
             "task's Fisher information (Kirkpatrick et al., 2017): weights the source task needs are held, the "
             "others move freely. The diagonal Fisher is estimated on source samples and scaled to mean 1, so its "
             "strength λ reads like L2-SP's α.",
             r"\min_{\theta}\; " + _TARGET + r" + \frac{\lambda}{2}\sum_i F_i\,\big(\theta_i - \theta^S_i\big)^2,"
             r"\quad F_i = \mathbb{E}_{x \sim S}\big[(\partial_{\theta_i} \log p_{\theta^S}(y\mid x))^2\big]"),
    Strategy("replay", "Replay", "Full fine-tuning on the labelled target samples with k labelled source samples per "
             "class mixed in (rehearsal), so the source task keeps being practised.",
             r"\min_{\theta}\; \frac{1}{n_L + n_R}\Big(\sum_{j} \ell\big(f_\theta(x^L_j), y^L_j\big) + \sum_{r}"
             r" \ell\big(f_\theta(x^S_r), y^S_r\big)\Big),\quad \theta_0 = \theta^S"),
    Strategy("distill", "Distillation (LwF)", "Full fine-tuning with the source network as a teacher (Learning "
             "without Forgetting, Li & Hoiem, 2016): on unlabelled target pool points the network is also asked to "
             "give the source network's softened answers (temperature T = 2), with weight β; no source sample is "
             "kept.",
             r"\min_{\theta}\; " + _TARGET + r" + \beta\,T^2\,\frac{1}{n_U}\sum_{u} \mathrm{CE}\big(\sigma(f_{\theta^S}"
             r"(x^U_u)/T),\, \sigma(f_\theta(x^U_u)/T)\big),\quad \theta_0 = \theta^S"),
    Strategy("adapter", "Adapters", "The source network is frozen; a small residual bottleneck of r units after every "
             "hidden layer (Houlsby et al., 2019) and the head are trained. The adapters' up-projection starts at "
             "zero, so training starts from the source network exactly.",
             r"h_l \leftarrow h_l + U_l\,\mathrm{relu}(D_l h_l + b_l) + c_l,\quad \min_{D, b, U, c,\, \theta_L}\; "
             + _TARGET + r",\quad \theta_{1..L-1} = \theta^S_{1..L-1} \text{ frozen},\; U_l, c_l = 0 "
             r"\text{ at the start}",
             adapters=True),
    Strategy("self_supervised", "Self-supervised pretraining", "No label is used before fine-tuning: the body is "
             "pretrained on the unlabelled source to tell which of four rotations (0°, 90°, 180°, 270°) was applied "
             "to a point or an image (Gidaris et al., 2018); then a new head is trained, and the body fine-tuned, on "
             "the labelled target samples.",
             r"\theta^{R} = \arg\min_{\theta}\; \frac{1}{4 n_S}\sum_{i, r} \ell\big(g_\theta(R_r x^S_i), r\big),\quad "
             r"\min_{\theta}\; " + _TARGET + r",\quad \theta_0 = \theta^{R} \text{ with a new head}", start="pretext"),
    Strategy("adapt_finetune", "Adapt, then fine-tune",
             "A network adapted without target labels (DANN, MMD, ...) on source and target pool, then fully "
             "fine-tuned on the labelled target samples.",
             r"\min_{\theta}\; " + _TARGET + r",\quad \theta_0 = \theta^{\mathrm{adapted}}", start="adapted"),
)
STRATEGIES_BY_NAME: dict[str, Strategy] = {s.name: s for s in STRATEGIES}
# EWC's λ, replay's k and distillation's β: on the tuning data seeds 101-103 (benchmarks/tune_forgetting.py,
# rotation 35°, 5 labels per class), the strength that kept the most source accuracy while costing at most 0.5 points
# of target accuracy against full fine-tuning; no β tried (1e-4 to 1) came within 0.5 points, so β is the one that
# cost least. The adapters' width r: the most accurate on the target of 2, 4, 8 and 16.
EWC_WEIGHT = 10.0
REPLAY_PER_CLASS = 20
FISHER_SAMPLES = 200  # source samples the diagonal Fisher of EWC is estimated on
DISTILL_WEIGHT = 0.0001
DISTILL_TEMPERATURE = 2.0  # LwF's temperature
DISTILL_SAMPLES = 200  # unlabelled target pool points the source network teaches on
ADAPTER_WIDTH = 4
# the setting that sets each remedy's strength (one model per strength when a run varies it)
STRENGTH_SETTINGS = {"l2sp": "l2sp_weight", "ewc": "ewc_weight", "replay": "replay_per_class",
                     "distill": "distill_weight"}




@dataclass(frozen=True)
class FinetuneSettings:
    """How the pretrained and fine-tuned networks are trained (the domains are the Scenario's).

    Parameters
    ----------
    hidden : tuple of int
        Hidden widths; on points the network has ``len(hidden) + 1`` layers (the last is the head),
        on images the convolution blocks come first (:class:`~core.nn.networks.Architecture`).
    pretrain_steps : int
        Full-batch Adam steps of the source (and adapted) pretraining.
    epochs : int
        Fine-tuning epochs; full-batch, so one step each.
    lr : float
        Adam rate of pretraining, of scratch and of a new head.
    finetune_lr : float
        Adam rate of a pretrained layer being fine-tuned (a third of ``lr`` by default, as the
        adaptation engine's ``finetune`` method).
    partial_layers : int
        ``partial``: how many of the top layers train (1 = the head only).
    unfreeze_every : int
        ``progressive``: epochs between unfreezing one layer and the next one down.
    discriminative_decay : float
        ``discriminative``: the rate is divided by this per layer down (2.6 in ULMFiT).
    l2sp_weight : float
        ``l2sp``: strength α of the pull towards the source weights.
    ewc_weight : float
        ``ewc``: strength λ of the Fisher-weighted pull towards the source weights.
    replay_per_class : int
        ``replay``: labelled source samples per class mixed into the fine-tuning set.
    distill_weight : float
        ``distill``: weight β of the source network's softened answers on the unlabelled target pool.
    adapter_width : int
        ``adapter``: bottleneck width r of every adapter.
    adapt_method : str
        ``adapt_finetune``: the unsupervised adaptation method of the first stage.
    """

    hidden: tuple[int, ...] = (32, 32, 32)
    pretrain_steps: int = 300
    epochs: int = 200
    lr: float = 0.01
    finetune_lr: float = 0.003
    partial_layers: int = 2
    unfreeze_every: int = 25
    discriminative_decay: float = 2.6
    l2sp_weight: float = 1.0
    adapt_method: str = "dann"
    ewc_weight: float = EWC_WEIGHT
    replay_per_class: int = REPLAY_PER_CLASS
    distill_weight: float = DISTILL_WEIGHT
    adapter_width: int = ADAPTER_WIDTH

    def __post_init__(self) -> None:
        checks = [
            ("hidden", len(self.hidden) >= 1 and all(1 <= h <= 512 for h in self.hidden),
             "one or more widths in [1, 512]"),
            ("pretrain_steps", isinstance(self.pretrain_steps, int) and 10 <= self.pretrain_steps <= 5000,
             "an integer in [10, 5000]"),
            ("epochs", isinstance(self.epochs, int) and 1 <= self.epochs <= 5000, "an integer in [1, 5000]"),
            ("lr", 0.0 < self.lr <= 1.0, "a number in (0, 1]"),
            ("finetune_lr", 0.0 < self.finetune_lr <= 1.0, "a number in (0, 1]"),
            ("partial_layers", isinstance(self.partial_layers, int) and 1 <= self.partial_layers <= self.n_layers,
             f"an integer in [1, {self.n_layers}] (the network's layers)"),
            ("unfreeze_every", isinstance(self.unfreeze_every, int) and 1 <= self.unfreeze_every <= 5000,
             "an integer in [1, 5000]"),
            ("discriminative_decay", 1.0 <= self.discriminative_decay <= 10.0, "a number in [1, 10]"),
            ("l2sp_weight", 0.0 <= self.l2sp_weight <= 1e6, "a number in [0, 1e6]"),
            ("adapt_method", self.adapt_method in ADAPT_METHODS, "one of " + ", ".join(ADAPT_METHODS)),
            ("ewc_weight", 0.0 <= self.ewc_weight <= 1e6, "a number in [0, 1e6]"),
            ("replay_per_class", isinstance(self.replay_per_class, int) and 0 <= self.replay_per_class <= 100,
             "an integer in [0, 100]"),
            ("distill_weight", 0.0 <= self.distill_weight <= 1000.0, "a number in [0, 1000]"),
            ("adapter_width", isinstance(self.adapter_width, int) and 1 <= self.adapter_width <= 64,
             "an integer in [1, 64]"),
        ]
        check_fields(self, checks)

    @property
    def n_layers(self) -> int:
        """Affine layers of the network on points (hidden layers + the head)."""
        return len(self.hidden) + 1

    def with_strength(self, strategy: str, strength: float | None) -> FinetuneSettings:
        """These settings with ``strategy``'s strength (:data:`STRENGTH_SETTINGS`) set to ``strength`` (None: as
        they are)."""
        if strength is None:
            return self
        name = STRENGTH_SETTINGS[strategy]
        return replace(self, **{name: type(getattr(self, name))(strength)})

    def to_json(self) -> dict:
        return {"hidden": list(self.hidden), "pretrain_steps": self.pretrain_steps, "epochs": self.epochs,
                "lr": self.lr, "finetune_lr": self.finetune_lr, "partial_layers": self.partial_layers,
                "unfreeze_every": self.unfreeze_every, "discriminative_decay": self.discriminative_decay,
                "l2sp_weight": self.l2sp_weight, "adapt_method": self.adapt_method, "ewc_weight": self.ewc_weight,
                "replay_per_class": self.replay_per_class, "distill_weight": self.distill_weight,
                "adapter_width": self.adapter_width}


def layer_rate_schedule(strategy: str, settings: FinetuneSettings, n_layers: int | None = None,
                        adapter_column: bool = False) -> np.ndarray:
    """Learning rate of every layer at every fine-tuning epoch: ``[epochs, layers]``, 0 = frozen.

    Layer 0 is the lowest (it reads the inputs), layer ``L - 1`` the head; ``n_layers`` is ``L``
    (default: the network on points, ``settings.n_layers``). With ``adapter_column`` one more column
    holds the adapters' rate (0 for every strategy but ``adapter``).
    """
    if strategy not in STRATEGIES_BY_NAME:
        raise InputError("strategy", f"unknown strategy {strategy!r}; allowed: " + ", ".join(STRATEGIES_BY_NAME))
    n_layers = settings.n_layers if n_layers is None else n_layers
    epochs, tuned = settings.epochs, settings.finetune_lr
    rates = np.full((epochs, n_layers), tuned)
    depth_from_top = np.arange(n_layers)[::-1]  # the head is 0 layers from the top
    if strategy == "scratch":
        rates[:] = settings.lr
    elif strategy == "feature_extraction":
        rates[:] = 0.0
        rates[:, -1] = settings.lr  # the new head learns at the base rate
    elif strategy == "partial":
        rates[:, depth_from_top >= settings.partial_layers] = 0.0
    elif strategy == "progressive":
        unfrozen_at = depth_from_top * settings.unfreeze_every
        rates[np.arange(epochs)[:, None] < unfrozen_at[None, :]] = 0.0
    elif strategy == "discriminative":
        rates = rates / settings.discriminative_decay ** depth_from_top[None, :]
    elif strategy == "adapter":
        rates[:, :-1] = 0.0  # the layers are frozen; the pretrained head is fine-tuned
    elif strategy == "self_supervised":
        rates[:, -1] = settings.lr  # the new head learns at the base rate
    if not adapter_column:
        return rates
    adapters = settings.lr if STRATEGIES_BY_NAME[strategy].adapters else 0.0  # new weights: the base rate
    return np.concatenate([rates, np.full((epochs, 1), adapters)], axis=1)


def trained_parameters(strategy: str, settings: FinetuneSettings, architecture: Architecture, n_features: int,
                       n_classes: int) -> int:
    """How many parameters of one network ``strategy`` trains (a positive rate at some epoch)."""
    adapters = STRATEGIES_BY_NAME[strategy].adapters
    if adapters:
        architecture = architecture.with_adapters(settings.adapter_width)
    net = architecture.build(1, n_features, n_classes, device="cpu")
    trained = layer_rate_schedule(strategy, settings, architecture.n_layers, adapters).max(axis=0) > 0
    return int(sum(p[0].numel() for p, column in zip(net.trainable(), net.rate_columns()) if trained[column]))


# --- the batched supervised loop ------------------------------------------------------------------


@dataclass
class FitProblem:
    """What every model of one batched fit sees: ``M`` models, up to ``N`` points each.

    ``inputs`` ``[M, N, d]`` are already standardised for their model; ``weights`` ``[M, N]``
    weigh each point's cross-entropy with ``labels`` (0 for padding); ``rates`` ``[T, M, C]``
    is every model's rate at each step in each of the network's rate columns (one per layer, and one for the
    adapters when it has any: :attr:`~core.nn.models.BatchedNetwork.n_rate_columns`). Optional: ``soft_targets``
    ``[M, N, K]`` with
    ``soft_weights`` ``[M, N]`` and a per-model ``temperature`` ``[M]`` add the distillation term
    ``temperature² · weight · CE(soft target, softmax(logits / temperature))``; ``anchor_strength``
    ``[M]`` pulls each model towards the weights it started from (L2-SP), each weight scaled by
    ``anchor_scale`` (one tensor per parameter, shaped like it: EWC's Fisher; ones when absent).
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    weights: torch.Tensor
    rates: torch.Tensor
    soft_targets: torch.Tensor | None = None
    soft_weights: torch.Tensor | None = None
    temperature: torch.Tensor | None = None
    anchor_strength: torch.Tensor | None = None
    anchor_scale: list[torch.Tensor] | None = None

    def select(self, models: Sequence[int]) -> FitProblem:
        """The same problem for a subset of the models (e.g. to train them one at a time)."""
        rows = torch.as_tensor(list(models), dtype=torch.long, device=self.inputs.device)
        pick = lambda t, axis=0: None if t is None else t.index_select(axis, rows)  # noqa: E731
        return FitProblem(pick(self.inputs), pick(self.labels), pick(self.weights), pick(self.rates, 1),
                          pick(self.soft_targets), pick(self.soft_weights), pick(self.temperature),
                          pick(self.anchor_strength),
                          None if self.anchor_scale is None else [pick(scale) for scale in self.anchor_scale])


def fit_batched(net: BatchedNetwork, problem: FitProblem,
                progress: Callable[[float], None] | None = None) -> list[tuple[int, int]]:
    """Train every model of ``net`` on its own data and schedule, full-batch, in place.

    Each model's loss is summed with the others' (never averaged), so model ``m`` follows the
    trajectory it would follow alone. A model whose loss turns NaN or exceeds 1e6 is stopped.

    Returns
    -------
    stopped : list of (model, step)
        The models stopped for diverging, and when.
    """
    steps, n_models, n_columns = problem.rates.shape
    if n_models != net.n_models or n_columns != net.n_rate_columns:
        raise InputError("rates", f"expected [T, {net.n_models}, {net.n_rate_columns}], got "
                         f"{list(problem.rates.shape)}")
    optimizer = BatchedAdam(net.trainable())
    columns = net.rate_columns()
    anchors = None
    if problem.anchor_strength is not None and bool((problem.anchor_strength > 0).any()):
        anchors = [p.detach().clone() for p in optimizer.params]
    alive = torch.ones(n_models, dtype=torch.bool, device=problem.rates.device)
    stopped: list[tuple[int, int]] = []
    flat_labels = problem.labels.flatten()
    for step in range(steps):
        optimizer.zero_grad()
        logits = net(problem.inputs)
        per_model = (F.cross_entropy(logits.flatten(0, 1), flat_labels, reduction="none")
                     .view(n_models, -1) * problem.weights).sum(dim=1)
        if problem.soft_targets is not None:
            temperature = problem.temperature.view(-1, 1, 1)
            log_student = torch.log_softmax(logits / temperature, dim=-1)
            soft = -(problem.soft_targets * log_student).sum(dim=-1)
            per_model = per_model + (soft * problem.soft_weights).sum(dim=1) * problem.temperature ** 2
        healthy = healthy_models(per_model)
        if not bool(healthy[alive].all()):
            stopped += [(m, step) for m in torch.nonzero(alive & ~healthy).flatten().tolist()]
            alive &= healthy
        torch.where(alive, per_model, torch.zeros_like(per_model)).sum().backward()
        column_rates = [problem.rates[step, :, column] * alive for column in range(n_columns)]
        rates = [column_rates[column] for column in columns]  # one [M] per parameter
        optimizer.step(rates)
        if anchors is not None:
            _pull_towards(optimizer.params, anchors, rates, problem.anchor_strength, problem.anchor_scale)
        if progress is not None and (step + 1) % max(1, steps // 20) == 0:
            progress((step + 1) / steps)
    return stopped


def size_buckets(sizes: Sequence[int], spread: float = 4.0) -> list[list[int]]:
    """Models grouped by how many points they train on: a group's largest size is at most ``spread``
    times its smallest, so padding to the largest wastes little. Returns lists of model indices."""
    buckets: list[list[int]] = []
    smallest = None
    for m in sorted(range(len(sizes)), key=lambda i: sizes[i]):
        if smallest is None or sizes[m] > spread * smallest:
            buckets.append([])
            smallest = max(1, sizes[m])
        buckets[-1].append(m)
    return buckets


def fit_by_size(starts: Networks, problem: FitProblem, device: torch.device,
                progress: Callable[[float], None] | None = None) -> tuple[Networks, list[tuple[int, int]]]:
    """:func:`fit_batched` on the models of ``starts``, one batch per :func:`size_buckets` group, each
    padded only to its own largest set. Models never interact, so the result equals one big batch;
    the padding to the largest set of all (50 labels per class where most models have 2 to 20)
    is what this saves. The models that train adapters or learn from soft targets are few: they train in one
    loop of their own, padded (a loop's steps cost more than its padding), so the others skip that work: their
    adapters (the identity, frozen) are left out while they train, and their soft-target term is not computed.
    The networks train in the dtype of ``problem.inputs``. Returns the trained networks in the original order
    and the stopped models."""
    used = problem.weights > 0
    if problem.soft_weights is not None:
        used |= problem.soft_weights > 0
    sizes = (torch.arange(used.shape[1], device=used.device) + 1).mul(used).amax(dim=1).tolist()  # last point used
    adapters = len(starts.adapters) > 0
    trains_adapters = (problem.rates[:, :, -1].amax(dim=0) > 0).tolist() if adapters else [False] * len(sizes)
    soft = (problem.soft_weights > 0).any(dim=1).tolist() if problem.soft_weights is not None else [False] * len(sizes)
    special = [a or s for a, s in zip(trains_adapters, soft)]
    plain = [m for m in range(len(sizes)) if not special[m]]
    buckets = [[plain[i] for i in bucket] for bucket in size_buckets([sizes[m] for m in plain])]
    if any(special):  # the models with adapters or soft targets are few: one loop for them all, padded
        buckets.append([m for m in range(len(sizes)) if special[m]])
    parts, stopped = [], []
    for b, members in enumerate(buckets):
        width = max(1, max(sizes[m] for m in members))
        together = special[members[0]]
        chosen = problem.select(members)
        chosen.inputs, chosen.labels, chosen.weights = (chosen.inputs[:, :width], chosen.labels[:, :width],
                                                        chosen.weights[:, :width])
        if together and chosen.soft_targets is not None:
            chosen.soft_targets, chosen.soft_weights = chosen.soft_targets[:, :width], chosen.soft_weights[:, :width]
        else:
            chosen.soft_targets = chosen.soft_weights = chosen.temperature = None
        start = starts.select(members)
        skip_adapters = adapters and not together and start.adapters_are_identity
        if skip_adapters:
            chosen.rates = chosen.rates[:, :, :-1]
            if chosen.anchor_scale is not None:
                chosen.anchor_scale = chosen.anchor_scale[:len(chosen.anchor_scale) - len(start.adapters)]
        net = (start.without_adapters() if skip_adapters else start).network(device, dtype=chosen.inputs.dtype)
        report = None if progress is None else (lambda share, b=b: progress((b + share) / len(buckets)))
        stopped += [(members[m], step) for m, step in fit_batched(net, chosen, report)]
        part = Networks.from_net(net, start.mean, start.std)
        parts.append(replace(part, architecture=start.architecture, adapters=start.adapters) if skip_adapters
                     else part)
    order = np.argsort([m for members in buckets for m in members])
    return Networks.concatenate(parts).select(order), stopped


@torch.no_grad()
def _pull_towards(params: list[torch.Tensor], anchors: list[torch.Tensor], rates: list[torch.Tensor],
                  strength: torch.Tensor, scales: list[torch.Tensor] | None = None) -> None:
    """Proximal step of ``alpha/2 sum_i s_i (w_i - anchor_i)²`` with step size ``rate``:
    ``w <- (w + c a) / (1 + c)``, ``c = rate · alpha · s``; stable for any alpha (alpha → ∞ gives the anchor),
    like AdamW's decoupled decay. ``scales`` (EWC's Fisher) default to 1 (L2-SP)."""
    for i, (p, anchor, rate) in enumerate(zip(params, anchors, rates)):
        c = (rate * strength).view(-1, *([1] * (p.dim() - 1)))
        if scales is not None:
            c = c * scales[i]
        p.add_(c * anchor).div_(1.0 + c)


def diagonal_fisher(net: BatchedNetwork, inputs: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
    """The empirical diagonal Fisher of every model of ``net`` on its own ``inputs`` ``[M, N, d]`` with ``labels``
    ``[M, N]``: the mean over points of each weight's squared gradient of ``log p(y | x)``, scaled to mean 1 per
    model over all its weights (in :meth:`~core.nn.models.BatchedNetwork.trainable` order, as the optimiser's)."""
    params = net.trainable()
    fisher = [torch.zeros_like(p) for p in params]
    for j in range(inputs.shape[1]):
        log_p = torch.log_softmax(net(inputs[:, j:j + 1]), dim=-1)[:, 0]
        picked = log_p.gather(1, labels[:, j:j + 1]).sum()  # models are independent: one backward for all
        for f, grad in zip(fisher, torch.autograd.grad(picked, params)):
            f += grad.detach() ** 2
    n_models = inputs.shape[0]
    total = sum(f.reshape(n_models, -1).sum(dim=1) for f in fisher)
    count = sum(f[0].numel() for f in fisher)
    mean = (total / count).clamp_min(1e-12)
    return [f / mean.view(-1, *([1] * (f.dim() - 1))) for f in fisher]


def padded_batch(sets: Sequence[tuple[np.ndarray, np.ndarray]], device: torch.device,
                 labelled: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-model labelled sets of different sizes as ``[M, N, d]`` inputs, ``[M, N]`` labels and
    ``[M, N]`` weights (``1 / n_m`` on a model's own points, 0 on the padding). With ``labelled``, only the
    first ``labelled[m]`` points of model ``m`` are weighed (``1 / labelled[m]``); the rest carry no label loss."""
    width = max(len(y) for _, y in sets)
    n_features = sets[0][0].shape[1]
    inputs = np.zeros((len(sets), width, n_features), dtype=np.float32)
    labels = np.zeros((len(sets), width), dtype=np.int64)
    weights = np.zeros((len(sets), width), dtype=np.float32)
    for m, (x, y) in enumerate(sets):
        counted = len(y) if labelled is None else labelled[m]
        inputs[m, :len(y)], labels[m, :len(y)], weights[m, :counted] = x, y, 1.0 / max(1, counted)
    return (torch.from_numpy(inputs).to(device), torch.from_numpy(labels).to(device),
            torch.from_numpy(weights).to(device))


def fit_new_networks(inputs: np.ndarray, labels: np.ndarray, weights: np.ndarray, architecture: Architecture,
                     seeds: Sequence[int], n_classes: int, steps: int, lr: float, device: torch.device,
                     soft_targets: np.ndarray | None = None, soft_weights: np.ndarray | None = None,
                     temperature: np.ndarray | None = None, progress: Callable[[float], None] | None = None
                     ) -> tuple[BatchedNetwork, list[tuple[int, int]]]:
    """New networks, one per seed, trained full-batch at rate ``lr`` on one shared set of (already
    standardised) ``inputs`` ``[N, d]`` with ``labels`` ``[N]``, each model weighting the points by its
    row of ``weights`` ``[M, N]``; the soft-target arguments are :class:`FitProblem`'s, as arrays.
    Returns the networks and the models stopped for diverging."""
    n_models = len(seeds)
    as_tensor = lambda a, dtype=torch.float32: None if a is None else torch.as_tensor(  # noqa: E731
        a, dtype=dtype, device=device)
    net = architecture.build(n_models, inputs.shape[1], n_classes, generator=[seeded_generator(s) for s in seeds],
                             device=device)
    problem = FitProblem(as_tensor(inputs).expand(n_models, -1, -1),
                         as_tensor(labels, torch.long).expand(n_models, -1), as_tensor(weights),
                         torch.full((steps, n_models, net.n_rate_columns), lr, device=device),
                         as_tensor(soft_targets), as_tensor(soft_weights), as_tensor(temperature))
    return net, fit_batched(net, problem, progress)


def train_from_scratch(x: np.ndarray, y: np.ndarray, seeds: Sequence[int], architecture: Architecture,
                       n_classes: int, steps: int, lr: float, device: torch.device) -> Networks:
    """Full-batch Adam on one labelled set (standardised with its own statistics), one network per seed."""
    mean, std = architecture.input_statistics(x)
    n_models = len(seeds)
    net, _ = fit_new_networks(standardise(x, mean, std), y, np.full((n_models, len(y)), 1.0 / len(y)), architecture,
                              seeds, n_classes, steps, lr, device)
    return Networks.from_net(net, np.tile(mean, (n_models, 1)), np.tile(std, (n_models, 1)))
