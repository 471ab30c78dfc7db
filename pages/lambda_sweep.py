"""MMD vs λ page: sweep the alignment weight of MMD or DANN on a log grid and watch transfer help or hurt."""

import json

import streamlit as st

from core.errors import InputError
from core.metrics.paired import ALPHA
from core.talk.scene_runs import lambda_sweep_key
from ui import cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import no_boundaries_reason, scenario_sidebar
from ui.widgets import run_downloads

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
    best = summary.lambdas[summary.best] if summary.best is not None else None
    st.caption(
        "Lines: mean over seeds; bands: min to max over seeds. λ = 0 (trained exactly like source only) is "
        "drawn apart, at the tick “0” one decade left of the smallest positive λ, with its min-max as an error "
        "bar. Feature MMD² (right axis) is the biased estimate (never negative) between the model's last hidden "
        "layer on source and target test points, Gaussian kernel with the median-heuristic bandwidth. Shaded "
        f"(negative transfer): λ whose mean target accuracy is more than {summary.margin * 100:g} point(s) below "
        f"λ = 0's, seed by seed, with a one-sided paired t-test at p < {ALPHA:g}"
        + inconclusive_note(summary) + f". {len(answer['points'])} models trained as one batch in "
        f"{answer['train_seconds']:.1f} s" + (f"; best λ = {best:g}." if best is not None else "."))
    diverged = int(summary.diverged.sum())
    if diverged:
        st.warning(f"{diverged} of {len(answer['points'])} models diverged (loss NaN or exploded); they are left "
                   "out of the means and bands.", icon=":material/warning:")


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
