"""Figures that read well whatever the scenario: the class-proportion bars."""

import pytest

from core.data.domains import generate
from core.figures import MAX_LABELLED_BARS, class_proportions_figure
from core.scenario import Scenario

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
