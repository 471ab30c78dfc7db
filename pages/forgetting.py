"""Forgetting page: which remedy for forgetting keeps the most of the source for the least of the target?"""

import streamlit as st

from core.errors import InputError
from core.knobs import format_number
from core.labs.forgetting import FREE_MARGIN, REFERENCE, STRENGTH_KNOBS, STRENGTH_SYMBOLS, ForgettingPageSettings
from core.talk.scene_runs import forgetting_key
from core.training.finetune import STRATEGIES_BY_NAME
from ui import cached_forgetting as cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar, stop_unless_points
from ui.tables import show_table
from ui.widgets import diverged_warning, run_downloads, setting_caption

ensure_router()

PAGE = PAGES_BY_PATH["forgetting"]
LAYOUT = [["remedies"], ["labels", "seeds", "epochs"], ["l2sp_weights", "ewc_weights"],
          ["replay_counts", "distill_weights"]]


def losses_explained(settings: ForgettingPageSettings) -> None:
    """Full fine-tuning and each remedy trained: what it does, its strengths here, and its loss."""
    with st.expander("The remedies: what each adds to full fine-tuning, and the loss"):
        st.caption(r"$f_\theta$ is the network, $\theta^S$ the pretrained source weights, $\ell$ the cross-entropy, "
                   r"$(x^L_j, y^L_j)$ the $n_L$ labelled target samples.")
        for name in settings.strategies_to_train():
            strategy = STRATEGIES_BY_NAME[name]
            here = "" if name == REFERENCE else (
                f" — here {STRENGTH_SYMBOLS[name]} = "
                + ", ".join(format_number(v) for v in getattr(settings, STRENGTH_KNOBS[name])))
            st.markdown(f"**{strategy.label}**{here}. {strategy.summary}")
            st.latex(strategy.loss)


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Forgetting")
    stop_unless_points(scenario, "Forgetting")
    st.caption("Which remedy for forgetting keeps the most of the source for the least of the target? A network "
               "pretrained on the labelled source and fully fine-tuned on a few labelled target samples forgets part "
               "of the source. The remedies hold it back, each at several strengths: L2-SP and EWC pull the weights "
               "towards the source's, replay mixes labelled source samples in, and distillation (Learning without "
               "Forgetting) asks the network to keep the source network's answers on unlabelled target points. Every "
               "model trains in one batch. The sidebar's *Target labels per class* is not used here: the form's "
               "count is.")
    setting_caption(PAGE, scenario)
    try:
        settings = page_settings(PAGE, LAYOUT, submit=("Train", ":material/model_training:"))
        key = forgetting_key(scenario, settings)
        run = cached.forgetting_run(*key)
        views = cached.forgetting_views(*key, run)
    except InputError as error:
        st.error(str(error))
        return
    best = views.verdict.best
    (st.success if best is not None and best.exchange.significant else st.info)(
        views.verdict.text, icon=":material/balance:")
    show_chart(views.figure, "forgetting_trade_off")
    st.caption("One panel per remedy. Each marker is a mean over the seeds that trained, its error bars the min to "
               "max: across, the target test accuracy minus the same seed's pretrained network's; up, the accuracy on "
               "the labelled source sample after fine-tuning. A remedy's strengths are joined in order, each labelled. "
               "The dotted lines go through full fine-tuning: a point above the horizontal one kept source accuracy, a "
               f"point left of the vertical one gave up target accuracy. {len(run.points)} models trained as one batch "
               f"on {run.device} in {run.train_seconds:.1f} s.")
    diverged_warning(run.points)

    st.subheader("Every point against full fine-tuning")
    show_table(views.table)
    st.caption("Source kept: the remedy's source accuracy minus full fine-tuning's; target given up: full "
               "fine-tuning's target accuracy minus the remedy's (negative: the remedy gained more); both in points, "
               "means over the seeds where both trained, paired by seed. Kept per point given up: their ratio; a "
               f"point that gives up at most {FREE_MARGIN:g} point gives up none within the noise and ranks above "
               "every point that pays. p: a one-sided paired t-test of “the remedy keeps source accuracy” (none "
               "with one seed); remedies are never tested against each other.")
    losses_explained(settings)
    run_downloads("the forgetting results", views.points_csv, views.run_json, "forgetting")


main()
