"""Links between pages that carry the current scenario."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core.scenario import Scenario
from ui.page_registry import PageEntry
from ui.state import view_params


def scenario_page_link(page: PageEntry, scenario: Scenario) -> None:
    """A link to another page with the view in its URL (:func:`ui.state.view_params`).

    Under the router it is an ``st.page_link`` (no reload); when a page script runs on its own
    (tests, ``streamlit run pages/x.py``) there is no page registry, so it is a plain link.
    """
    params = view_params(scenario)
    try:
        st.page_link(page.file, label=page.title, icon=page.icon, query_params=params)
    except StreamlitPageNotFoundError:
        query = "&".join(f"{key}={value}" for key, value in params.items())
        st.markdown(f"{page.icon} [{page.title}]({page.served_at}{'?' + query if query else ''})")
