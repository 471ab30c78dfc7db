"""Adaptation page: train source-only, adapted and fine-tuned models on the scenario and compare them."""

import streamlit as st

from core.errors import InputError
from core.labs.adaptation import BASELINE, NEGATIVE_TRANSFER_MARGIN, method_label
from core.labs.embedding import PROJECTIONS
from core.metrics.paired import ALPHA
from core.talk.scene_runs import adaptation_key
from core.training.methods import METHODS_BY_NAME
from ui import cached
from ui.charts import show_chart
from ui.live import LIVE_CONTAINER, LiveTraining
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import no_boundaries_reason, scenario_sidebar
from ui.tables import show_table
from ui.widgets import setting_caption

ensure_router()

PAGE = PAGES_BY_PATH["adaptation"]
LAYOUT = [["methods"], ["seeds", "lam", "steps", "lr"]]
label = method_label


def skipped_note(scenario, settings) -> None:
    """Say which chosen methods are left out for want of labelled target samples."""
    _, skipped = settings.methods_to_train(scenario)
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
    show_table(views.table, wide=("transfer",))
    st.caption("Mean ± sd over seeds, in %; Δ in percentage points against source only. Each method is compared "
               f"with source only seed by seed (same data, same initialisation): it is flagged ⚠️ negative transfer "
               f"(row highlighted) when its mean target accuracy is more than {NEGATIVE_TRANSFER_MARGIN * 100:g} "
               f"point(s) below and a one-sided paired t-test rejects “no drop” at p < {ALPHA:g}; a drop the test "
               "cannot tell from seed noise is shown as inconclusive, with its p-value and seed count. "
               f"{len(run.rows)} models trained on {run.trained.device} in {run.train_seconds:.1f} s.")
    if "ot" in run.methods:
        st.caption(f"{label('ot')} fits a rotation, a scale and a translation of the source: the very family the "
                   "sidebar's rotation, shift and scale knobs draw the target from, so its near-perfect accuracy on "
                   "them is expected and says little about shifts outside that family (a warp, concept or prior "
                   "shift).")
    for row in run.rows:
        if row["diverged"]:
            st.warning(row["diverged"], icon=":material/warning:")


def boundary_seed(n_seeds: int) -> int | None:
    """The seed the decision-boundary panels show: each method's median seed (None) or one chosen seed."""
    if n_seeds == 1:
        return None
    options = [None, *range(n_seeds)]
    if st.session_state.get("adapt_boundary_seed", None) not in options:
        st.session_state["adapt_boundary_seed"] = None
    return st.selectbox("Seed shown", options, key="adapt_boundary_seed",
                        format_func=lambda s: "each method's median seed" if s is None else f"seed {s}",
                        help="The table shows means over seeds; the panels show one model per method.")


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


REPLAY_MAX_METHODS = 4


def replay_section(key, run) -> None:
    st.subheader("Watch it learn: a replay of the training")
    if run.replay is None or not run.replay.methods:
        st.info("This run kept no replay (every seed of every method stopped).", icon=":material/info:")
        return
    offered = list(run.replay.methods)
    default = [m for m in (BASELINE, "dann") if m in offered] or offered[:1]
    if any(m not in offered for m in st.session_state.get("adapt_replay_methods", [])):
        del st.session_state["adapt_replay_methods"]
    shown = st.multiselect("Methods in the replay", offered, default=default, format_func=label,
                           max_selections=REPLAY_MAX_METHODS, key="adapt_replay_methods",
                           help="Each panel follows the method's median seed (the one the decision boundaries "
                                "above show) from its initial weights to the last step.")
    if not shown:
        st.info("Choose at least one method to replay.")
        return
    boundaries, features = cached.replay_figures(*key, tuple(shown), run)
    if boundaries is not None:
        show_chart(boundaries, "replay_boundaries")
    show_chart(features, "replay_features")
    replay = run.replay
    st.caption(f"Press ▶ Play or drag the step slider: {len(replay.steps)} snapshots from step 0 to "
               f"{int(replay.steps[-1])}, played in your browser. The features are the last hidden layer on "
               f"{int((replay.points.domain == 0).sum())} source and {int((replay.points.domain == 1).sum())} target "
               "test points, projected by one PCA per method fitted on every step together, so points move rather "
               "than jump; DANN and MMD succeed where the hollow target points land on the filled source points of "
               f"their class. The replay is stored with the run ({replay.n_bytes / 1e6:.2f} MB: "
               + (f"probabilities as bytes on a {len(replay.xs)} × {len(replay.ys)} grid, " if replay.xs is not None
                  else "") + "features as 16-bit floats).")


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Adaptation")
    st.caption("Train source-only, adapted and fine-tuned models on the scenario of the sidebar, every method "
               "on several seeds in one batch, and see where transfer helps and where it turns negative.")
    setting_caption(PAGE, scenario)
    try:
        settings = page_settings(PAGE, LAYOUT, submit=("Train", ":material/model_training:"))
        skipped_note(scenario, settings)
        key = adaptation_key(scenario, settings)
        methods = key[1]
        live = LiveTraining(st.container(key=LIVE_CONTAINER), cached.generate(scenario))
        run = cached.adaptation_run(*key, live)
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
        seed = boundary_seed(run.n_seeds)
        figure = views.boundaries if seed is None else cached.boundary_figure(*key, seed, run)
        show_chart(figure, "decision_boundaries")
        st.caption("Same fixed axes in every panel. Source points filled, target test points hollow (a subsample); "
                   + ("crosses: the source points as optimal transport moved them onto the target. "
                      if "ot" in methods else "") + "Each panel shows one seed, named in its title with its target "
                   "test accuracy: by default the median seed, whose accuracy is the median of the method's seeds "
                   "(the lower middle one for an even count), so that the picture agrees with the table's mean.")

    replay_section(key, run)

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
