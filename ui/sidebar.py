"""The scenario sidebar: one widget per knob of :data:`core.scenario.KNOBS`, grouped by kind of shift."""

from __future__ import annotations

from itertools import groupby

import streamlit as st

from core.presets import PRESETS, PRESETS_BY_NAME
from core.scenario import KNOBS, Knob, Scenario
from ui.state import (SCENARIO_KEY, current_scenario, pop_url_problems, set_scenario, sync_url,
                      widget_key)

OPEN_GROUPS = {"Data", "Covariate shift: P(X) changes"}


def _widget(knob: Knob) -> None:
    key = widget_key(knob.name)
    if knob.kind is str:
        st.selectbox(knob.label, knob.choices, key=key, help=knob.help)
    elif knob.name == "seed":
        st.number_input(knob.label, min_value=int(knob.low), max_value=int(knob.high), step=1, key=key,
                        help=knob.help)
    elif knob.kind is int:
        st.slider(knob.label, int(knob.low), int(knob.high), step=int(knob.step), key=key, help=knob.help)
    else:
        st.slider(knob.label, float(knob.low), float(knob.high), step=float(knob.step), key=key,
                  help=knob.help, format=f"%.{knob.decimals}f")


def _apply_preset() -> None:
    name = st.session_state.get("preset_choice")
    if name in PRESETS_BY_NAME:
        set_scenario(PRESETS_BY_NAME[name].scenario)


def _reset() -> None:
    set_scenario(Scenario())


def scenario_sidebar() -> Scenario:
    """Draw the sidebar and return the current scenario (also written to the session and the URL)."""
    scenario = current_scenario()
    for knob in KNOBS:  # widgets removed by a page switch come back with the session's values
        st.session_state.setdefault(widget_key(knob.name), getattr(scenario, knob.name))
    with st.sidebar:
        st.header("Scenario")
        for problem in pop_url_problems():
            st.warning(f"Ignored from the link: {problem}")
        st.selectbox("Preset scene", [p.name for p in PRESETS], index=None, key="preset_choice",
                     placeholder="Choose a preset…", on_change=_apply_preset,
                     help="Sets every knob to a named scene for a talk.")
        for group, knobs in groupby(KNOBS, key=lambda k: k.group):
            with st.expander(group, expanded=group in OPEN_GROUPS):
                for knob in knobs:
                    _widget(knob)
        st.button("Reset to defaults", on_click=_reset, width="stretch")
    scenario = Scenario(**{knob.name: st.session_state[widget_key(knob.name)] for knob in KNOBS})
    st.session_state[SCENARIO_KEY] = scenario
    sync_url(scenario)
    return scenario
