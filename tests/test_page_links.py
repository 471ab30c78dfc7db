"""A link that carries a page's settings opens the page with them in its widgets, and keeps them in the URL."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.knobs import Knob
from tests.conftest import ROOT
from tests.test_page_settings import WITH_SETTINGS, non_default
from ui.page_settings import widget_key

pytestmark = [pytest.mark.apptest, pytest.mark.usefixtures("one_torch_thread")]

LINK_SCENARIOS = {"image_domains": {"dataset": "digits", "n_source": "200", "n_target": "100", "n_test": "100"}}
SMALL = {"n_source": "100", "n_target": "100", "n_test": "200"}


def widget_value(at, knob: Knob, key: str):
    """The value the page's widget for ``knob`` shows (the widget kinds of ui.page_settings)."""
    if knob.many:
        return tuple(at.multiselect(key=key).value)
    if knob.kind is str:
        found = [w for w in (*at.get("selectbox"), *at.get("radio")) if w.key == key]
        return found[0].value
    return (at.select_slider(key=key) if knob.options else at.slider(key=key)).value


@pytest.mark.parametrize("page", WITH_SETTINGS, ids=lambda page: page.url_path)
def test_a_link_with_non_default_settings_opens_the_page_with_them(page):
    changed = non_default(page.settings)
    at = AppTest.from_file(str(ROOT / page.file), default_timeout=300)
    for key, value in {**LINK_SCENARIOS.get(page.url_path, SMALL), **changed.to_params()}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning, [w.value for w in at.warning]  # no key of the link was ignored
    for knob in page.settings.KNOBS:
        shown = widget_value(at, knob, widget_key(page, knob.name))
        assert knob.parse(shown) == getattr(changed, knob.name), knob.name
    for key, value in changed.to_params().items():  # the address bar still links to this view
        assert at.query_params[key] in (value, [value]), key
