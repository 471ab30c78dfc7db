"""The three transfer settings of Pan & Yang (2010), named from what a page's models are given.

* **Inductive**: the target task differs from the source's, or the models learn from labelled target
  samples; either way the target's labels (a few) are needed.
* **Transductive**: the same task (label space), labelled source, unlabelled target: the models must carry
  the source task over without a single target label.
* **Unsupervised**: no labels on either side; only structure transfers (clustering, representations).

Each page declares which labels its models use (:data:`USES`); the scenario says how many labelled target
samples there are and whether the label spaces agree. One strategy starts in the unsupervised setting:
self-supervised pretraining learns from the unlabelled source alone before its fine-tuning sees target
labels; a page that trains it says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.data.domains import labelled_counts
from core.knobs import BY_METHOD, POOL_ONLY, USES, WITH_TARGET_LABELS
from core.scenario import Scenario
from core.training.finetune import STRATEGIES_BY_NAME

INDUCTIVE, TRANSDUCTIVE, UNSUPERVISED = "inductive", "transductive", "unsupervised"
LABEL_SPACE_WORDS = {"new_class": "the target has a class the source never saw",
                     "missing_class": "the target lacks one of the source's classes",
                     "different": "each has a class the other lacks"}


@dataclass(frozen=True)
class TransferSetting:
    """One page's setting on one scenario: its name(s) and the facts it follows from."""

    names: tuple[str, ...]
    uses: str
    labelled_target: int  # labelled target samples in the scenario
    label_space: str  # the scenario's: "same" when source and target share their classes
    unlabelled_pretraining: bool = False  # a model is pretrained with no label on either side

    def text(self) -> str:
        """One paragraph for under a page's title: the setting, the facts it follows from, what it implies."""
        if self.names == (UNSUPERVISED,):
            return (f"{self.headline()}. No labels on either side: only the structure of the inputs can be "
                    "compared or transferred, and no model here learns a task.")
        unused = (f" (the scenario's {self.labelled_target} labelled target samples are not used here)"
                  if self.labelled_target else "")
        given = {POOL_ONLY: f"labelled source and the unlabelled target pool{unused}",
                 WITH_TARGET_LABELS: "labelled source and labelled target samples",
                 BY_METHOD: f"labelled source, the unlabelled target pool and {self.labelled_target} labelled target "
                            "samples"}[self.uses]
        same = self.label_space == "same"
        task = "the same label space" if same else f"different label spaces ({LABEL_SPACE_WORDS[self.label_space]})"
        pretraining = ""
        if self.unlabelled_pretraining:
            pretraining = (" Self-supervised pretraining starts in the **unsupervised** setting: its network learns "
                           "from the unlabelled source alone (no label on either side, so only the structure of the "
                           "inputs transfers), and only its fine-tuning sees target labels.")
        return f"{self.headline()}. Given {given}, with {task}: {self._implies(same)}.{pretraining}"

    @property
    def name(self) -> str:
        """Its name(s) joined: "transductive and inductive" when methods differ."""
        return " and ".join(self.names)

    def headline(self) -> str:
        """The setting's name alone (what a projector shows; :meth:`text` says why)."""
        first = f"; self-supervised pretraining: **{UNSUPERVISED}**, then " if self.unlabelled_pretraining else ""
        return f"Transfer setting (Pan & Yang 2010): **{self.name}**{first}" + (
            f"**{INDUCTIVE}**" if first else "")

    def _implies(self, same_task: bool) -> str:
        learns_labels = self.uses == WITH_TARGET_LABELS or (self.uses == BY_METHOD and self.labelled_target > 0)
        if not learns_labels:
            return ("the models must carry the source task over to the target without a single target label; only "
                    "the unlabelled pool shows them where the target lies" if same_task else
                    "the tasks differ, and no model here sees a target label, so none can learn the target's own "
                    "classes")
        if self.uses == WITH_TARGET_LABELS:
            return "the models learn the target task from its own few labels, helped by what the source taught"
        if same_task:
            return ("transductive for the methods that see only the unlabelled pool, inductive for target only and "
                    "fine-tuning, which also learn from the labelled target samples")
        return ("the tasks differ: target only and fine-tuning learn the target's classes from its labelled samples, "
                "the methods that see only the unlabelled pool cannot")


def label_space(source_classes, target_classes) -> str:
    """How two sets of observed classes relate: "same", "new_class", "missing_class" or "different"
    (:data:`LABEL_SPACE_WORDS`)."""
    source, target = set(source_classes), set(target_classes)
    new, missing = bool(target - source), bool(source - target)
    return "different" if new and missing else "new_class" if new else "missing_class" if missing else "same"


def unlabelled_target_setting(space: str | None = "same") -> TransferSetting:
    """The setting of models that learn from a labelled source and an unlabelled target (an uploaded target's
    labels, if any, only measure them), with label spaces related as ``space`` says; ``None``: the source has
    no labels either (unsupervised)."""
    if space is None:
        return TransferSetting((UNSUPERVISED,), POOL_ONLY, 0, "same")
    return TransferSetting((TRANSDUCTIVE,) if space == "same" else (INDUCTIVE,), POOL_ONLY, 0, space)


def transfer_setting(scenario: Scenario, uses: str, unlabelled_pretraining: bool = False) -> TransferSetting:
    """The setting a page whose models learn as ``uses`` says (:data:`USES`) is in on ``scenario``; with
    ``unlabelled_pretraining``, one of its models is first pretrained without any label."""
    if uses not in USES:
        raise ValueError(f"uses must be one of {USES}, got {uses!r}")
    labelled = sum(labelled_counts(scenario).values())
    if scenario.label_space != "same" or uses == WITH_TARGET_LABELS:  # the fine-tuning pages draw their own labels
        names = (INDUCTIVE,)
    elif uses == BY_METHOD and labelled > 0:
        names = (TRANSDUCTIVE, INDUCTIVE)
    else:
        names = (TRANSDUCTIVE,)
    return TransferSetting(names, uses, labelled, scenario.label_space, unlabelled_pretraining)


def setting_of(scenario: Scenario, uses: str, strategies: Sequence[str] = ()) -> TransferSetting:
    """:func:`transfer_setting` of a run that trains the fine-tuning ``strategies`` (names): self-supervised
    pretraining starts with no label on either side."""
    pretext = any(STRATEGIES_BY_NAME[name].start == "pretext" for name in strategies)
    return transfer_setting(scenario, uses, unlabelled_pretraining=pretext)
