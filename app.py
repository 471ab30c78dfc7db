"""Domain Shift Lab: the router. Pages live in pages/, the engine in core/."""

from pathlib import Path

import streamlit as st

from core.device import configure_threads
from ui.page_registry import PAGES as REGISTERED
from ui.presenter import presenter_controls
from ui.safety import run_safely
from ui.state import PAGE_KEY, presenter_mode
from ui.widgets import count_run

# The tab's icon is a local SVG, sent inline as a data: URL: for a ":material/...:" page_icon the browser fetches
# an SVG from fonts.gstatic.com, and the app must work with no network (issue 19).
FAVICON = Path(__file__).resolve().parent / "ui" / "assets" / "favicon.svg"

configure_threads(default=1)  # sessions share the process: one torch thread each
st.set_page_config(page_title="Domain Shift Lab", page_icon=FAVICON, layout="wide",
                   initial_sidebar_state="collapsed" if presenter_mode() else "auto")

PAGES = [st.Page(entry.file, title=entry.title, icon=entry.icon, default=True) if entry.default else
         st.Page(entry.file, title=entry.title, icon=entry.icon, url_path=entry.url_path) for entry in REGISTERED]
count_run()
# Every page listed: past twelve, Streamlit folds the list behind "View N more" once the sidebar holds
# widgets, which hid pages from a lecturer (and from the browser tests) when the thirteenth arrived.
page = st.navigation(PAGES, expanded=True)
st.session_state[PAGE_KEY] = page.url_path
presenter_controls()
run_safely(page.run, page.title)
