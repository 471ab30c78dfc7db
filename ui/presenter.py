"""Presenter mode: larger fonts and less chrome for a projector, switched on in the sidebar or by ``?present=1``."""

from __future__ import annotations

import streamlit as st

from core.talk.presets import PRESENTER_PARAM
from ui.state import PRESENTER_KEY, presenter_mode

CHART_FONT_SCALE = 1.4  # plotly fonts in presenter mode (:func:`core.figures.with_larger_fonts`)
PRESENTER_CSS = """
<style>
html { font-size: 20px; }
[data-testid="stMainMenu"], [data-testid="stDecoration"], [data-testid="stAppDeployButton"], footer { display: none; }
[data-testid="stStatusWidget"] { display: none; }
[data-testid="stHeader"] { background: transparent; }
[data-testid="stMainBlockContainer"] { padding-top: 2rem; padding-left: 2rem; padding-right: 2rem; max-width: none; }
[data-testid="stCaptionContainer"] { font-size: 0.95rem; }
</style>
"""


def presenter_controls() -> bool:
    """The sidebar's presenter toggle, the URL's ``present`` parameter kept in step with it, and the
    presenter style when it is on; returns whether it is on. Called by the router on every run."""
    presenter_mode()  # the first run of a session reads ?present=1
    on = st.sidebar.toggle("Presenter mode", key=PRESENTER_KEY, help="Larger fonts and less chrome for a projector; "
                           "links copied from the address bar open in presenter mode too (present=1).")
    if on and st.query_params.get(PRESENTER_PARAM) != "1":
        st.query_params[PRESENTER_PARAM] = "1"
    elif not on and PRESENTER_PARAM in st.query_params:
        del st.query_params[PRESENTER_PARAM]
    if on:  # st.markdown, not st.html: a style-only st.html waits for the end of the run, a first run is long
        st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
    return on
