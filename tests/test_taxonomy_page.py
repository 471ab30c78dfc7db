"""The Domain shift page names the kinds of shift right and shows where covariate shift sent the target."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_SHIFT = str(ROOT / "pages/domain_shift.py")

pytestmark = [pytest.mark.apptest, pytest.mark.usefixtures("one_torch_thread")]


def _run(query):
    at = AppTest.from_file(DOMAIN_SHIFT, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


@pytest.mark.slow
def test_covariate_shift_is_marked_on_the_scatter_and_explained_in_a_caption():
    at = _run({"selection": "3", "selection_x": "1.5"})
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    scatter = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any(trace.get("name", "").startswith("selection centre (1.5, 0)") for trace in scatter["data"])
    captions = " ".join(c.value for c in at.caption)
    assert "Covariate shift: target candidates are drawn like the source" in captions
    assert "of the candidates are kept" in captions
    text = " ".join(m.value for m in at.markdown)
    assert "Input transformations" in text and "the labelling rule moves with the" in text
    assert "stays the same" not in text  # the old, wrong claim about rotation


def test_a_selection_too_strong_for_the_sizes_is_one_error_line():
    at = _run({"selection": "10", "selection_x": "3", "selection_y": "3"})
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("selection: keeps about")
