"""Links between pages that carry the current scenario."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core.scenario import Scenario


def scenario_page_link(path: str, url_path: str, label: str, icon: str, scenario: Scenario) -> None:
    """A link to another page with the scenario in its URL.

    Under the router it is an ``st.page_link`` (no reload); when a page script runs on its own
    (tests, ``streamlit run pages/x.py``) there is no page registry, so it is a plain link.
    """
    query = scenario.to_query()
    try:
        st.page_link(path, label=label, icon=icon, query_params=dict(p.split("=", 1) for p in query.split("&") if p))
    except StreamlitPageNotFoundError:
        st.markdown(f"{icon} [{label}]({url_path}{'?' + query if query else ''})")
