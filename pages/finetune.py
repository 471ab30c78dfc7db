"""Fine-tuning page: which layers to freeze, how many labels transfer saves, what fine-tuning forgets."""

import streamlit as st

from core.errors import InputError
from core.labs.finetune_runs import check_labels, pool_scenario
from core.training.finetune import STRATEGIES, STRATEGIES_BY_NAME, FinetuneSettings, parse_strategies
from core.training.methods import ADAPT_METHODS, METHODS_BY_NAME
from ui import cached_finetune as cached
from ui.charts import show_chart
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar, stop_unless_points
from ui.widgets import diverged_warning, run_downloads, saved_form

ensure_router()

SETTINGS_KEY = "finetune_settings"  # survives page switches (widget keys do not)
LABEL_CHOICES = [1, 2, 5, 10, 20, 50, 100]
L2SP_WEIGHTS = [0.0, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
REFERENCE = "scratch"
_DEFAULT = FinetuneSettings()
DEFAULTS = {"ft_strategies": [s.name for s in STRATEGIES], "ft_labels": [1, 2, 5, 10, 20, 50], "ft_seeds": 3,
            "ft_epochs": _DEFAULT.epochs, "ft_partial": _DEFAULT.partial_layers,
            "ft_unfreeze": _DEFAULT.unfreeze_every, "ft_decay": _DEFAULT.discriminative_decay,
            "ft_l2sp": _DEFAULT.l2sp_weight, "ft_adapt": _DEFAULT.adapt_method}


def label(strategy: str) -> str:
    return STRATEGIES_BY_NAME[strategy].label


def settings_form() -> dict:
    """Strategies, label counts and fine-tuning settings in a form: nothing retrains until "Train"."""
    with saved_form("finetune_settings_form", SETTINGS_KEY, DEFAULTS) as values:
        st.multiselect("Strategies", [s.name for s in STRATEGIES], format_func=label, key="ft_strategies",
                       help="Scratch is always trained: it is the reference every strategy is compared with.")
        st.multiselect("Labelled target samples per class", LABEL_CHOICES, key="ft_labels",
                       help="Each count is its own experiment: every strategy is fine-tuned on that many labelled "
                       "target points per class (a seed's larger sets contain its smaller ones).")
        seeds, epochs, partial, unfreeze = st.columns(4)
        seeds.slider("Seeds", 1, 5, key="ft_seeds", help="Pretrained networks, initialisations and labelled "
                     "samples per cell; the bands span the seeds' min to max.")
        epochs.slider("Fine-tuning epochs", 50, 500, step=50, key="ft_epochs",
                      help="Full-batch Adam steps on the labelled target samples (one step per epoch).")
        partial.slider("Partial: top layers trained (k)", 1, _DEFAULT.n_layers, key="ft_partial",
                       help=f"Partial fine-tuning trains the top k of the network's {_DEFAULT.n_layers} layers.")
        unfreeze.slider("Progressive: unfreeze every (epochs)", 5, 100, step=5, key="ft_unfreeze",
                        help="Epochs between unfreezing one layer and the next one down.")
        decay, l2sp, adapt = st.columns(3)
        decay.slider("Discriminative: decay per layer down (δ)", 1.0, 5.0, step=0.1, key="ft_decay",
                     help="Each layer down learns δ times more slowly than the one above (2.6 in ULMFiT).")
        l2sp.select_slider("L2-SP: pull towards the source weights (α)", L2SP_WEIGHTS, key="ft_l2sp",
                           format_func=lambda v: f"{v:g}", help="α = 0 is full fine-tuning; a large α keeps the "
                           "source weights.")
        adapt.selectbox("Adapt, then fine-tune: adaptation method", ADAPT_METHODS, key="ft_adapt",
                        format_func=lambda name: METHODS_BY_NAME[name].label,
                        help="The unsupervised adaptation (source and unlabelled target pool) before fine-tuning.")
        st.form_submit_button("Train", type="primary", icon=":material/model_training:")
    return values


def chosen_strategies(names) -> tuple[str, ...]:
    """The strategies to train in the fixed order, with scratch always in; one-line error when none is chosen."""
    if not names:
        raise InputError("Strategies", "choose at least one (scratch, the reference, is then trained with it)")
    names = parse_strategies(",".join(names), field="Strategies")
    return tuple(s.name for s in STRATEGIES if s.name == REFERENCE or s.name in names)


def setting_of(strategy: str, settings: FinetuneSettings) -> str:
    """The form's setting a strategy uses, for the list of losses."""
    return {"partial": f" — here k = {settings.partial_layers} of L = {settings.n_layers} layers",
            "progressive": f" — here E = {settings.unfreeze_every} epochs",
            "discriminative": f" — here δ = {settings.discriminative_decay:g}",
            "l2sp": f" — here α = {settings.l2sp_weight:g}",
            "adapt_finetune": f" — here {METHODS_BY_NAME[settings.adapt_method].label}"}.get(strategy, "")


def strategies_explained(strategies, settings: FinetuneSettings) -> None:
    with st.expander("The strategies: what trains, and the loss"):
        st.caption(r"$f_\theta$ is the network (layers $1 \dots L$, the head last), $\theta^S$ the pretrained source "
                   r"weights, $\ell$ the cross-entropy, $(x^L_j, y^L_j)$ the $n_L$ labelled target samples, $\eta$ "
                   "the fine-tuning rate.")
        for name in strategies:
            strategy = STRATEGIES_BY_NAME[name]
            st.markdown(f"**{strategy.label}**{setting_of(name, settings)}. {strategy.summary}")
            st.latex(strategy.loss)


def efficiency_section(run, views) -> None:
    st.subheader("Sample efficiency: how many labels does transfer save?")
    show_chart(views.efficiency, "sample_efficiency")
    st.caption(f"Lines: mean over seeds; bands: min to max over {run.n_seeds} seed(s); target test split. The dotted "
               "line is the pretrained source network on the target before any fine-tuning. Click a legend entry to "
               "hide a strategy.")
    if views.labels_needed.empty:
        st.info("Choose a strategy besides scratch to read off how many labels it saves.", icon=":material/info:")
        return
    st.markdown("**Labels per class scratch needs to match each strategy** (columns: the strategy's own labels per "
                "class)")
    st.dataframe(views.labels_needed, hide_index=True, width="stretch")
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
    values = settings_form()
    try:
        strategies = chosen_strategies(values["ft_strategies"])
        labels = check_labels(values["ft_labels"], "Labelled target samples per class")
        settings = FinetuneSettings(epochs=int(values["ft_epochs"]), partial_layers=int(values["ft_partial"]),
                                    unfreeze_every=int(values["ft_unfreeze"]),
                                    discriminative_decay=float(values["ft_decay"]),
                                    l2sp_weight=float(values["ft_l2sp"]), adapt_method=values["ft_adapt"])
        key = (pool_scenario(scenario), strategies, labels, int(values["ft_seeds"]), settings)
        run = cached.finetune_run(*key)
        views = cached.finetune_views(*key, run)
    except InputError as error:
        st.error(str(error))
        return
    strategies_explained(strategies, settings)

    st.subheader("Which layers train, and how fast")
    show_chart(cached.schedule_figure(settings, strategies), "learning_rate_schedules")
    st.caption(f"Rows: the network's {settings.n_layers} layers, the input layer at the bottom; columns: fine-tuning "
               f"epochs. Scratch and a new head learn at {settings.lr:g}, pretrained layers being fine-tuned at "
               f"{settings.finetune_lr:g}; grey cells are frozen (rate 0: the weights do not move). "
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
