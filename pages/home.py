"""Landing page: what Domain Shift Lab is, and where to go."""

import streamlit as st

from ui.links import scenario_page_link
from ui.router import ensure_router
from ui.state import current_scenario

ensure_router()

st.title("Domain Shift Lab")
st.markdown(
    "Will a model trained on one domain survive on another? Domain Shift Lab makes **transfer "
    "learning and domain adaptation** something you can see: move sliders that shift a synthetic "
    "target domain away from a source domain, and watch what the shift does to the distance "
    "between the domains and to the models trained on them."
)
st.markdown(
    "- **Four kinds of shift**: covariate shift ($P(X)$ moves), concept shift ($P(Y\\mid X)$ changes), "
    "a different label space ($\\mathcal{Y}_S \\neq \\mathcal{Y}_T$) and a different feature space "
    "($\\mathcal{X}_S \\neq \\mathcal{X}_T$), plus prior shift ($P(Y)$ changes).\n"
    "- **Divergences you can trust**: MMD² (biased and unbiased, with a permutation test), the proxy "
    "A-distance of a held-out domain classifier, and the CORAL distance, each computed on the points "
    "you see.\n"
    "- **Transfer in practice**: eight fine-tuning strategies from feature extraction to L2-SP, how many "
    "target labels each saves against training from scratch, where transfer turns negative, and what "
    "a small student keeps of a large teacher.\n"
    "- **Reproducible**: every knob lives in the address bar, so a link reproduces the view, and "
    "`python -m core shift KEY=VALUE ... --json` gives the same numbers on the command line."
)
LINKS = (  # (file, url path, label, icon, what the page answers)
    ("pages/talk_scenes.py", "talk_scenes", "Talk scenes", ":material/co_present:",
     "Giving a talk? Named scenes for each kind of shift, with links that reproduce them, and a presenter mode."),
    ("pages/domain_shift.py", "domain_shift", "Domain shift", ":material/scatter_plot:",
     "How far apart are the domains, and which of the four kinds of shift is it?"),
    ("pages/adaptation.py", "adaptation", "Adaptation", ":material/model_training:",
     "What do source-only, MMD, DANN, CORAL, self-training, optimal transport and fine-tuning make of it?"),
    ("pages/bound.py", "bound", "Ben-David bound", ":material/stacked_line_chart:",
     "Which term of the bound grows as the target moves away?"),
    ("pages/lambda_sweep.py", "lambda_sweep", "MMD vs λ", ":material/tune:",
     "How much alignment is enough, and when does it turn negative?"),
    ("pages/finetune.py", "finetune", "Fine-tuning", ":material/layers:",
     "Which layers to freeze, how many labels transfer saves, what fine-tuning forgets?"),
    ("pages/negative_transfer.py", "negative_transfer", "Negative transfer", ":material/trending_down:",
     "When does transfer hurt, and do the rules of thumb hold?"),
    ("pages/distillation.py", "distillation", "Distillation", ":material/school:",
     "How much of a large teacher can a small student keep?"),
    ("pages/image_domains.py", "image_domains", "Image domains", ":material/image:",
     "Rotated, blurred, inverted or textured digits: what do CNNs, fine-tuning, MMD, DANN and self-training make "
     "of them?"),
    ("pages/your_data.py", "your_data", "Your data", ":material/upload_file:",
     "Has your new table shifted away from the one your model learned on, and is transfer safe?"),
)
scenario = current_scenario()
for path, url_path, label, icon, question in LINKS:
    scenario_page_link(path, url_path, label, icon, scenario)
    st.caption(question)
st.caption("Built with Streamlit, PyTorch, torchvision, scikit-learn and Plotly. Source and target are synthetic "
           "2-D problems (moons, blobs, circles, xor, spirals) so that every shift can be drawn, or scikit-learn's "
           "handwritten digits shifted with torchvision (dataset=digits): nothing is downloaded.")
