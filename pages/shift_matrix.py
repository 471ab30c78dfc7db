"""Which method for which shift: every method on each kind of shift, each cell tested against source only."""

import streamlit as st

from core.errors import InputError
from core.figures.shift_matrix import matrix_figure, matrix_frame
from core.labs.adaptation import NEGATIVE_TRANSFER_MARGIN, method_label
from core.labs.shift_matrix import CASES_BY_NAME, GAIN, LOSS, SHIFT_CASES
from core.metrics.paired import ALPHA, TEST_NAME
from core.talk.scene_runs import shift_matrix_key
from ui import cached_matrix as cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar
from ui.tables import show_table
from ui.widgets import setting_caption

ensure_router()

PAGE = PAGES_BY_PATH["shift_matrix"]
LAYOUT = [["cases"], ["methods"], ["seeds", "steps"]]


def measured_summary(matrix) -> None:
    """Per kind of shift, the methods whose gain or loss the paired test supports (read off the cells)."""
    lines = []
    for case in matrix.cases:
        cells = matrix.cells[case]
        gains = [method_label(m) for m in matrix.methods if cells[m].verdict == GAIN]
        losses = [method_label(m) for m in matrix.methods if cells[m].verdict == LOSS]
        lines.append(f"- **{CASES_BY_NAME[case].label}** ({CASES_BY_NAME[case].what_changes}): significant gain: "
                     f"{', '.join(gains) or 'none'}; significant loss: {', '.join(losses) or 'none'}.")
    st.markdown("\n".join(lines))


def main() -> None:
    scenario_sidebar()
    st.title("Which method for which shift")
    st.caption("Every method trained on each kind of shift at a stated strength (its own scenario: moons, noise "
               "0.2, 500 + 500 points; the sidebar's scenario is not used here), each kind of shift as one batch. "
               "What the matrix says is what was measured on these scenarios and seeds, nothing more.")
    setting_caption(PAGE, SHIFT_CASES[0].scenario)
    try:
        settings = page_settings(PAGE, LAYOUT, submit=("Train the matrix", ":material/model_training:"))
        key = shift_matrix_key(settings)
        matrix = cached.matrix_run(*key)
    except InputError as error:
        st.error(str(error))
        return
    show_chart(matrix_figure(matrix), "shift_matrix")
    st.caption(f"Each cell is compared with source only seed by seed (same data, same initialisation): ▲ / ▼ when "
               f"the mean change exceeds {100 * NEGATIVE_TRANSFER_MARGIN:g} point(s) and a {TEST_NAME} rejects "
               f"“no change” in that direction at p < {ALPHA:g}; with {matrix.n_seeds} seeds, small changes stay "
               f"unmarked. {len(matrix.cases) * len(matrix.methods) * matrix.n_seeds} models trained in "
               f"{matrix.train_seconds:.1f} s.")
    st.subheader("What the cells say")
    measured_summary(matrix)
    st.caption("A blind spot: each kind of shift is one scenario at one strength; a method's verdict can change "
               "with the strength, the dataset or the steps.")
    show_table(matrix_frame(matrix))
    st.download_button("Download the matrix (JSON)", cached.matrix_json(*key, matrix), file_name="shift_matrix.json",
                       mime="application/json", icon=":material/download:")


main()
