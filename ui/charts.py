"""Every chart of the app goes through :func:`show_chart`: presenter fonts, and an export of the figure."""

from __future__ import annotations

from functools import partial

import plotly.graph_objects as go
import streamlit as st

from core.figures import export, with_larger_fonts
from ui.presenter import CHART_FONT_SCALE
from ui.state import presenter_mode


def show_chart(figure: go.Figure, name: str, where=st, width: str = "stretch") -> None:
    """Draw ``figure`` in ``where`` (``st``, a column, a container), larger in presenter mode, with an
    *Export* menu under it: PNG where a headless Chrome renders here, interactive HTML always.

    ``name`` is the exported files' stem, unique on its page. Plotly's camera button in the chart's
    toolbar saves a PNG in the browser too, named the same way.
    """
    shown = with_larger_fonts(figure, CHART_FONT_SCALE) if presenter_mode() else figure
    config = {"displaylogo": False, "toImageButtonOptions": {"filename": name, "scale": export.PNG_SCALE}}
    where.plotly_chart(shown, width=width, config=config, key=f"chart_{name}")
    with where.popover("Export", icon=":material/download:"):
        if export.png_renderer():
            st.download_button("PNG image", partial(export.figure_png, shown), file_name=f"{name}.png",
                               mime="image/png", key=f"export_png_{name}", on_click="ignore",
                               icon=":material/image:")
        else:
            st.caption("PNG needs kaleido and a Chrome or Chromium on the server; the chart's camera button "
                       "saves a PNG in your browser.")
        st.download_button("Interactive HTML", partial(export.figure_html, shown), file_name=f"{name}.html",
                           mime="text/html", key=f"export_html_{name}", on_click="ignore", icon=":material/html:")
