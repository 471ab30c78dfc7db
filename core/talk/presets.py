"""Talk scenes: named scenarios, each shown on one page, each reachable by a shareable link."""

from __future__ import annotations

from dataclasses import dataclass

from core.scenario import Scenario

PRESENTER_PARAM = "present"  # ``?present=1`` in a link opens it in presenter mode


@dataclass(frozen=True)
class Preset:
    """A talk scene: a scenario on a page, with a one-line story for the audience and a cue for the speaker.

    Parameters
    ----------
    name : str
        Title of the scene (also the sidebar's preset choice).
    story : str
        What the audience sees, in one sentence.
    scenario : Scenario
        Every knob of the scene.
    page : str
        URL path of the page the scene is shown on (a page of ``ui.page_registry``, which a test checks).
    cue : str
        What to point at while it is on the screen.
    """

    name: str
    story: str
    scenario: Scenario
    page: str = "domain_shift"
    cue: str = ""

    def link(self, presenter: bool = False) -> str:
        """Relative link to the scene: ``page?query``, with ``present=1`` in presenter mode."""
        query = "&".join(part for part in (self.scenario.link_query(), f"{PRESENTER_PARAM}=1" if presenter else "")
                         if part)
        return f"{self.page}?{query}" if query else self.page


PRESETS: tuple[Preset, ...] = (
    Preset("No shift", "Source and target from the same distribution: every divergence is about zero.",
           Scenario(), cue="The permutation test's p-value is large; the proxy A-distance sits near 0."),
    Preset("Rotation 35°", "An input transformation: the target moons are turned by 35° about their centre, and "
           "their labelling rule with them.",
           Scenario(rotation=35), cue="MMD² and the proxy A-distance jump; sweep the rotation to see them grow. "
           "Where the two domains overlap, the source's rule now gives some target points the wrong label."),
    Preset("Covariate shift", "P(X) changes, P(Y|X) does not: target points are drawn like the source's and kept "
           "mostly near (1.5, 0), where the two moons' right ends lie.",
           Scenario(selection=3.0, selection_x=1.5),
           cue="The target piles up around the cross and its class proportions move, yet the labels still follow "
               "the source's P(Y|X); compare with Rotation 35°, where the rule moves with the inputs."),
    Preset("Prior shift", "P(Y) changes: 95% / 5% classes in the target, inputs drawn the same way per class.",
           Scenario(prior=1.0), cue="The class proportions bar chart moves while each class keeps its shape."),
    Preset("Concept shift", "P(Y|X) changes: the same inputs, but labels permuted on the right half.",
           Scenario(concept=1.0), cue="The divergences stay near zero: a test on the inputs cannot see this shift."),
    Preset("New class in target", "Y_S ≠ Y_T: the target holds a class the source never saw.",
           Scenario(dataset="blobs", label_space="new_class"), cue="A fourth blob appears only in the target."),
    Preset("Different feature space", "X_S ≠ X_T: the target is observed in polar coordinates.",
           Scenario(feature_map="polar"), cue="The feature-map panel shows where each target point came from."),
    Preset("Adaptation on rotated moons", "Source-only, MMD, DANN, CORAL, self-training and OT on a 35° rotation.",
           Scenario(rotation=35), page="adaptation",
           cue="Compare the decision boundaries of source-only and the adapted methods with the hollow target points."),
    Preset("Alignment cannot fix concept shift", "The same methods when the labelling rule changes.",
           Scenario(concept=1.0), page="adaptation",
           cue="Look at the Δ column: what can aligning inputs that never moved gain?"),
    Preset("Which method for which shift", "Every method on each kind of shift: an input transformation, covariate, "
           "prior and concept shift.", Scenario(), page="shift_matrix",
           cue="Read each row: which methods the paired test marks ▲ (a gain over source only) and which ▼."),
    Preset("Which term of the bound grows", "The terms of the Ben-David bound as the target moons turn from 0° to "
           "90°: the source error, the divergence term and the oracle λ*.",
           Scenario(), page="bound",
           cue="Follow the divergence term as it climbs while the source error stays flat; the dotted line is the "
               "measured target error the bound must stay above."),
    Preset("How much alignment?", "MMD's weight λ swept on a log grid at a 50° rotation.",
           Scenario(rotation=50), page="lambda_sweep",
           cue="Find the λ where target accuracy peaks, and whether large λ falls below λ = 0."),
    Preset("Fine-tuning: which layers to unfreeze", "A network pretrained on the source, fine-tuned on a few target "
           "labels by each strategy (frozen features, full, progressive unfreezing, L2-SP, ...) against scratch.",
           Scenario(rotation=35), page="finetune",
           cue="Follow the progressive-unfreezing curve against scratch at 1 and 2 labels per class, then at 50."),
    Preset("Forgetting and its remedies", "Fine-tuning on 5 target labels per class forgets some of the source: "
           "L2-SP, EWC, replay and distillation from the source network, each at several strengths, against plain "
           "full fine-tuning.", Scenario(rotation=35), page="forgetting",
           cue="Read the verdict above the chart, then follow one remedy's line from weak to strong: up is source "
               "kept, left is target given up."),
    Preset("Distilling a teacher into a small student", "A wide teacher trained on the labelled source and a few "
           "target labels, and 8-unit students that only have those target labels: from the teacher's soft targets "
           "or from the labels alone.", Scenario(rotation=35), page="distillation",
           cue="Read the green or blue line under the cards, then the contrast: with the source labels of their own, "
               "the small students need no teacher."),
    Preset("When transfer turns negative", "Fine-tuning against training from scratch across shifts and label counts.",
           Scenario(), page="negative_transfer",
           cue="Outlined cells are where fine-tuning loses to training from scratch on the same labels."),
    Preset("Rotated digits", "Handwritten digits turned by 45°: CNNs, fine-tuning, MMD, DANN and self-training.",
           Scenario(dataset="digits", rotation=45), page="image_domains",
           cue="Compare source-only with fine-tuning in the accuracy chart, then open the misclassified digits."),
)
PRESETS_BY_NAME: dict[str, Preset] = {p.name: p for p in PRESETS}
