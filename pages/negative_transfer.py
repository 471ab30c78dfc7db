"""Negative transfer page: when does transfer hurt, and do the rules of thumb hold?"""

import streamlit as st

from core.errors import InputError
from core.labs.negative_transfer import RULE_TOLERANCE, SIMILAR_DROP, SMALL_LABELS
from core.scenario import KNOBS_BY_NAME
from core.talk.scene_runs import TRANSFER_DEFAULTS, TRANSFER_SETTINGS, TRANSFER_STRATEGIES, transfer_map_keys
from core.training.finetune import STRATEGIES_BY_NAME
from ui import cached_finetune as cached
from ui.charts import show_chart
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar, stop_unless_points
from ui.widgets import diverged_warning, run_downloads, saved_form

ensure_router()

SETTINGS_KEY = "negative_transfer_settings"  # survives page switches (widget keys do not)
TRANSFER = list(TRANSFER_STRATEGIES)
LABEL_CHOICES = [1, 2, 5, 10, 20, 50, 100]
DEFAULTS = TRANSFER_DEFAULTS
HEADINGS = {"rotation": "Covariate shift: the target rotates", "concept": "Concept shift: the labelling rule changes"}
SETTINGS = TRANSFER_SETTINGS


def label(strategy: str) -> str:
    return STRATEGIES_BY_NAME[strategy].label


def settings_form() -> dict:
    """Strategies, the mapped one, label counts and seeds in a form: nothing retrains until it is submitted."""
    with saved_form("negative_transfer_settings_form", SETTINGS_KEY, DEFAULTS) as values:
        strategies, mapped = st.columns([3, 1])
        strategies.multiselect("Transfer strategies to train", TRANSFER, format_func=label, key="nt_strategies",
                               help="Scratch is always trained: every gain is measured against it, on the same "
                               "labelled samples.")
        mapped.selectbox("Strategy whose gain is mapped", TRANSFER, format_func=label, key="nt_mapped",
                         help="Always trained, even when not chosen on the left.")
        labels, seeds = st.columns([3, 1])
        labels.multiselect("Labelled target samples per class (columns)", LABEL_CHOICES, key="nt_labels")
        seeds.slider("Seeds", 1, 5, key="nt_seeds", help="Per cell; the gain is the mean over seeds of the paired "
                     "difference with scratch.")
        st.form_submit_button("Train the maps", type="primary", icon=":material/model_training:")
    return values


def map_section(scenario, key, mapped) -> None:
    knob, values = key[-2:]
    knob_label = KNOBS_BY_NAME[knob].label
    short = knob_label.split(" (")[0].lower()
    st.subheader(HEADINGS[knob])
    shown = {name: KNOBS_BY_NAME[name].default for name in (knob, "labels_per_class")}  # the map sets both
    others = scenario.replace(**shown).to_query() or "the defaults"
    st.caption(f"Rows: {short} from {values[0]:g} to {values[-1]:g} in {len(values)} steps; every other knob as "
               f"in the sidebar ({others}); the sidebar's {short} is replaced by the rows'.")
    run = cached.finetune_run(*key)
    views = cached.transfer_map_views(*key, mapped, run)
    left, right = st.columns(2)
    show_chart(views.gain, f"transfer_gain_{knob}", left)
    show_chart(views.best, f"best_strategy_{knob}", right)
    st.caption(f"**{label(mapped)} is negative in {views.negative_cells} of {views.cells} cells**: its mean target "
               f"test accuracy there is more than {100 * views.grid.margin:g} point(s) below scratch's (outlined, ✕). "
               f"The rule of thumb holds in {views.rule_holds} of the {views.rule_cells} cells it could be checked "
               f"in. {len(run.points)} models trained as one batch on {run.device} in {run.train_seconds:.1f} s.")
    diverged_warning(run.points)
    st.dataframe(views.rules, hide_index=True, width="stretch",
                 column_config={"advice": st.column_config.TextColumn(width="large")})
    run_downloads(f"the {knob} map", views.points_csv, views.run_json, f"transfer_map_{knob}")


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Negative transfer")
    stop_unless_points(scenario, "Negative transfer")
    st.caption("When does transfer hurt, and do the rules of thumb hold? Each map fine-tunes the chosen strategies "
               "and trains scratch at every shift magnitude (rows) and label count (columns), all in one batch, and "
               "shows where transfer beats training from scratch and where it loses.")
    values = settings_form()
    st.markdown(
        f"**The rules of thumb** (as in the CS231n notes on transfer learning): *small* means at most {SMALL_LABELS} "
        f"labels per class; *similar* means the pretrained source network loses at most {100 * SIMILAR_DROP:g} "
        f"points of its source accuracy on the target; a rule *holds* in a cell when one of the strategies it "
        f"recommends comes within {100 * RULE_TOLERANCE:g} point(s) of the best strategy trained there. Fine-tuning: "
        f"{SETTINGS.epochs} epochs, partial k = {SETTINGS.partial_layers}, L2-SP α = {SETTINGS.l2sp_weight:g} "
        "(the Fine-tuning page's defaults).")
    try:
        for key in transfer_map_keys(scenario, values):
            map_section(scenario, key, values["nt_mapped"])
    except InputError as error:
        st.error(str(error))


main()
