"""Image domains page: digits and their torchvision shifts; CNNs trained source-only, adapted and fine-tuned."""

import streamlit as st

from core.errors import InputError
from core.formatting import signed
from core.labs.embedding import PROJECTIONS
from core.talk.scene_runs import image_lab_key
from ui import cached_images
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar
from ui.state import set_scenario
from ui.tables import show_table
from ui.widgets import run_downloads, setting_caption

ensure_router()

PAGE = PAGES_BY_PATH["image_domains"]
LAYOUT = [["methods"], ["seeds", "steps", "lam"], ["frozen_blocks", "epochs"]]


def switch_to_digits(scenario) -> None:
    set_scenario(scenario.with_dataset("digits"))


def results_section(run, views) -> None:
    st.subheader("Accuracy on the target test images")
    show_table(views.table)
    best = run.best_method()
    if best is None:
        best_text = "No method besides source only was chosen or trained without diverging."
    else:
        delta = next(r["delta_vs_source_only"] for r in run.summary() if r["method"] == best)
        best_text = (f"Oracle best here: **{run.label(best)}**, {signed(delta * 100)} points against source only "
                     "(an oracle choice: it is picked on the target test labels, which a practitioner does not have).")
    st.caption(f"Mean ± sd over {run.n_seeds} seed(s). {best_text} {run.networks.n_models} CNNs trained on "
               f"{run.device} in {run.train_seconds:.1f} s.")
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
    setting_caption(PAGE, scenario)
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
               "Move the sliders under *Input transformation* in the sidebar: rotation, scale, shift, blur, inverted "
               "share, textured background, noise.")

    try:
        key = image_lab_key(scenario, page_settings(PAGE, LAYOUT, submit=("Train", ":material/model_training:")))
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
