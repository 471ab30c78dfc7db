"""Figures that read well whatever the scenario: the class-proportion bars, steady planes, round ticks."""

import numpy as np
import pytest

from core.data.domains import generate, plane_ranges
from core.figures import MAX_LABELLED_BARS, MMD_AXIS_FLOOR, class_proportions_figure, divergence_sweep_figure
from core.figures.finetune import schedule_figure
from core.figures.sweeps import decision_boundary_animation
from core.formatting import signed
from core.labs.lambda_models import lambda_grid
from core.scenario import Scenario
from core.training.finetune import FinetuneSettings

pytestmark = pytest.mark.unit


def test_two_classes_carry_their_shares_as_text_and_the_axis_fits_them():
    figure = class_proportions_figure(generate(Scenario()))
    source, target = figure.data
    assert list(source.x) == ["class 0", "class 1"]
    assert list(source.text) == [f"{share:.0%}" for share in source.y] and sum(source.y) == pytest.approx(1)
    assert figure.layout.yaxis.range[1] == pytest.approx(max(*source.y, *target.y) * 1.2)


def test_ten_digit_classes_are_numbered_with_shares_on_hover_and_fill_the_axis():
    figure = class_proportions_figure(generate(Scenario(dataset="digits")))
    source, target = figure.data
    assert len(source.x) == 10 > MAX_LABELLED_BARS and list(source.x) == [str(k) for k in range(10)]
    assert source.text is None and "%{y" in source.hovertemplate
    assert figure.layout.xaxis.title.text == "class"
    top = figure.layout.yaxis.range[1]
    assert max(*source.y, *target.y) < top < 0.2  # ten shares of about 10 % are not drawn against 100 %


# --- numbers that read well on a projector (issue 19) --------------------------------------------------


def test_signed_numbers_never_print_a_negative_zero():
    assert [signed(v) for v in (2.345, -0.04, 0.0, -0.06)] == ["+2.3", "±0.0", "±0.0", "-0.1"]
    assert signed(-1.264, 2) == "-1.26" and signed(0.0004, 3) == "±0.000"


@pytest.mark.parametrize("dataset", ["moons", "blobs", "circles", "xor", "spirals"])
def test_the_plane_holds_still_while_the_rotation_moves(dataset):
    small = Scenario(dataset=dataset, n_source=200, n_target=200, n_test=100)
    ranges = {str(plane_ranges(generate(small.replace(rotation=r)))) for r in (5, 35, 90, 135, 180, -60)}
    assert len(ranges) == 1, ranges


def test_the_mmd_axis_starts_at_zero_and_never_shows_rounding_noise():
    points = [{"value": v, "mmd2": m, "proxy_a_distance": 0.1, "proxy_a_distance_std": 0.01}
              for v, m in ((0.0, -2.05e-19), (0.5, 1e-6), (1.0, 3e-19))]
    figure = divergence_sweep_figure(points, "concept", current=0.5)
    mmd = next(t for t in figure.data if t.name.startswith("MMD²"))
    assert min(mmd.y) == 0.0 and tuple(figure.layout.yaxis.range) == (0.0, MMD_AXIS_FLOOR)
    assert figure.layout.annotations[0].text == "current" and figure.layout.annotations[0].y == 1  # not on the axis


def test_the_learning_rate_colour_bar_ticks_are_round_rates():
    figure = schedule_figure(FinetuneSettings(), ["discriminative", "full_finetune", "progressive"])
    ticks = figure.layout.coloraxis.colorbar.ticktext[1:]  # after "0 (frozen)"
    assert len(ticks) >= 2 and all(float(t) == float(f"{float(t):.1g}") for t in ticks), ticks


def test_the_lambda_slider_ticks_have_two_significant_digits():
    from core.labs.lambda_models import LambdaSurfaces

    data = generate(Scenario(n_source=100, n_target=100, n_test=100))
    lambdas = lambda_grid(12)
    xs, ys = np.linspace(-2, 3, 4), np.linspace(-2, 3, 4)
    surfaces = LambdaSurfaces(lambdas, xs, ys, tuple(np.full((4, 4, 2), 0.5, dtype=np.float32) for _ in lambdas),
                              (None,) * len(lambdas))
    figure = decision_boundary_animation(surfaces, data, "mmd", {}, 2)
    labels = [step.label for step in figure.layout.sliders[0].steps]
    assert labels == [f"{lam:.2g}" for lam in lambdas] and len(set(labels)) == len(labels)
    assert "0.0398" not in labels
