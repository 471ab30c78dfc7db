"""Cached wrappers of the transferability check (see :mod:`ui.cached`). Uploads are cached in memory only
(``st.cache_data`` without ``persist``): never written to disk."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.data import tables
from core.data.tables import Table
from core.figures import check as check_figures
from core.labs.check import CheckReport, PcaView, check_budget, pca_view, run_check


@st.cache_data(max_entries=8, show_spinner="Reading the files…")
def read_pair(source_name: str, source_bytes: bytes, target_name: str, target_bytes: bytes) -> tuple[Table, Table]:
    """The two uploaded tables, read strictly (:func:`core.data.tables.read_table`)."""
    return tables.read_table(source_bytes, source_name), tables.read_table(target_bytes, target_name)


@st.cache_data(max_entries=8, show_spinner="Reading the file…")
def read_one(name: str, data: bytes) -> Table:
    return tables.read_table(data, name)


@st.cache_data(max_entries=8, show_spinner=False)
def split(name: str, data: bytes, column: str) -> tuple[Table, Table]:
    """One uploaded table split into source and target by a domain column."""
    source, target, *_ = tables.split_by_domain(read_one(name, data), column)
    return source, target


@st.cache_data(max_entries=8, show_spinner="Checking: divergences, permutation test, domain classifiers…")
def check(source: Table, target: Table, features: tuple[str, ...], label: str | None) -> tuple[CheckReport, PcaView]:
    """The check of the chosen columns and the PCA view of both tables."""
    chosen = tables.select(source, target, list(features) or None, label)
    check_budget(len(chosen.source_x), len(chosen.target_x))
    report = run_check(chosen.source_x, chosen.target_x, chosen.features, chosen.source_y, chosen.target_y,
                       chosen.classes, source.notes + target.notes + chosen.notes)
    return report, pca_view(chosen.source_x, chosen.target_x)


@dataclass(frozen=True)
class CheckFigures:
    ranking: go.Figure
    ranking_table: pd.DataFrame
    pca: go.Figure
    labels: go.Figure | None


def figures(report: CheckReport, view: PcaView) -> CheckFigures:
    """The page's figures (a few small ones: built on every run)."""
    table = pd.DataFrame([{"feature": r.feature, "source mean": r.source_mean, "target mean": r.target_mean,
                           "standardised mean difference": r.standardised_mean_difference, "KS": r.ks_statistic,
                           "KS p-value": r.ks_pvalue} for r in report.ranking])
    labels = None if report.source_labels is None and report.target_labels is None else (
        check_figures.labels_figure(report))
    return CheckFigures(check_figures.ranking_figure(report), table, check_figures.pca_figure(view), labels)
