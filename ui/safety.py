"""The last line of defence in front of an audience: an error that escapes a page is logged on the server,
with its traceback, and the page shows one line instead (``client.showErrorDetails`` hides Streamlit's own)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

LOGGER = logging.getLogger("domain_shift_lab")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_to_stderr(logger: logging.Logger) -> None:
    """Send ``logger``'s records of level INFO and above to stderr (the server's log), once per process."""
    if any(getattr(handler, "domain_shift_lab", False) for handler in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.domain_shift_lab = True
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


log_to_stderr(LOGGER)
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
