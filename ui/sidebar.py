"""The scenario sidebar: one widget per knob of :data:`core.scenario.KNOBS` that applies to the chosen
dataset, grouped by kind of shift; and what the chosen dataset means for a page (2-D pictures, the
Image domains page)."""

from __future__ import annotations

import math
from itertools import groupby

import streamlit as st

from core.data.images import IMAGE_SHAPE
from core.errors import InputError
from core.scenario import (
    INPUT_TRANSFORMATION_GROUP,
    KNOBS,
    KNOBS_BY_NAME,
    OPENING,
    POINT_DATASETS,
    Knob,
    Scenario,
)
from core.talk.presets import PRESETS, PRESETS_BY_NAME
from ui.links import scenario_page_link
from ui.page_registry import PAGES_BY_PATH
from ui.state import (
    SCENARIO_KEY,
    current_scenario,
    pop_url_problems,
    prepare_widgets,
    scenario_from_widgets,
    set_scenario,
    sync_url,
    widget_key,
)
from ui.widgets import link_warnings

OPEN_GROUPS = {"Data", INPUT_TRANSFORMATION_GROUP}


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


def _open_scenario(scenario: Scenario) -> None:
    set_scenario(scenario)


def warn_link_problems() -> None:
    """One warning per key of the session's first link that was ignored, said once (user text escaped)."""
    link_warnings(pop_url_problems())


def scenario_without_sidebar() -> Scenario:
    """For a page that has no scenario sidebar (Home, Talk scenes, Your data): the session's scenario, with the
    keys its link gave that were ignored said above the page and the URL written back without them."""
    scenario = current_scenario()
    warn_link_problems()
    sync_url(scenario)
    return scenario


def scenario_sidebar() -> Scenario:
    """Draw the sidebar and return the current scenario (also written to the session and the URL).

    Only the knobs that apply to the chosen dataset have a widget. When the widgets' values do
    not go together (digits with more than 20 labels per class) the page shows one ``st.error``
    naming the knob and stops; the widgets keep their values and the session its last scenario.
    """
    dataset = prepare_widgets(current_scenario())
    with st.sidebar:
        st.header("Scenario")
        warn_link_problems()
        st.selectbox("Preset scene", [p.name for p in PRESETS], index=None, key="preset_choice",
                     placeholder="Choose a preset…", on_change=_apply_preset,
                     help="Sets every knob to a named scene for a talk.")
        shown = [knob for knob in KNOBS if knob.applies(dataset)]
        for group, knobs in groupby(shown, key=lambda k: k.group):
            with st.expander(group, expanded=group in OPEN_GROUPS):
                for knob in knobs:
                    _widget(knob)
        opening, no_shift = st.columns(2)
        opening.button("Opening scene", on_click=_open_scenario, args=(OPENING,), width="stretch",
                       help=f"Back to the scenario the app opens at ({OPENING.link_query()}), every other knob at "
                            "its default.")
        no_shift.button("No shift", on_click=_open_scenario, args=(Scenario(),), width="stretch",
                        help="Every knob at its default: source and target from the same distribution.")
    try:
        scenario = scenario_from_widgets(dataset)
    except InputError as error:
        knob = KNOBS_BY_NAME.get(error.field)
        st.error(f"{error} — change *{knob.label if knob else error.field}* in the sidebar.", icon=":material/error:")
        st.stop()
    st.session_state[SCENARIO_KEY] = scenario
    sync_url(scenario)
    return scenario


def image_page_link(scenario: Scenario) -> None:
    """A link to the Image domains page, carrying the scenario."""
    scenario_page_link(PAGES_BY_PATH["image_domains"], scenario)


def stop_unless_points(scenario: Scenario, page: str) -> None:
    """On a page drawn for the 2-D datasets only: with an image dataset, one ``st.info`` saying so and a link
    to the Image domains page, then stop the page (the sidebar stays)."""
    if not scenario.is_image:
        return
    st.info(f"The {page} page works on the 2-D datasets ({', '.join(POINT_DATASETS)}); for dataset="
            f"{scenario.dataset}, images have the Image domains page.", icon=":material/info:")
    image_page_link(scenario)
    st.stop()


def no_boundaries_reason(scenario: Scenario) -> str:
    """Why a scenario has no decision-boundary picture (a map of the 2-D input plane), in one sentence."""
    if scenario.is_image:
        return (f"Decision boundaries are drawn over the 2-D input plane; each {scenario.dataset} image has "
                f"{math.prod(IMAGE_SHAPE)} pixel features ({' × '.join(map(str, IMAGE_SHAPE))}), so there is no "
                "plane to draw.")
    return ("Decision boundaries are drawn only for 2-D inputs; with the *lift3d* feature map the inputs have "
            "3 features.")
