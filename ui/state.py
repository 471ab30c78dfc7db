"""The session's one Scenario, kept in ``st.session_state`` and mirrored in the page URL.

The first run of a session reads the URL (a shared link restores its scenario; a link without scenario
keys opens :data:`core.scenario.OPENING`); every run then writes the scenario's keys back to the URL
(:meth:`core.scenario.Scenario.link_params`), with the current page's non-default
settings beside them (:mod:`ui.page_settings`), so the address bar is always a link to the current
view and the scenario persists when moving between pages.

A knob that does not apply to the chosen dataset (:meth:`core.scenario.Knob.applies`) has no
widget; its last value is parked in the session, the scenario gets the knob's default, and the
value comes back when a dataset it applies to is chosen again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from core.scenario import KNOBS, Scenario
from core.talk.presets import PRESENTER_PARAM
from ui.page_registry import PAGES_BY_PATH

SCENARIO_KEY = "scenario"
URL_PROBLEMS_KEY = "url_problems"
PARKED_KEY = "parked_knobs"  # values of the knobs hidden because they do not apply to the dataset
PRESENTER_KEY = "presenter_mode"  # also the key of the router's toggle
PAGE_KEY = "current_page"  # the router's page of this run (url path)
SIDEBAR_PAGE_KEY = "sidebar_page"  # the page that last drew the scenario sidebar
PAGE_PARAMS_KEY = "page_params"  # (url path, URL parameters of that page's settings), set by its settings form


def widget_key(name: str) -> str:
    """Session-state key of the widget that edits knob ``name``."""
    return f"knob_{name}"


def page_setting_names(url_path: str | None) -> tuple[str, ...]:
    """The URL keys of a page's own settings (none for a page without settings); without a router (a page
    script run on its own, as in tests) every page's."""
    pages = [PAGES_BY_PATH[url_path]] if url_path in PAGES_BY_PATH else [] if url_path else PAGES_BY_PATH.values()
    return tuple(dict.fromkeys(name for page in pages if page.settings for name in page.settings.knob_names()))


def scenario_from_params(params: Mapping[str, Any], page_keys: tuple[str, ...] = ()) -> tuple[Scenario, list[str]]:
    """Read a scenario from URL parameters, keeping every valid key and listing the bad ones.

    ``page_keys`` (the current page's settings) and ``present`` are left to their readers. A key that
    is valid alone but not with the others (``feature_map=polar`` with ``dataset=digits``) is dropped
    and listed too.
    """
    return Scenario.from_link(dict(params), ignore=(*page_keys, PRESENTER_PARAM))


def prepare_widgets(scenario: Scenario) -> str:
    """Give every knob that applies to the chosen dataset a widget value, park the others'; return the dataset.

    Widgets removed by a page switch come back with ``scenario``'s values; a knob hidden because
    it does not apply keeps its last value in the session (:data:`PARKED_KEY`) until it applies again.
    """
    page = st.session_state.get(PAGE_KEY)
    switched = page is not None and st.session_state.get(SIDEBAR_PAGE_KEY) != page
    st.session_state[SIDEBAR_PAGE_KEY] = page
    dataset = st.session_state.setdefault(widget_key("dataset"), scenario.dataset)
    parked = st.session_state.setdefault(PARKED_KEY, {})
    for knob in KNOBS:
        key = widget_key(knob.name)
        if knob.applies(dataset):
            if key not in st.session_state:
                st.session_state[key] = parked.pop(knob.name, getattr(scenario, knob.name))
            elif switched:  # Streamlit ids widgets per page: set the value again, or the slider shows its minimum
                st.session_state[key] = st.session_state[key]
        elif key in st.session_state:
            parked[knob.name] = st.session_state.pop(key)
    return dataset


def scenario_from_widgets(dataset: str) -> Scenario:
    """The scenario the widgets describe; knobs that do not apply to ``dataset`` take their default.

    Raises
    ------
    InputError
        When the values do not go together (digits with more than 20 labels per class).
    """
    return Scenario(**{knob.name: st.session_state[widget_key(knob.name)] if knob.applies(dataset) else knob.default
                       for knob in KNOBS})


def all_query_params() -> dict[str, list[str]]:
    """The URL's parameters, every value of a repeated key kept (the readers say when they differ)."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


def current_scenario() -> Scenario:
    """The session's scenario; on a session's first run it comes from the URL."""
    if SCENARIO_KEY not in st.session_state:
        page_keys = page_setting_names(st.session_state.get(PAGE_KEY))
        scenario, problems = scenario_from_params(all_query_params(), page_keys)
        st.session_state[SCENARIO_KEY] = scenario
        st.session_state[URL_PROBLEMS_KEY] = problems
    return st.session_state[SCENARIO_KEY]


def set_scenario(scenario: Scenario) -> None:
    """Make ``scenario`` current and move every widget to it (call from a callback or before widgets)."""
    st.session_state[SCENARIO_KEY] = scenario
    st.session_state.pop(PARKED_KEY, None)
    for knob in KNOBS:
        st.session_state[widget_key(knob.name)] = getattr(scenario, knob.name)


def presenter_mode() -> bool:
    """Whether the session shows the app in presenter mode; on its first run it comes from the URL (``present=1``)."""
    if PRESENTER_KEY not in st.session_state:
        st.session_state[PRESENTER_KEY] = st.query_params.get(PRESENTER_PARAM) == "1"
    return bool(st.session_state[PRESENTER_KEY])


def view_params(scenario: Scenario, page_params: Mapping[str, str] | None = None) -> dict[str, str]:
    """URL parameters of a view: the scenario's (:meth:`core.scenario.Scenario.link_params`), a page's settings
    (``page_params``), then ``present=1`` in presenter mode."""
    params = {**scenario.link_params(), **(page_params or {})}
    if presenter_mode():
        params[PRESENTER_PARAM] = "1"
    return params


def current_page_params() -> dict[str, str]:
    """The current page's settings as URL parameters: those its settings form last wrote, or, before the form
    has run (it comes after the sidebar), those of a shared link, which the form is yet to read."""
    page, params = st.session_state.get(PAGE_PARAMS_KEY, (None, {}))
    current = st.session_state.get(PAGE_KEY)
    if page is not None and current in (None, page):
        return params
    names = page_setting_names(current)
    return {key: value for key, value in st.query_params.to_dict().items() if key in names}


def sync_url(scenario: Scenario) -> None:
    """Write the view's parameters (:func:`view_params`, with the current page's settings) to the URL, touching
    it only when they differ."""
    wanted = view_params(scenario, current_page_params())
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def pop_url_problems() -> list[str]:
    """Problems found in the URL on the session's first run, reported once."""
    return st.session_state.pop(URL_PROBLEMS_KEY, [])
