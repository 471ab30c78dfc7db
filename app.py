"""Domain Shift Lab: the router. Pages live in pages/, the engine in core/."""

import streamlit as st

from core.device import configure_threads
from ui.presenter import presenter_controls
from ui.safety import run_safely
from ui.state import PAGE_KEY, presenter_mode
from ui.widgets import count_run

configure_threads(default=1)  # sessions share the process: one torch thread each
st.set_page_config(page_title="Domain Shift Lab", page_icon=":material/explore:", layout="wide",
                   initial_sidebar_state="collapsed" if presenter_mode() else "auto")

# Each url_path equals its file's stem: Streamlit still scans pages/ at start-up, and a URL
# that differs from the stem shows a "Page not found" dialog on a direct link; each page
# also calls ui.router.ensure_router(), so that a first visit runs through this router.
PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/talk_scenes.py", title="Talk scenes", icon=":material/co_present:", url_path="talk_scenes"),
    st.Page("pages/domain_shift.py", title="Domain shift", icon=":material/scatter_plot:",
            url_path="domain_shift"),
    st.Page("pages/adaptation.py", title="Adaptation", icon=":material/model_training:", url_path="adaptation"),
    st.Page("pages/bound.py", title="Ben-David bound", icon=":material/stacked_line_chart:", url_path="bound"),
    st.Page("pages/lambda_sweep.py", title="MMD vs λ", icon=":material/tune:", url_path="lambda_sweep"),
    st.Page("pages/finetune.py", title="Fine-tuning", icon=":material/layers:", url_path="finetune"),
    st.Page("pages/negative_transfer.py", title="Negative transfer", icon=":material/trending_down:",
            url_path="negative_transfer"),
    st.Page("pages/distillation.py", title="Distillation", icon=":material/school:", url_path="distillation"),
    st.Page("pages/image_domains.py", title="Image domains", icon=":material/image:", url_path="image_domains"),
    st.Page("pages/your_data.py", title="Your data", icon=":material/upload_file:", url_path="your_data"),
]
count_run()
page = st.navigation(PAGES)
st.session_state[PAGE_KEY] = page.url_path
presenter_controls()
run_safely(page.run, page.title)
