"""Widgets that pages share: the run counter, download buttons, the divergence warning."""

from __future__ import annotations

import streamlit as st

from core.formatting import plain
from ui.state import presenter_mode

RUN_KEY = "script_runs"  # the session's run count, kept by the router (:func:`count_run`)


def link_warnings(problems: list[str]) -> None:
    """One warning per key of a link that was ignored (user text, escaped: :func:`core.formatting.plain`)."""
    for problem in problems:
        st.warning(f"Ignored from the link: {plain(problem)}", icon=":material/link_off:")


def count_run() -> None:
    """Count the session's script runs (the router calls it first on every run)."""
    st.session_state[RUN_KEY] = st.session_state.get(RUN_KEY, 0) + 1


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


def setting_caption(page, scenario, strategies=()) -> None:
    """The page's transfer setting on ``scenario`` (Pan & Yang 2010), under its title; in presenter mode its name
    alone, the reasons in its tooltip, so that the headline stays above a projector's fold. ``strategies``: the
    fine-tuning strategies it trains (self-supervised pretraining starts in the unsupervised setting)."""
    setting = page.setting(scenario, strategies)
    if setting is not None:
        show_setting(setting.headline(), setting.text())


def show_setting(headline: str, text: str) -> None:
    """A transfer setting's caption: its whole ``text``, or in presenter mode its ``headline`` with the text in
    the tooltip."""
    if presenter_mode():
        st.caption(headline, help=text.replace("**", ""))
    else:
        st.caption(text)
