"""Your data page: upload a source and a target table and check how far the target has shifted."""

import json

import streamlit as st

from core.data.tables import LABEL_NAMES, MAX_BYTES, MAX_COLUMNS, MAX_ROWS, detect_label, shared_numeric_columns
from core.errors import InputError
from core.formatting import csv_cell, plain
from ui import cached_check
from ui.charts import show_chart
from ui.router import ensure_router
from ui.sidebar import scenario_without_sidebar
from ui.tables import show_table
from ui.widgets import show_setting

ensure_router()

NO_LABEL = "(none)"
TWO_FILES, ONE_FILE = "Two files: source and target", "One file with a domain column"


def uploaded(label: str, key: str):
    """An uploaded CSV's (name, bytes), or None; the bytes stay in this session's memory only."""
    file = st.file_uploader(label, type=["csv", "tsv", "txt"], key=key,
                            help=f"A table with a header row; at most {MAX_BYTES / 1e6:g} MB, {MAX_COLUMNS} columns "
                                 f"and {MAX_ROWS:,} rows. Delimiters , ; tab | are detected.")
    return None if file is None else (file.name, file.getvalue())


WAITING = "waiting"  # choose_tables: a file is there, a choice about it is not


def choose_tables():
    """The source and target tables the user gave, None while a file is missing, or :data:`WAITING` while the
    domain column of a single file is not chosen yet."""
    mode = st.radio("Your tables", (TWO_FILES, ONE_FILE), horizontal=True, key="check_mode")
    if mode == TWO_FILES:
        left, right = st.columns(2)
        with left:
            source = uploaded("Source CSV (the data the model learned on)", "check_source")
        with right:
            target = uploaded("Target CSV (the new data)", "check_target")
        if source is None or target is None:
            return None
        return cached_check.read_pair(*source, *target)
    single = uploaded("One CSV with both domains", "check_single")
    if single is None:
        return None
    columns = list(cached_check.read_one(*single).frame.columns)
    named = [i for i, name in enumerate(columns) if name.strip().lower() == "domain"]
    column = st.selectbox("Domain column (exactly two values; the first in the file is the source)", columns,
                          index=named[0] if named else None, placeholder="Choose the column that names the domain",
                          key="check_domain")
    if column is None:  # nothing is split, so nothing can be wrong, before the user has chosen
        st.info("Choose the column that tells source rows from target rows.", icon=":material/table_rows:")
        return WAITING
    return cached_check.split(*single, column)


def main() -> None:
    scenario_without_sidebar()  # this page does not use the scenario; a link's bad keys are still said
    st.title("Your data")
    st.caption("Has your new data shifted away from the data your model learned on? Upload both tables and see, "
               "before you train: which features moved, whether the shift is significant, how easily a classifier "
               "tells the tables apart, and what that means for transfer. Files stay in this session's memory.")
    try:
        tables = choose_tables()
    except InputError as error:
        st.error(plain(error))
        return
    if tables is WAITING:
        return
    if tables is None:
        st.info("Upload a source and a target CSV (or one CSV with a domain column) to start.",
                icon=":material/upload_file:")
        return
    source, target = tables
    for table in (source, target):
        for note in table.notes:
            st.info(plain(f"{table.name}: {note}"), icon=":material/info:")
    shared = [c for c in source.frame.columns if c in set(target.frame.columns)]
    with st.form("check_form", border=True):
        detected = detect_label(source, target)
        choice = st.selectbox("Label column", [NO_LABEL] + shared, key="check_label",
                              index=0 if detected is None else 1 + shared.index(detected),
                              help="The class column: never used as a feature. Preselected when a column is named "
                                   f"like a label ({', '.join(LABEL_NAMES)}). With labels in the target too, the "
                                   "check measures the accuracy a source-only model loses there.")
        label = None if choice == NO_LABEL else choice
        numeric = list(shared_numeric_columns(source, target, label))
        features = st.multiselect("Feature columns", numeric, default=numeric, key="check_features",
                                  help="Numeric columns found in both tables.")
        st.form_submit_button("Check", type="primary", icon=":material/troubleshoot:")
    try:
        report, view = cached_check.check(source, target, tuple(features), label)
    except InputError as error:
        st.error(plain(error))
        return
    for note in report.notes[len(source.notes) + len(target.notes):]:
        st.info(plain(note), icon=":material/info:")

    st.subheader("Verdict")
    lines = report.verdict()
    (st.warning if report.needs_attention else st.info)(plain(lines[0]))
    for line in lines[1:]:
        st.markdown(f"- {plain(line)}")
    show_setting(report.transfer_setting().headline(), report.setting_text())
    cards = st.columns(3)
    cards[0].metric("MMD² (biased)", f"{report.mmd2:.4f}", border=True)
    cards[1].metric("Permutation p-value", f"{report.mmd_pvalue:.3f}", border=True,
                    help=f"{report.mmd_permutations} permutations of the pooled rows")
    cards[2].metric("Proxy A-distance", f"{report.proxy_a_distance:.2f} ± {report.proxy_a_distance_std:.2f}",
                    border=True, help=report.proxy_a_classifier)
    figures = cached_check.figures(report, view)
    show_chart(figures.ranking, "feature_ranking")
    show_table(figures.ranking_table, number_formats={"source mean": "%.4g", "target mean": "%.4g",
                                                      "standardised mean difference": "%+.3f", "KS": "%.3f",
                                                      "KS p-value": "%.2e"})
    left, right = st.columns(2)
    show_chart(figures.pca, "pca_view", left)
    if figures.labels is not None:
        show_chart(figures.labels, "label_proportions", right)
    markdown, ranking, everything = st.columns(3)
    markdown.download_button("Download the report (Markdown)", report.to_markdown(),
                             file_name="transferability_check.md", mime="text/markdown", icon=":material/download:")
    ranking_csv = figures.ranking_table.map(csv_cell).to_csv(index=False)  # a feature named =cmd|... stays text
    ranking.download_button("Download the feature ranking (CSV)", ranking_csv,
                            file_name="feature_ranking.csv", mime="text/csv", icon=":material/download:")
    everything.download_button("Download the whole check (JSON)", json.dumps(report.to_json(), indent=2),
                               file_name="transferability_check.json", mime="application/json",
                               icon=":material/download:")


main()
