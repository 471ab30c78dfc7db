"""Widgets that pages share: settings forms whose values survive page switches, download buttons."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Mapping

import streamlit as st


@contextlib.contextmanager
def saved_form(form_key: str, settings_key: str, defaults: Mapping[str, Any]) -> Iterator[dict]:
    """An ``st.form`` whose widgets (keyed by ``defaults``' keys) start from the values saved under
    ``settings_key``; yields a dict that holds the submitted values once the ``with`` block ends.

    Streamlit drops a widget's key when its page is left, so the values are saved under a key of
    their own and put back before the widgets are drawn: nothing retrains after a page switch.
    """
    saved = st.session_state.setdefault(settings_key, dict(defaults))
    for key, value in saved.items():
        st.session_state.setdefault(key, value)
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
