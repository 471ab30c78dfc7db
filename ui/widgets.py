"""Widgets that pages share: settings forms whose values survive page switches, download buttons."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import streamlit as st

RUN_KEY = "script_runs"  # the session's run count, kept by the router (:func:`count_run`)


def count_run() -> None:
    """Count the session's script runs (the router calls it first on every run)."""
    st.session_state[RUN_KEY] = st.session_state.get(RUN_KEY, 0) + 1


@contextlib.contextmanager
def saved_form(form_key: str, settings_key: str, defaults: Mapping[str, Any]) -> Iterator[dict]:
    """An ``st.form`` whose widgets (keyed by ``defaults``' keys) start from the values saved under
    ``settings_key``; yields a dict that holds the submitted values once the ``with`` block ends.

    Streamlit drops a widget's key when its page is left, so the values are saved under a key of
    their own and put back before the widgets are drawn: nothing retrains after a page switch.
    When the previous run did not draw the form (the page stopped above it, e.g. on digits) the
    browser has forgotten the widgets while the server still holds their values, so the values
    are set again to reach the browser; otherwise unsubmitted edits in the form are left alone.
    """
    saved = st.session_state.setdefault(settings_key, dict(defaults))
    run, drawn_key = st.session_state.get(RUN_KEY), f"{form_key}_drawn_at"
    resync = run is not None and st.session_state.get(drawn_key) != run - 1
    for key, value in saved.items():
        if resync or key not in st.session_state:
            st.session_state[key] = value
    st.session_state[drawn_key] = run
    values: dict = {}
    with st.form(form_key, border=True):
        yield values
    values.update({key: st.session_state[key] for key in defaults})
    st.session_state[settings_key] = dict(values)


def run_downloads(what: str, csv: bytes, run_json: bytes, stem: str) -> None:
    """Two buttons side by side: ``what`` per model as CSV, and the whole run as JSON (``stem``.csv, .json)."""
    left, right = st.columns(2)
    left.download_button(f"Download {what}: one row per model (CSV)", csv, file_name=f"{stem}.csv", mime="text/csv",
                         icon=":material/download:")
    right.download_button(f"Download {what}: the whole run (JSON)", run_json, file_name=f"{stem}.json",
                          mime="application/json", icon=":material/download:")


def diverged_warning(points: list[dict], shown: int = 3) -> None:
    """One warning naming the models whose loss diverged (``point["diverged"]`` messages), if any."""
    diverged = [p["diverged"] for p in points if p["diverged"]]
    if diverged:
        st.warning(f"{len(diverged)} model(s) diverged and are left out of the means: " + "; ".join(diverged[:shown])
                   + ("; …" if len(diverged) > shown else ""), icon=":material/warning:")
