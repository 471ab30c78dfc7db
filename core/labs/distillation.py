"""Knowledge distillation (Hinton et al., 2015): a large teacher's soft targets carried to a small student.

The teacher (a wide network) is trained on the labelled source plus the labelled target samples.
Small students are trained in two settings, side by side in one batch:

- **the student's own labels are the few target labels** (the headline): the source data stays with the
  teacher. The student from soft targets learns ``alpha · T² · CE(softmax(z_t / T), softmax(z_s / T))``
  over the target (the UNLABELLED pool, which the teacher labels, and the labelled samples) plus
  ``(1 - alpha) · CE(y, softmax(z_s))`` on the labelled target samples; the student from hard labels
  learns from those labelled target samples alone. What the teacher adds is what it learnt from the
  source.
- **the student also has the teacher's labelled source** (the contrast): both students add the labelled
  source (soft targets over it too), so the hard-label student has all the data the teacher had.

Where the students have labels from both domains, they weigh them equally (half the hard-label loss on
the source, half on the few labelled target samples), as the teacher does, so that a handful of target
labels is not drowned by hundreds of source points.

Students from soft targets at several temperatures train in the same batch, so the page can show
accuracy against T. Every network of a run (teachers, then students) trains as one batched program.
Whether the soft targets helped is computed from each run (:meth:`DistillRun.soft_versus_hard`: the two
students of a setting paired by model seed, one-sided paired t-test), never typed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from core.budget import Work, data_points, full_batch_loop
from core.data.domains import generate
from core.device import pick_device
from core.errors import check_fields
from core.formatting import signed
from core.knobs import WITH_TARGET_LABELS, Knob, KnobSet, seeds_knob
from core.labs.adaptation import check_seeds, model_seed
from core.metrics.paired import ALPHA, format_p, one_sided_p
from core.nn.models import BatchedNetwork
from core.nn.networks import Architecture, Networks
from core.nn.standardise import input_statistics, standardise
from core.scenario import Scenario
from core.training.finetune import fit_new_networks

TEMPERATURE_CURVE = (1.0, 2.0, 4.0, 8.0, 16.0)
STUDENT_SEED_OFFSET = 70_001
ROLES = ("teacher", "student_soft", "student_hard")
# The students' own labelled data: the few target labels only (the headline), or the teacher's too (the contrast).
STUDENT_LABELS = ("target", "all")
TEACHER_SHARE = 0.4  # of the progress bar


@dataclass(frozen=True)
class DistillSettings:
    """Teacher, student and the distillation loss.

    Parameters
    ----------
    temperature : float
        Softmax temperature ``T`` of the soft targets, in [1, 20].
    alpha : float
        Weight of the soft-target term, in [0, 1] (0: hard labels only).
    teacher_hidden, student_hidden : tuple of int
        Hidden widths of the two networks.
    steps : int
        Full-batch Adam steps of each network.
    lr : float
        Adam rate.
    """

    temperature: float = 4.0
    alpha: float = 0.9
    teacher_hidden: tuple[int, ...] = (64, 64, 64)
    student_hidden: tuple[int, ...] = (8,)
    steps: int = 300
    lr: float = 0.01

    def __post_init__(self) -> None:
        checks = [
            ("temperature", 1.0 <= self.temperature <= 20.0, "a number in [1, 20]"),
            ("alpha", 0.0 <= self.alpha <= 1.0, "a number in [0, 1]"),
            ("teacher_hidden", len(self.teacher_hidden) >= 1 and all(1 <= h <= 1024 for h in self.teacher_hidden),
             "one or more widths in [1, 1024]"),
            ("student_hidden", len(self.student_hidden) >= 1 and all(1 <= h <= 1024 for h in self.student_hidden),
             "one or more widths in [1, 1024]"),
            ("steps", isinstance(self.steps, int) and 10 <= self.steps <= 5000, "an integer in [10, 5000]"),
            ("lr", 0.0 < self.lr <= 1.0, "a number in (0, 1]"),
        ]
        check_fields(self, checks)

    def to_json(self) -> dict:
        return {"temperature": self.temperature, "alpha": self.alpha, "teacher_hidden": list(self.teacher_hidden),
                "student_hidden": list(self.student_hidden), "steps": self.steps, "lr": self.lr}


@dataclass(frozen=True)
class DistillationPageSettings(KnobSet):
    """The Distillation page's form, and ``python -m core distill``'s flags."""

    temperature: float = DistillSettings.temperature
    alpha: float = DistillSettings.alpha
    seeds: int = 3
    LEARNS: ClassVar[str] = WITH_TARGET_LABELS  # what its models learn from: its transfer setting
    KNOBS: ClassVar[tuple[Knob, ...]] = (
        Knob("temperature", float, DistillSettings.temperature, "Temperature T", "Softens the teacher's "
             "probabilities: a higher T shows more of how it ranks the wrong classes (the “dark knowledge”).",
             low=1.0, high=20.0, step=0.5),
        Knob("alpha", float, DistillSettings.alpha, "Soft-target weight α",
             "α = 0: the student learns from hard labels only; α = 1: from the teacher only.", low=0.0, high=1.0,
             step=0.05),
        seeds_knob("Teachers and students per role, from different initialisations; the spread over seeds is "
                   "shown, and the students are compared seed by seed (paired t-test)."),
    )

    def distill_settings(self) -> DistillSettings:
        return DistillSettings(temperature=self.temperature, alpha=self.alpha)

    def work(self, scenario: Scenario) -> Work:
        """The teachers on the labelled points, then every student of :func:`student_plan` on them and the pool
        (for :mod:`core.budget`)."""
        labelled = scenario.n_source + scenario.labels_per_class * (10 if scenario.is_image else 2)
        steps, students = DistillSettings.steps, len(student_plan(self.seeds, self.temperature))
        return (full_batch_loop(steps, self.seeds, labelled, images=scenario.is_image)
                + full_batch_loop(steps, students, labelled + scenario.n_target, images=scenario.is_image)
                + data_points(scenario.n_source + scenario.n_target + scenario.n_test))


@dataclass(frozen=True)
class RoleStatistics:
    """Mean, sample sd (0 with one seed) and count of one role's accuracies over the seeds that trained."""

    mean: float | None
    sd: float | None
    seeds: int

    def text(self) -> str:
        return "diverged" if self.mean is None else f"{self.mean:.1%} ± {100 * self.sd:.1f}"

    def points_above(self, other: RoleStatistics) -> float | None:
        """This mean minus ``other``'s, in percentage points (None when either diverged)."""
        return None if self.mean is None or other.mean is None else 100 * (self.mean - other.mean)


