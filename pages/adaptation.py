"""Adaptation page: train source-only, adapted and fine-tuned models on the scenario and compare them."""

import streamlit as st

from core.errors import InputError
from core.labs.adaptation import NEGATIVE_TRANSFER_MARGIN
from core.labs.embedding import PROJECTIONS
from core.talk.scene_runs import ADAPTATION_BASELINE, ADAPTATION_DEFAULTS, adaptation_key, adaptation_methods
from core.training.methods import METHODS, METHODS_BY_NAME
from ui import cached
from ui.charts import show_chart
from ui.router import ensure_router
from ui.sidebar import no_boundaries_reason, scenario_sidebar
from ui.widgets import saved_form

ensure_router()

SETTINGS_KEY = "adaptation_settings"  # survives page switches (widget keys do not)
DEFAULTS = ADAPTATION_DEFAULTS
LAMBDAS = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
BASELINE = ADAPTATION_BASELINE


def label(method: str) -> str:
    return METHODS_BY_NAME[method].label


def settings_form() -> dict:
    """Method settings in a form: nothing retrains until "Train" is pressed."""
    with saved_form("adaptation_settings_form", SETTINGS_KEY, DEFAULTS) as values:
        st.multiselect("Methods", [m.name for m in METHODS], format_func=label, key="adapt_methods",
                       help="Source only is always trained: it is the baseline every method is compared with.")
        seeds, lam, steps = st.columns([2, 3, 3])
        seeds.slider("Seeds", 1, 5, key="adapt_seeds", help="Models per method, from different initialisations "
                     "and mini-batches; results show the mean ± sd over seeds.")
        lam.select_slider("Alignment weight λ", LAMBDAS, key="adapt_lam", format_func=lambda v: f"{v:g}",
                          help="Weight of the alignment term of MMD, DANN, CORAL and self-training; OT moves the "
                          "source min(λ, 1) of the way to the target. λ = 0 gives source-only.")
        steps.slider("Steps", 100, 1000, step=50, key="adapt_steps",
                     help="Adam steps per model, each on a mini-batch of 64 source and 64 target points.")
        st.form_submit_button("Train", type="primary", icon=":material/model_training:")
    return values


def skipped_note(scenario, names) -> None:
    """Say which chosen methods are left out for want of labelled target samples."""
    _, skipped = adaptation_methods(scenario, names)
    if skipped:
        st.info(f"Skipped {', '.join(map(label, skipped))}: they train on labelled target samples, and this "
                "scenario has none (raise *Target labels per class* in the sidebar).", icon=":material/info:")


def methods_explained(methods, lam: float) -> None:
    with st.expander("The methods: losses and what they do"):
        st.caption("g is the feature extractor, h the classifier head, ℓ the cross-entropy; S source, "
                   "T unlabelled target pool, L the few labelled target samples.")
        for name in methods:
            method = METHODS_BY_NAME[name]
            weight = f" — here λ = {lam:g}" if method.aligns else " — no λ"
            st.markdown(f"**{method.label}**{weight}. {method.summary}")
            st.latex(method.loss)


def results_section(run, views) -> None:
    st.subheader("Accuracy on the target test set")
    st.dataframe(views.table, hide_index=True, width="stretch",
                 column_config={"transfer": st.column_config.TextColumn(width="medium")})
    st.caption("Mean ± sd over seeds, in %; Δ in percentage points against source only. A method is flagged "
               f"⚠️ (row highlighted) when its mean target accuracy is more than {NEGATIVE_TRANSFER_MARGIN * 100:g} "
               "point(s) below source only's. "
               f"{len(run.rows)} models trained on {run.trained.device} in {run.train_seconds:.1f} s.")
    for row in run.rows:
        if row["diverged"]:
            st.warning(row["diverged"], icon=":material/warning:")


def embedding_section(key, run) -> None:
    st.subheader("Features before and after adaptation")
    adapted = [m for m in run.methods if m != BASELINE]
    if not adapted:
        st.info("Choose a method besides source only to compare its features with the baseline's.")
        return
    left, right = st.columns([3, 2])
    default = "dann" if "dann" in adapted else adapted[0]
    if st.session_state.get("adapt_embed_method") not in adapted:
        st.session_state["adapt_embed_method"] = default
    method = left.selectbox("Adapted method", adapted, format_func=label, key="adapt_embed_method")
    projection = right.radio("Projection", list(PROJECTIONS), format_func=PROJECTIONS.get, horizontal=True,
                             key="adapt_projection", help="PCA is linear and fast; t-SNE keeps neighbourhoods "
                             "but distances between clusters mean little.")
    try:
        show_chart(cached.embedding_figure(*key, (BASELINE, method), projection, run), "adaptation_features")
    except InputError as error:
        st.error(str(error))
        return
    st.caption("Each panel embeds one model's last hidden layer on the same source and target test points. "
               "Adaptation worked where the target (hollow) lies on the source (filled) of the same class.")


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Adaptation")
    st.caption("Train source-only, adapted and fine-tuned models on the scenario of the sidebar, every method "
               "on several seeds in one batch, and see where transfer helps and where it turns negative.")
    values = settings_form()
    skipped_note(scenario, values["adapt_methods"])
    try:
        key = adaptation_key(scenario, values)
        _, methods, _, settings = key
        run = cached.adaptation_run(*key)
        views = cached.adaptation_views(*key, run)
    except InputError as error:
        st.error(str(error))
        return
    methods_explained(methods, settings.lam)
    results_section(run, views)

    st.subheader("Decision boundaries")
    if views.boundaries is None:
        st.info(no_boundaries_reason(scenario) + " The curves, features and confusion matrices below still apply.",
                icon=":material/info:")
    else:
        show_chart(views.boundaries, "decision_boundaries")
        st.caption("Same fixed axes in every panel. Source points filled, target test points hollow (a subsample); "
                   + ("crosses: the source points as optimal transport moved them onto the target. "
                      if "ot" in methods else "") + "The title gives that seed's target test accuracy.")

    st.subheader("Training")
    show_chart(views.curves, "training_curves")
    st.caption("Alignment term: λ × MMD², λ × CORAL or λ × the pseudo-label loss; for DANN the domain "
               "classifier's cross-entropy (its gradient reaches the features reversed, scaled by λ). DANN's "
               "domain accuracy near 50 % means the classifier can no longer tell the domains apart.")

    embedding_section(key, run)

    st.subheader("Confusion matrices")
    show_chart(views.confusion, "adaptation_confusion")

    left, right = st.columns(2)
    left.download_button("Download the results per model (CSV)", views.rows_csv, file_name="adaptation_results.csv",
                         mime="text/csv", icon=":material/download:")
    right.download_button("Download the run (JSON)", views.run_json, file_name="adaptation_run.json",
                          mime="application/json", icon=":material/download:")


main()
