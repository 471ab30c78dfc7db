"""Named scenes for talks: each is a Scenario, reachable by a shareable link."""

from __future__ import annotations

from dataclasses import dataclass

from core.scenario import Scenario


@dataclass(frozen=True)
class Preset:
    """A named scenario with a one-line story for the audience."""

    name: str
    story: str
    scenario: Scenario


PRESETS: tuple[Preset, ...] = (
    Preset("No shift", "Source and target from the same distribution: every divergence is about zero.",
           Scenario()),
    Preset("Rotation 35°", "Covariate shift: the target moons are turned by 35° about their centre.",
           Scenario(rotation=35)),
    Preset("Prior shift", "P(Y) changes: 95% / 5% classes in the target, inputs drawn the same way per class.",
           Scenario(prior=1.0)),
    Preset("Concept shift", "P(Y|X) changes: the same inputs, but labels permuted on the right half.",
           Scenario(concept=1.0)),
    Preset("New class in target", "Y_S ≠ Y_T: the target holds a class the source never saw.",
           Scenario(dataset="blobs", label_space="new_class")),
    Preset("Different feature space", "X_S ≠ X_T: the target is observed in polar coordinates.",
           Scenario(feature_map="polar")),
)
PRESETS_BY_NAME: dict[str, Preset] = {p.name: p for p in PRESETS}
