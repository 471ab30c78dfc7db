"""Image domains page: digits and their torchvision shifts; CNNs trained source-only, adapted and fine-tuned."""

import streamlit as st

from core.errors import InputError
from core.labs.embedding import PROJECTIONS
from core.labs.image_lab import IMAGE_METHODS, method_label
from core.nn.networks import CONV_CHANNELS
from core.talk.scene_runs import IMAGE_DEFAULTS, image_lab_key
from ui import cached_images
from ui.charts import show_chart
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar
from ui.state import set_scenario
from ui.widgets import run_downloads, saved_form

ensure_router()

SETTINGS_KEY = "image_settings"  # survives page switches (widget keys do not)
DEFAULTS = IMAGE_DEFAULTS
LAMBDAS = [0.0, 0.1, 0.3, 1.0, 3.0, 10.0]


def switch_to_digits(scenario) -> None:
    set_scenario(scenario.with_dataset("digits"))


def settings_form() -> dict:
    """Method settings in a form: nothing retrains until "Train" is pressed."""
    with saved_form("image_settings_form", SETTINGS_KEY, DEFAULTS) as values:
        st.multiselect("Methods", list(IMAGE_METHODS), format_func=method_label, key="img_methods",
                       help="Source only is always trained: it is the pretrained model the others start from "
                            "or are compared with.")
        seeds, steps, lam = st.columns(3)
        seeds.slider("Seeds", 1, 5, key="img_seeds", help="CNNs per method, from different initialisations and "
                     "mini-batches; results show the mean ± sd over seeds.")
        steps.slider("Steps", 100, 1000, step=50, key="img_steps",
                     help="Adam steps of source-only, MMD, DANN and self-training, each on 64 source and 64 "
                          "target images.")
        lam.select_slider("Alignment weight λ", LAMBDAS, key="img_lam", format_func=lambda v: f"{v:g}",
                          help="Weight of the alignment term of MMD, DANN and self-training (0: source only).")
        frozen, epochs = st.columns(2)
        frozen.slider("Frozen convolution blocks (k)", 0, len(CONV_CHANNELS), key="img_frozen",
                      help="Fine-tuning keeps the lowest k convolution blocks of the source CNN frozen and trains "
                           "the layers above; 0 is full fine-tuning.")
        epochs.slider("Fine-tuning epochs", 20, 400, step=20, key="img_epochs",
                      help="Full-batch epochs of feature extraction and fine-tuning on the labelled target images.")
        st.form_submit_button("Train", type="primary", icon=":material/model_training:")
    return values


def results_section(run, views) -> None:
    st.subheader("Accuracy on the target test images")
    st.dataframe(views.table, hide_index=True, width="stretch")
    best = run.best_method()
    delta = next(r["delta_vs_source_only"] for r in run.summary() if r["method"] == best)
    st.caption(f"Mean ± sd over {run.n_seeds} seed(s). Best here: **{run.label(best)}**, {delta * 100:+.1f} "
               f"points against source only. {run.networks.n_models} CNNs trained on {run.device} in "
               f"{run.train_seconds:.1f} s.")
    for note in run.notes:
        st.info(note, icon=":material/info:")
    show_chart(views.accuracy, "image_accuracy")


def misclassified_section(key, run) -> None:
    st.subheader("Misclassified target images")
    if st.session_state.get("img_wrong_method") not in run.methods:
        st.session_state["img_wrong_method"] = "source_only"
    method = st.selectbox("Method", run.methods, format_func=run.label, key="img_wrong_method")
    show_chart(cached_images.misclassified_figure(*key, method, run), "misclassified_digits", width="content")


def embedding_section(key, run) -> None:
    st.subheader("Features by domain and class")
    others = [m for m in run.methods if m != "source_only"]
    if not others:
        st.info("Choose a method besides source only to compare its features with the pretrained CNN's.")
        return
    left, right = st.columns([3, 2])
    if st.session_state.get("img_embed_method") not in others:
        st.session_state["img_embed_method"] = run.best_method() if run.best_method() in others else others[0]
    method = left.selectbox("Compare source only with", others, format_func=run.label, key="img_embed_method")
    projection = right.radio("Projection", list(PROJECTIONS), format_func=PROJECTIONS.get, horizontal=True,
                             index=1, key="img_projection",
                             help="t-SNE keeps neighbourhoods (distances between clusters mean little); PCA is "
                                  "linear and fast.")
    try:
        show_chart(cached_images.embedding_figure(*key, ("source_only", method), projection, run), "image_features")
    except InputError as error:
        st.error(str(error))
        return
    st.caption("Each panel embeds one CNN's last hidden layer (first seed) on the same source and target test "
               "images. Adaptation worked where the target (hollow) lies on the source (filled) of the same class.")


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Image domains")
    st.caption("Handwritten digits (scikit-learn's 8×8 images, upscaled to 16×16) as the source; other digits, "
               "shifted with torchvision, as the target. Small CNNs play the pretrained model, then adapt.")
    if not scenario.is_image:
        st.info(f"This page trains CNNs on images, and the sidebar's dataset is {scenario.dataset}.",
                icon=":material/info:")
        st.button("Switch the dataset to digits", on_click=switch_to_digits, args=(scenario,), type="primary")
        return
    st.subheader("Source and target")
    show_chart(cached_images.gallery_figure(scenario), "digit_gallery", width="content")
    data = cached_images.generate(scenario)
    st.caption(f"{len(data.source_x)} source images; target: {len(data.target_pool_x)} unlabelled pool, "
               f"{len(data.target_labelled_x)} labelled ({scenario.labels_per_class} per class), "
               f"{len(data.target_test_x)} test images (never trained on). The halves never share an image. "
               "Move the sliders under *Covariate shift* in the sidebar: rotation, scale, shift, blur, inverted share, "
               "textured background, noise.")

    values = settings_form()
    try:
        key = image_lab_key(scenario, values)
        run = cached_images.image_lab_run(*key)
        views = cached_images.image_lab_views(*key, run)
    except InputError as error:
        st.error(str(error))
        return
    results_section(run, views)
    st.subheader("Confusion matrices")
    show_chart(views.confusion, "image_confusion")
    st.subheader("Accuracy per class")
    show_chart(views.per_class, "image_per_class_accuracy")
    misclassified_section(key, run)
    embedding_section(key, run)
    run_downloads("the results", views.rows_csv, views.run_json, "image_lab")


main()
