"""The last line of defence in front of an audience: an error that escapes a page is logged on the server,
with its traceback, and the page shows one line instead (``client.showErrorDetails`` hides Streamlit's own)."""

from __future__ import annotations

from typing import Callable

import streamlit as st
from streamlit.logger import get_logger

LOGGER = get_logger("domain_shift_lab")
FAILURE_MESSAGE = ("Something went wrong while drawing this page; the details are in the server's log. "
                   "Change a setting, or reload the page.")


def run_safely(run_page: Callable[[], None], name: str) -> None:
    """Run ``run_page``; an ``Exception`` from it is logged (``name`` says which page) and shown as one line.

    Streamlit's stop and rerun signals derive from ``BaseException`` and pass through untouched.
    """
    try:
        run_page()
    except Exception:
        LOGGER.exception("Page %r failed", name)
        st.error(FAILURE_MESSAGE, icon=":material/error:")
