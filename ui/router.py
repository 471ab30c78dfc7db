"""Keep every page under the router in app.py, also on a server's very first request.

Streamlit still supports its old multipage mode: at start-up it sees the ``pages/`` folder and,
until some script calls ``st.navigation``, serves each file there as a page of its own. On a
fresh server a first visit straight to ``/adaptation`` would run that file without app.py: no
wide layout, no thread set-up, the old navigation. :func:`ensure_router` detects that run,
switches the old mode off and reruns, so app.py's router takes over and shows the same page.
"""

from __future__ import annotations

import streamlit as st


def ensure_router() -> None:
    """Rerun through app.py when Streamlit's old pages/ mode runs this page directly."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the old mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
