"""Landing page: what Domain Shift Lab is, and where to go."""

import streamlit as st

from core.training.finetune import STRATEGIES
from ui.links import scenario_page_link
from ui.page_registry import PAGES
from ui.router import ensure_router
from ui.sidebar import scenario_without_sidebar

ensure_router()

scenario = scenario_without_sidebar()  # a bad key of a link is said above the title, the URL written back
st.title("Domain Shift Lab")
st.markdown(
    "Will a model trained on one domain survive on another? Domain Shift Lab makes **transfer "
    "learning and domain adaptation** something you can see: move sliders that shift a synthetic "
    "target domain away from a source domain, and watch what the shift does to the distance "
    "between the domains and to the models trained on them."
)
st.markdown(
    "- **Four kinds of shift**: covariate shift ($P(X)$ moves, $P(Y\\mid X)$ does not), concept shift "
    "($P(Y\\mid X)$ changes), a different label space ($\\mathcal{Y}_S \\neq \\mathcal{Y}_T$) and a different "
    "feature space ($\\mathcal{X}_S \\neq \\mathcal{X}_T$), plus prior shift ($P(Y)$ changes) and input "
    "transformations (rotate, move or scale the inputs: $P(X)$ and the labelling rule move together).\n"
    "- **Divergences you can trust**: MMD² (biased and unbiased, with a permutation test), the proxy "
    "A-distance of a held-out domain classifier, and the CORAL distance, each computed on the points "
    "you see.\n"
    f"- **Transfer in practice**: {len(STRATEGIES)} fine-tuning strategies from feature extraction to adapters "
    "and self-supervised pretraining, how many target labels each saves against training from scratch, what "
    "fine-tuning forgets of the source and which remedy (L2-SP, EWC, replay, distillation) keeps it, where "
    "transfer turns negative, and what a small student keeps of a large teacher.\n"
    "- **The three transfer settings** of Pan & Yang (2010): each page says whether its models work in the "
    "*inductive* (target labels used), *transductive* (same task, unlabelled target) or *unsupervised* (no labels "
    "at all) setting on your scenario, and what that implies.\n"
    "- **Reproducible**: every knob lives in the address bar, so a link reproduces the view, and "
    "`python -m core shift KEY=VALUE ... --json` gives the same numbers on the command line."
)
for page in PAGES:
    if not page.default:
        scenario_page_link(page, scenario)
        setting = page.setting(scenario)
        st.caption(page.question + ("" if setting is None else f" · *{setting.name}* on this scenario"))
st.caption("Built with Streamlit, PyTorch, torchvision, scikit-learn and Plotly. Source and target are synthetic "
           "2-D problems (moons, blobs, circles, xor, spirals) so that every shift can be drawn, or scikit-learn's "
           "handwritten digits shifted with torchvision (dataset=digits): nothing is downloaded.")