@dataclass(frozen=True)
class SoftGain:
    """Soft-target student minus hard-label student, paired by seed: the mean gain in points, the p-value of a
    one-sided paired t-test of H1 "soft beats hard" (``None`` with fewer than two pairs) and the pair count."""

    points: float | None
    p_value: float | None
    pairs: int

    @property
    def helps(self) -> bool:
        """The soft-target student is better on average and the test rejects "no gain" at :data:`ALPHA`."""
        return self.points is not None and self.points > 0 and self.p_value is not None and self.p_value < ALPHA

    def text(self) -> str:
        """One sentence computed from the numbers."""
        if self.points is None:
            return "No pair of students trained, so there is nothing to compare."
        p = "no test with one seed" if self.p_value is None else f"one-sided paired t-test over {self.pairs} " \
            f"seeds, {format_p(self.p_value)}"
        if self.helps:
            return (f"Distillation helps here: the student from soft targets beats the one from hard labels by "
                    f"{signed(self.points)} points on average ({p}).")
        if self.points > 0:
            return (f"The student from soft targets is {signed(self.points)} points ahead on average, but the gain is "
                    f"not significant ({p}): it may be seed noise.")
        return (f"Distillation does not help here: the student from soft targets is {signed(self.points)} points "
                f"against the one from hard labels on average ({p}).")


