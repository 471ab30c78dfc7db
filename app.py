"""Domain Shift Lab: the router. Pages live in pages/, the engine in core/."""

import streamlit as st

from core.device import configure_threads

configure_threads()
st.set_page_config(page_title="Domain Shift Lab", page_icon="🧭", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/domain_shift.py", title="Domain shift", icon="🔀", url_path="domain-shift"),
]
st.navigation(PAGES).run()
