"""Fine-tuning page: which layers to freeze, how many labels transfer saves, what fine-tuning forgets."""

import streamlit as st

from core.errors import InputError
from core.labs.finetune_runs import strategy_label
from core.talk.scene_runs import finetune_key
from core.training.finetune import STRATEGIES_BY_NAME, FinetuneSettings
from core.training.methods import METHODS_BY_NAME
from ui import cached_finetune as cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar, stop_unless_points
from ui.tables import show_table
from ui.widgets import diverged_warning, run_downloads, setting_caption

ensure_router()

PAGE = PAGES_BY_PATH["finetune"]
LAYOUT = [["strategies"], ["labels"], ["seeds", "epochs", "partial_layers", "unfreeze_every"],
          ["discriminative_decay", "l2sp_weight", "adapt_method"],
          ["ewc_weight", "replay_per_class", "distill_weight", "adapter_width"]]
label = strategy_label


def setting_of(strategy: str, settings: FinetuneSettings) -> str:
    """The form's setting a strategy uses, for the list of losses."""
    return {"partial": f" — here k = {settings.partial_layers} of L = {settings.n_layers} layers",
            "progressive": f" — here E = {settings.unfreeze_every} epochs",
            "discriminative": f" — here δ = {settings.discriminative_decay:g}",
            "l2sp": f" — here α = {settings.l2sp_weight:g}",
            "ewc": f" — here λ = {settings.ewc_weight:g}",
            "replay": f" — here k = {settings.replay_per_class}",
            "distill": f" — here β = {settings.distill_weight:g}",
            "adapter": f" — here r = {settings.adapter_width}",
            "adapt_finetune": f" — here {METHODS_BY_NAME[settings.adapt_method].label}"}.get(strategy, "")


def strategies_explained(strategies, settings: FinetuneSettings, trained: dict[str, int]) -> None:
    with st.expander("The strategies: what trains, and the loss"):
        st.caption(r"$f_\theta$ is the network (layers $1 \dots L$, the head last), $\theta^S$ the pretrained source "
                   r"weights, $\ell$ the cross-entropy, $(x^L_j, y^L_j)$ the $n_L$ labelled target samples, $\eta$ "
                   "the fine-tuning rate.")
        for name in strategies:
            strategy = STRATEGIES_BY_NAME[name]
            st.markdown(f"**{strategy.label}**{setting_of(name, settings)}; trains {trained[name]:,} parameters of "
                        f"each network. {strategy.summary}")
            st.latex(strategy.loss)


def efficiency_section(run, views) -> None:
    st.subheader("Sample efficiency: how many labels does transfer save?")
    show_chart(views.efficiency, "sample_efficiency")
    st.caption(f"Lines: mean over seeds; bands: min to max over {run.n_seeds} seed(s); target test split. The dotted "
               "line is the pretrained source network on the target before any fine-tuning. After each name: the "
               "parameters of one network the strategy trains. Click a legend entry to hide a strategy.")
    if views.labels_needed.empty:
        st.info("Choose a strategy besides scratch to read off how many labels it saves.", icon=":material/info:")
        return
    st.markdown("**Labels per class scratch needs to match each strategy** (columns: the strategy's own labels per "
                "class)")
    show_table(views.labels_needed)
    st.caption("Read off scratch's mean accuracy curve: “≈ n” is where it reaches the strategy's mean accuracy, "
               "interpolated linearly in log(labels) between the two label counts it lies between; “≤ n”: scratch "
               "already matches at the smallest count trained; “> n”: scratch does not match it at any count "
               "trained. A cell well above its column's count is the labelling transfer saves.")


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Fine-tuning")
    stop_unless_points(scenario, "Fine-tuning")
    st.caption("Which layers to freeze, how many labels transfer saves, what fine-tuning forgets. A network "
               "pretrained on the labelled source is fine-tuned on a few labelled target samples by each strategy, "
               "every strategy, label count and seed in one batch, and compared with a network trained from scratch "
               "on the same samples. The sidebar's *Target labels per class* is not used here: the form's counts are.")
    setting_slot = st.container()  # under the title, filled once the form says which strategies train
    try:
        key = finetune_key(scenario, page_settings(PAGE, LAYOUT, submit=("Train", ":material/model_training:")))
        strategies, settings = key[1], key[4]
        with setting_slot:
            setting_caption(PAGE, scenario, strategies)
        run = cached.finetune_run(*key)
        views = cached.finetune_views(*key, run)
    except InputError as error:
        st.error(str(error))
        return
    strategies_explained(run.strategies, settings, run.trained_parameters)

    st.subheader("Which layers train, and how fast")
    show_chart(cached.schedule_figure(settings, strategies), "learning_rate_schedules")
    adapters = " and, at the top, the adapters" if any(STRATEGIES_BY_NAME[s].adapters for s in strategies) else ""
    st.caption(f"Rows: the network's {settings.n_layers} layers, the input layer at the bottom{adapters}; columns: "
               f"fine-tuning epochs. Scratch, a new head and new adapters learn at {settings.lr:g}, pretrained layers "
               f"being fine-tuned at {settings.finetune_lr:g}; grey cells are frozen (rate 0: the weights do not "
               "move). "
               f"{len(run.points)} models trained as one batch on {run.device} in {run.train_seconds:.1f} s.")
    diverged_warning(run.points)

    efficiency_section(run, views)

    st.subheader("Forgetting: what does fine-tuning cost on the source?")
    show_chart(views.forgetting, "forgetting")
    st.caption("Accuracy on the labelled source sample after fine-tuning (mean over seeds, band min to max); the "
               "dotted line is the pretrained network before fine-tuning. The gap is what fine-tuning forgot. "
               "Scratch never saw the source: its line is what the target labels alone give there.")

    run_downloads("the fine-tuning results", views.points_csv, views.run_json, "finetune")


main()
