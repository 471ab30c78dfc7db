"""Negative transfer page: when does transfer hurt, and do the rules of thumb hold?"""

import streamlit as st

from core.errors import InputError
from core.labs.finetune_runs import strategy_label
from core.labs.negative_transfer import RULE_TOLERANCE, SIMILAR_DROP, SMALL_LABELS
from core.metrics.paired import ALPHA
from core.scenario import KNOBS_BY_NAME
from core.talk.scene_runs import transfer_map_keys
from ui import cached_finetune as cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar, stop_unless_points
from ui.tables import show_table
from ui.widgets import diverged_warning, run_downloads, setting_caption

ensure_router()

PAGE = PAGES_BY_PATH["negative_transfer"]
LAYOUT = [["strategies", "mapped"], ["labels"], ["seeds", "epochs"]]
HEADINGS = {"rotation": "Input transformation: the target rotates, its labelling rule with it",
            "concept": "Concept shift: the labelling rule changes"}
label = strategy_label


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
               f"test accuracy there is more than {100 * views.grid.margin:g} point(s) below scratch's and a one-sided "
               f"paired t-test over the {run.n_seeds} seed(s) supports the drop at p < {ALPHA:g} (outlined, ✕); in "
               f"{views.inconclusive_cells} more the drop is as large but the test cannot tell it from seed noise (?). "
               f"The rule of thumb holds in {views.rule_holds} of the {views.rule_cells} cells it could be checked "
               f"in. {len(run.points)} models trained as one batch on {run.device} in {run.train_seconds:.1f} s.")
    diverged_warning(run.points)
    show_table(views.rules, wide=("advice",))
    run_downloads(f"the {knob} map", views.points_csv, views.run_json, f"transfer_map_{knob}")


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Negative transfer")
    stop_unless_points(scenario, "Negative transfer")
    st.caption("When does transfer hurt, and do the rules of thumb hold? Each map fine-tunes the chosen strategies "
               "and trains scratch at every shift magnitude (rows) and label count (columns), all in one batch, and "
               "shows where transfer beats training from scratch and where it loses.")
    setting_slot = st.container()  # under the title, filled once the form says which strategies train
    try:
        settings = page_settings(PAGE, LAYOUT, submit=("Train the maps", ":material/model_training:"))
    except InputError as error:
        st.error(str(error))
        return
    with setting_slot:
        setting_caption(PAGE, scenario, settings.strategies_to_train())
    engine = settings.finetune_settings()
    st.markdown(
        f"**The rules of thumb** (as in the CS231n notes on transfer learning): *small* means at most {SMALL_LABELS} "
        f"labels per class; *similar* means the pretrained source network loses at most {100 * SIMILAR_DROP:g} "
        f"points of its source accuracy on the target; a rule *holds* in a cell when one of the strategies it "
        f"recommends comes within {100 * RULE_TOLERANCE:g} point(s) of the best strategy trained there. Fine-tuning: "
        f"{engine.epochs} epochs, partial k = {engine.partial_layers}, L2-SP α = {engine.l2sp_weight:g} "
        "(the Fine-tuning page's defaults but the epochs).")
    try:
        for key in transfer_map_keys(scenario, settings):
            map_section(scenario, key, settings.mapped)
    except InputError as error:
        st.error(str(error))

main()
