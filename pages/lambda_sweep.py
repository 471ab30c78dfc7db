"""MMD vs λ page: sweep the alignment weight of MMD or DANN on a log grid and watch transfer help or hurt."""

import json

import pandas as pd
import streamlit as st

from core.errors import InputError
from core.labs.lambda_models import PICK_RULE, selection_rows
from core.labs.model_selection import RBF_CENTRES, WEIGHT_CLIP
from core.metrics.paired import ALPHA
from core.talk.scene_runs import lambda_sweep_key
from ui import cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import no_boundaries_reason, scenario_sidebar
from ui.tables import show_table
from ui.widgets import run_downloads, setting_caption

ensure_router()

PAGE = PAGES_BY_PATH["lambda_sweep"]
LAYOUT = [["method", "count", "seeds", "steps"]]


def inconclusive_note(summary) -> str:
    """The λ whose drop the paired test cannot tell from seed noise, if any."""
    unsure = summary.lambdas[summary.inconclusive]
    if not len(unsure):
        return ""
    return (f"; at λ = {', '.join(f'{v:g}' for v in unsure)} the drop is as large but the test cannot tell it from "
            f"seed noise (inconclusive, not shaded)")


def sweep_section(views, answer, method: str) -> None:
    summary = views.summary
    show_chart(views.chart, f"lambda_sweep_{method}")
    best = summary.lambdas[summary.oracle_best] if summary.oracle_best is not None else None
    st.caption(
        "Lines: mean over seeds; bands: min to max over seeds. λ = 0 (trained exactly like source only) is "
        "drawn apart, at the tick “0” one decade left of the smallest positive λ, with its min-max as an error "
        "bar. Feature MMD² (right axis) is the biased estimate (never negative) between the model's last hidden "
        "layer on source and target test points, Gaussian kernel with the median-heuristic bandwidth. Shaded "
        f"(negative transfer): λ whose mean target accuracy is more than {summary.margin * 100:g} point(s) below "
        f"λ = 0's, seed by seed, with a one-sided paired t-test at p < {ALPHA:g}"
        + inconclusive_note(summary) + f". {len(answer['points'])} models trained as one batch in "
        f"{answer['train_seconds']:.1f} s" + (f"; oracle best λ = {best:g} (chosen on the target test labels, "
                                              "which a practitioner does not have)." if best is not None else "."))
    diverged = int(summary.diverged.sum())
    if diverged:
        st.warning(f"{diverged} of {len(answer['points'])} models diverged (loss NaN or exploded); they are left "
                   "out of the means and bands.", icon=":material/warning:")


def selection_section(views, answer) -> None:
    st.subheader("Choosing λ without target labels")
    selection = answer.get("label_free_selection")
    if not selection or not views.summary.criteria:
        st.info("This sweep has no label-free criteria.", icon=":material/info:")
        return
    validation = selection["validation"]
    if not validation["held_out_source_points"]:
        st.info("No held-out source sample is left (n_source takes every source image), so the label-free "
                "criteria cannot be computed; lower n_source.", icon=":material/info:")
    percent = {name: "{:.1%}" for name in ("criterion's accuracy estimate (1 − risk)", "target test acc. (oracle)",
                                           "cost vs oracle (oracle)")}
    frame = pd.DataFrame(selection_rows(views.summary)).astype({name: float for name in ("λ", *percent)})
    table = frame.style.format({"λ": "{:g}", **percent}, na_rep="—")  # a missing value (NaN) shows as a dash
    show_table(table)
    share = validation["iwv_effective_sample_share"]
    clipped = validation["iwv_clipped_share"]
    weights = ("" if share is None else f" The input weights keep an effective sample of {share:.0%} of the held-out "
               f"points; {clipped:.0%} of them were clipped at {WEIGHT_CLIP:g}.")
    st.caption(
        "The first row is an ORACLE: it picks λ on the target test labels. The others see only what a practitioner "
        f"has: the labelled source, the unlabelled target pool and {validation['held_out_source_points']} held-out "
        "source points that no model trained on. Source validation is their plain error; IWV weights it by the "
        "density ratio p_T(x)/p_S(x) of the inputs (a logistic domain classifier on the inputs and "
        f"{RBF_CENTRES} Gaussian bumps); DEV by each model's density ratio of its own features, with a control "
        f"variate; weights clipped to [0, {WEIGHT_CLIP:g}]. Pick rule: {PICK_RULE}. The last two columns read "
        "the target test labels (oracle): the accuracy each pick gets, and how far it falls below the oracle's."
        + weights + " On the chart above each pick is a hollow marker on the target accuracy line; click a "
        "criterion's legend entry to draw its estimate against λ.")


def animation_section(views, scenario) -> None:
    st.subheader("Decision boundary across λ")
    if views.animation is None:
        st.info(no_boundaries_reason(scenario) + " The sweep above still applies.", icon=":material/info:")
        return
    show_chart(views.animation, "lambda_boundaries")
    st.caption("Press ▶ Play or drag the slider: the browser steps through the frames, one per λ, without "
               "rerunning the page. First seed at each λ; source points filled, target test points hollow "
               "(a subsample), axes fixed.")


def main() -> None:
    scenario = scenario_sidebar()
    st.title("MMD vs λ")
    st.caption("How much alignment is enough? Train MMD or DANN at a whole grid of alignment weights λ, every λ "
               "and seed in one batch, and see target accuracy, source accuracy and the feature-space MMD² move.")
    setting_caption(PAGE, scenario)
    try:
        settings = page_settings(PAGE, LAYOUT, submit=("Train the sweep", ":material/model_training:"))
        method = settings.method
        key = lambda_sweep_key(scenario, settings)
        sweep = cached.lambda_sweep_run(*key)
        views = cached.lambda_views(*key, sweep)
    except InputError as error:
        st.error(str(error))
        return
    answer = sweep[0]
    st.subheader("Accuracy and feature MMD² against λ")
    sweep_section(views, answer, method)
    selection_section(views, answer)
    animation_section(views, scenario)

    st.subheader("What to look for")
    st.markdown(
        "As λ grows the feature MMD² should fall: the network maps source and target onto each other. Target "
        "accuracy rises with it only while the alignment matches *classes* as well as domains; past some λ the "
        "alignment term outweighs the task loss and pulls target points onto the wrong source class, and target "
        "accuracy drops below source-only training (the shaded region), often while the MMD² keeps falling — a "
        "small domain distance is not a good classifier. Source accuracy falling too means the features lost "
        "the class structure. In the animation, watch the boundary follow the target (hollow) points for "
        "moderate λ and tear away from the source classes at large λ; wide bands mean the outcome depends on "
        "the seed (DANN's adversarial game especially).")
    run_downloads("the sweep", views.points_csv, json.dumps(answer, indent=2).encode(), f"lambda_sweep_{method}")


main()
