"""Links between pages that carry the current scenario."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core.scenario import Scenario
from ui.state import view_params


def scenario_page_link(path: str, url_path: str, label: str, icon: str, scenario: Scenario) -> None:
    """A link to another page with the view in its URL (:func:`ui.state.view_params`).

    Under the router it is an ``st.page_link`` (no reload); when a page script runs on its own
    (tests, ``streamlit run pages/x.py``) there is no page registry, so it is a plain link.
    """
    params = view_params(scenario)
    try:
        st.page_link(path, label=label, icon=icon, query_params=params)
    except StreamlitPageNotFoundError:
        query = "&".join(f"{key}={value}" for key, value in params.items())
        st.markdown(f"{icon} [{label}]({url_path}{'?' + query if query else ''})")