@dataclass
class DistillRun:
    """Scores of a distillation run.

    ``rows``: one dict per network, ``role`` (teacher, student_soft, student_hard), ``seed``,
    ``temperature`` (students from soft targets; None otherwise), ``labels`` (students: their own labelled
    data, one of :data:`STUDENT_LABELS`; None for the teacher), ``target_acc``, ``source_acc``. The
    ``student_soft`` rows with the target labels at ``settings.temperature`` are the headline student;
    the other temperatures draw the temperature curve.
    """

    scenario: Scenario
    settings: DistillSettings
    n_seeds: int
    rows: list[dict]
    teacher_parameters: int
    student_parameters: int
    train_seconds: float
    device: str

    def _members(self, role: str, temperature: float | None, labels: str) -> list[dict]:
        """The rows of ``role`` (students: with ``labels`` and, from soft targets, at ``temperature``, by default
        the chosen one)."""
        if role == "student_soft" and temperature is None:
            temperature = self.settings.temperature
        return [r for r in self.rows if r["role"] == role and (role == "teacher" or r.get("labels") == labels)
                and (role != "student_soft" or r["temperature"] == temperature)]

    def accuracies(self, role: str, temperature: float | None = None, metric: str = "target_acc",
                   labels: str = "target") -> np.ndarray:
        """Per seed: the accuracies of one role (students: with ``labels``; from soft targets, at ``temperature``)."""
        return np.array([r[metric] for r in self._members(role, temperature, labels) if r[metric] is not None])

    def statistics(self, role: str, metric: str = "target_acc", temperature: float | None = None,
                   labels: str = "target") -> RoleStatistics:
        """Mean and sd over seeds of one role (students: with ``labels``; from soft targets, at ``temperature``,
        by default the chosen one)."""
        values = self.accuracies(role, temperature, metric, labels)
        if not len(values):
            return RoleStatistics(None, None, 0)
        return RoleStatistics(float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                              len(values))

    def soft_versus_hard(self, temperature: float | None = None, labels: str = "target") -> SoftGain:
        """The student from soft targets (at ``temperature``, by default the chosen one) against the student from
        hard labels with the same labelled data (``labels``), paired by model seed (seeds where either diverged
        dropped)."""
        soft = {r["seed"]: r["target_acc"] for r in self._members("student_soft", temperature, labels)
                if r["target_acc"] is not None}
        hard = {r["seed"]: r["target_acc"] for r in self._members("student_hard", None, labels)
                if r["target_acc"] is not None}
        delta = np.array([soft[s] - hard[s] for s in sorted(soft.keys() & hard.keys())])
        if not delta.size:
            return SoftGain(None, None, 0)
        return SoftGain(float(100 * delta.mean()), one_sided_p(-delta), int(delta.size))

    @property
    def temperatures(self) -> tuple[float, ...]:
        return tuple(sorted({r["temperature"] for r in self.rows if r["role"] == "student_soft"
                             and r.get("labels") == "target"}))

    def to_json(self) -> dict:
        return {"scenario": self.scenario.to_dict(), "device": self.device, "train_seconds": self.train_seconds,
                "settings": self.settings.to_json(), "teacher_parameters": self.teacher_parameters,
                "student_parameters": self.student_parameters,
                "soft_versus_hard": {labels: vars(self.soft_versus_hard(labels=labels)) for labels in STUDENT_LABELS},
                "results": self.rows}


def _train(x: np.ndarray, hard_weights: np.ndarray, y: np.ndarray, hidden: tuple[int, ...], seeds: list[int],
           n_classes: int, settings: DistillSettings, device: torch.device, soft: np.ndarray | None = None,
           soft_weights: np.ndarray | None = None, temperature: np.ndarray | None = None,
           progress: Callable[[float], None] | None = None, image_shape: tuple[int, int, int] | None = None
           ) -> tuple[BatchedNetwork, set[int]]:
    """Networks (one per seed) on standardised inputs ``x``: cross-entropy with ``y``, each network weighting
    the points by its row of ``hard_weights``, plus the soft-target term weighted by its row of
    ``soft_weights`` when given; on images (``image_shape``) the networks are convolutional, with ``hidden``
    dense layers."""
    architecture = Architecture.for_inputs(hidden, image_shape)
    net, stopped = fit_new_networks(x, y, hard_weights, architecture, seeds, n_classes, settings.steps, settings.lr,
                                    device, soft, soft_weights, temperature, progress)
    return net, {m for m, _ in stopped}


def _scaled(progress: Callable[[float], None] | None, start: float, end: float
            ) -> Callable[[float], None] | None:
    """``progress`` for one stage, mapping its share done onto ``[start, end]`` of the whole."""
    return None if progress is None else (lambda share: progress(start + (end - start) * share))


def domain_balanced_weights(n_source: int, n_target: int, n_unlabelled: int = 0) -> np.ndarray:
    """Per-point weights: half the loss on the source points, half on the labelled target ones
    (all on the source when there are none), zero on unlabelled points."""
    share = 0.5 if n_target else 1.0
    parts = [np.full(n_source, share / n_source), np.full(n_target, (1 - share) / max(1, n_target)),
             np.zeros(n_unlabelled)]
    return np.concatenate(parts)


