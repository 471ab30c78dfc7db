"""A page's settings as widgets: one widget per knob of the page's :class:`~core.knobs.KnobSet`
(:attr:`ui.page_registry.PageEntry.settings`), laid out in rows, read from a shared link on the page's
first draw, kept across page switches, and written back to the URL beside the scenario.

A form (``submit`` given) changes nothing until it is submitted, so nothing retrains while a
lecturer sets several knobs; without a form every change applies at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from core import budget
from core.errors import InputError
from core.knobs import Knob, KnobSet
from ui.page_registry import PageEntry
from ui.state import PAGE_KEY, PAGE_PARAMS_KEY, all_query_params, current_scenario, presenter_mode, sync_url
from ui.widgets import RUN_KEY, link_warnings

Layout = Sequence[Sequence[str]]  # rows of knob names; a row of several is drawn in columns


def widget_key(page: PageEntry, name: str) -> str:
    """Session-state key of the widget that edits setting ``name`` of ``page``."""
    return f"{page.url_path}_{name}"


def _saved_key(page: PageEntry) -> str:
    return f"{page.url_path}_saved_settings"


def _saved_values(page: PageEntry) -> dict[str, Any]:
    """The page's widget values this session; on its first draw, the settings in the URL (a shared link).

    A bad value in the link is one warning and the knob's default; nothing else is lost.
    """
    key = _saved_key(page)
    if key in st.session_state:
        saved = {**page.settings().to_dict(), **st.session_state[key]}  # a knob added since: its default
    else:
        from_link = st.session_state.get(PAGE_KEY) in (None, page.url_path)  # None: run without the router
        params = all_query_params() if from_link else {}
        settings, problems = page.settings.from_params(params, unknown_ok=True)
        link_warnings(problems)
        saved = settings.to_dict()
    st.session_state[key] = saved
    return saved


def _restore(page: PageEntry, saved: Mapping[str, Any]) -> None:
    """Give the widgets their saved values where Streamlit dropped them (a page switch).

    When the previous run did not draw the widgets (the page stopped above them) the browser has
    forgotten them while the server still holds their values, so the values are set again to reach
    the browser; otherwise unsubmitted edits in a form are left alone.
    """
    run, drawn_key = st.session_state.get(RUN_KEY), f"{page.url_path}_settings_drawn_at"
    resync = run is not None and st.session_state.get(drawn_key) != run - 1
    for name, value in saved.items():
        key = widget_key(page, name)
        if resync or key not in st.session_state:
            st.session_state[key] = list(value) if isinstance(value, tuple) else value
    st.session_state[drawn_key] = run


def _draw(container, knob: Knob, key: str, options: Sequence | None) -> None:
    """One widget for ``knob``: a multiselect for a list, a select box (a radio for up to three choices) for
    a choice, a select slider for a number with suggested values, else a slider."""
    value = st.session_state[key]
    common = {"key": key, "help": knob.help}
    if knob.many:
        container.multiselect(knob.label, options or knob.widget_options(value), format_func=knob.show, **common)
    elif knob.kind is str:
        choices = list(options or knob.choices)
        if len(choices) <= 3:
            container.radio(knob.label, choices, format_func=knob.show, horizontal=True, **common)
        else:
            container.selectbox(knob.label, choices, format_func=knob.show, **common)
    elif knob.options:
        container.select_slider(knob.label, knob.widget_options(value), format_func=knob.show, **common)
    elif knob.kind is int:
        container.slider(knob.label, int(knob.low), int(knob.high), step=int(knob.step), **common)
    else:
        container.slider(knob.label, float(knob.low), float(knob.high), step=float(knob.step),
                         format=f"%.{knob.decimals}f", **common)


def _draw_rows(page: PageEntry, layout: Layout, options: Mapping[str, Sequence]) -> None:
    for row in layout:
        containers = st.columns(len(row)) if len(row) > 1 else [st]
        for name, container in zip(row, containers):
            _draw(container, page.settings.knob_named(name), widget_key(page, name), options.get(name))


def page_settings(page: PageEntry, layout: Layout, submit: tuple[str, str] | None = None,
                  options: Mapping[str, Sequence] | None = None) -> KnobSet:
    """Draw ``page``'s settings and return them, validated; also put them in the URL.

    Parameters
    ----------
    layout : rows of knob names
        Every knob of the page's settings, each once.
    submit : (label, icon), optional
        Draw the widgets in a form with this submit button.
    options : mapping, optional
        Per knob, the values offered in this view (e.g. the knobs the dataset has); a saved value outside
        them falls back to the first.

    Raises
    ------
    InputError
        When the values do not go together (e.g. an empty list); the widgets keep them.
    """
    options = options or {}
    drawn = [name for row in layout for name in row]
    if sorted(drawn) != sorted(page.settings.knob_names()):
        raise ValueError(f"layout of {page.url_path} must hold each of {page.settings.knob_names()} once")
    saved = _saved_values(page)
    for name, offered in options.items():
        if saved[name] not in offered:
            saved[name] = offered[0]
            st.session_state.pop(widget_key(page, name), None)
    _restore(page, saved)
    # in presenter mode the form folds away, so that the page's headline is above the fold of a projector
    place = st.expander("This page's settings", icon=":material/tune:") if presenter_mode() else st.container()
    with place:
        if submit is None:
            _draw_rows(page, layout, options)
        else:
            with st.form(f"{page.url_path}_settings_form", border=True):
                _draw_rows(page, layout, options)
                label, icon = submit
                st.form_submit_button(label, type="primary", icon=icon)
    values = {name: st.session_state[widget_key(page, name)] for name in drawn}
    st.session_state[_saved_key(page)] = values
    try:
        settings = page.settings.from_mapping(values)
    except InputError as error:  # name the widget, as the user sees it
        label = page.settings.knob_named(error.field).label if error.field in drawn else error.field
        raise InputError(label, str(error).split(": ", 1)[1]) from None
    st.session_state[PAGE_PARAMS_KEY] = (page.url_path, settings.to_params())
    scenario = current_scenario()
    sync_url(scenario)
    _expected_time(settings, scenario)
    return settings


def _expected_time(settings: KnobSet, scenario) -> None:
    """Refuse a run over the work budget (one line naming the widget to lower and its largest value); say how long
    a long one will take before it starts."""
    if not hasattr(settings, "work"):
        return
    seconds = budget.Request(settings, scenario).check(name_of=lambda knob: knob.label)
    if seconds >= budget.SHOW_ESTIMATE_FROM_S:  # outside the folded settings of presenter mode: always seen
        st.caption(f":material/timer: Estimated time of this run: {budget.describe(seconds)} on 2 CPU cores "
                      f"(estimates lean high; a run may take at most {budget.WORK_BUDGET_S:g} s here).")
