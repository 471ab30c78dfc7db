"""Tables on the pages: an interactive ``st.dataframe``, or in presenter mode an ``st.table``, whose text grows
with the presenter font (a dataframe draws on a canvas that page styles cannot scale)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from ui.state import presenter_mode


def show_table(data: Any, number_formats: Mapping[str, str] | None = None, wide: Sequence[str] = ()) -> None:
    """Draw ``data`` (a frame, a Styler or a dict of columns) without its index.

    ``number_formats`` maps a column to a printf format (``"%.3f"``), used by both kinds of table; ``wide``
    names text columns the dataframe draws wide.
    """
    number_formats = dict(number_formats or {})
    if presenter_mode():
        if not isinstance(data, Styler):
            data = pd.DataFrame(data).style
        if number_formats:
            data = data.format({column: (lambda value, form=form: form % value)
                                for column, form in number_formats.items()}, na_rep="—")
        st.table(data, hide_index=True)
        return
    config = {column: st.column_config.NumberColumn(format=form) for column, form in number_formats.items()}
    config.update({column: st.column_config.TextColumn(width="large") for column in wide})
    st.dataframe(data, hide_index=True, width="stretch", column_config=config or None)