def student_weights(labels: str, alpha: float, n_source: int, n_target: int, n_pool: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """One student's (hard-label, soft-target) weights over the points ``[source, labelled target, pool]``.

    ``labels="target"``: hard labels on the labelled target samples only, soft targets over the target
    (labelled and pool); ``"all"``: hard labels domain-balanced (:func:`domain_balanced_weights`), soft
    targets over every point. The hard part is scaled by ``1 - alpha``, the soft part by ``alpha``.
    """
    if labels == "target":
        hard = np.concatenate([np.zeros(n_source), np.full(n_target, 1.0 / max(1, n_target)), np.zeros(n_pool)])
        soft = np.concatenate([np.zeros(n_source), np.full(n_target + n_pool, 1.0 / (n_target + n_pool))])
    else:
        hard = domain_balanced_weights(n_source, n_target, n_pool)
        soft = np.full(n_source + n_target + n_pool, 1.0 / (n_source + n_target + n_pool))
    return (1.0 - alpha) * hard, alpha * soft


@dataclass(frozen=True)
class Student:
    """One student of a run: its seed index, temperature (``None``: from hard labels) and labelled data."""

    seed: int
    temperature: float | None
    labels: str

    @property
    def role(self) -> str:
        return "student_hard" if self.temperature is None else "student_soft"


def student_plan(n_seeds: int, temperature: float) -> list[Student]:
    """Per seed: the students from soft targets at every temperature of :data:`TEMPERATURE_CURVE` and
    ``temperature`` with the target labels, one at ``temperature`` with all labels, and a student from hard
    labels with each."""
    temperatures = tuple(sorted(set(TEMPERATURE_CURVE) | {float(temperature)}))
    return ([Student(s, t, "target") for s in range(n_seeds) for t in temperatures]
            + [Student(s, float(temperature), "all") for s in range(n_seeds)]
            + [Student(s, None, labels) for labels in STUDENT_LABELS for s in range(n_seeds)])


def run_distillation(scenario: Scenario, n_seeds: int = 3, settings: DistillSettings = DistillSettings(),
                     device=None, progress: Callable[[float], None] | None = None) -> DistillRun:
    """Train teachers and the students of :func:`student_plan`, one per seed each; score them on the target
    test split. ``progress`` is called with the share done (the teachers take the first :data:`TEACHER_SHARE`)."""
    n_seeds = check_seeds(n_seeds)
    device = torch.device(device) if device is not None else pick_device()
    started = time.perf_counter()
    data = generate(scenario)
    n_classes = max(data.source_classes + data.target_classes) + 1
    mean, std = input_statistics(np.concatenate([data.source_x, data.target_pool_x]), data.image_shape)
    labelled_x = standardise(np.concatenate([data.source_x, data.target_labelled_x]), mean, std)
    labelled_y = np.concatenate([data.source_y, data.target_labelled_y])
    n_source, n_target, n_pool = len(data.source_x), len(data.target_labelled_x), len(data.target_pool_x)
    seeds = [model_seed(scenario, s) for s in range(n_seeds)]
    teacher, teacher_stopped = _train(labelled_x, np.tile(domain_balanced_weights(n_source, n_target), (n_seeds, 1)),
                                      labelled_y, settings.teacher_hidden, seeds, n_classes, settings, device,
                                      progress=_scaled(progress, 0.0, TEACHER_SHARE), image_shape=data.image_shape)

    # every student sees the points [source, labelled target, unlabelled pool]; its weights pick its data
    transfer_x = np.concatenate([labelled_x, standardise(data.target_pool_x, mean, std)])
    transfer_y = np.concatenate([labelled_y, np.zeros(n_pool, dtype=np.int64)])
    plan = student_plan(n_seeds, settings.temperature)
    weights = [student_weights(st.labels, settings.alpha if st.temperature is not None else 0.0, n_source, n_target,
                               n_pool) for st in plan]
    with torch.no_grad():
        logits = teacher(torch.as_tensor(transfer_x, dtype=torch.float32, device=device))
        soft = torch.stack([torch.softmax(logits[st.seed] / (st.temperature or 1.0), dim=-1)
                            for st in plan]).cpu().numpy()
    student, student_stopped = _train(
        transfer_x, np.stack([hard for hard, _ in weights]), transfer_y, settings.student_hidden,
        [seeds[st.seed] + STUDENT_SEED_OFFSET for st in plan], n_classes, settings, device, soft=soft,
        soft_weights=np.stack([soft_part for _, soft_part in weights]),
        temperature=np.array([st.temperature or 1.0 for st in plan]), progress=_scaled(progress, TEACHER_SHARE, 1.0),
        image_shape=data.image_shape)

    rows = []
    for net, stopped, members in ((teacher, teacher_stopped, [(s, "teacher", None, None) for s in range(n_seeds)]),
                                  (student, student_stopped, [(st.seed, st.role, st.temperature, st.labels)
                                                              for st in plan])):
        networks = Networks.from_net(net, np.tile(mean, (net.n_models, 1)), np.tile(std, (net.n_models, 1)))
        target = networks.accuracy(data.target_test_x, data.target_test_y)
        source = networks.accuracy(data.source_x, data.source_y)
        for m, (s, role, temperature, labels) in enumerate(members):
            rows.append({"role": role, "seed": s, "temperature": temperature, "labels": labels,
                         "target_acc": None if m in stopped else float(target[m]),
                         "source_acc": None if m in stopped else float(source[m]), "diverged": m in stopped})
    return DistillRun(scenario, settings, int(n_seeds), rows, teacher.parameter_count(), student.parameter_count(),
                      time.perf_counter() - started, str(device))
