"""Text from outside (a link, a file name, a column name) shown through Streamlit's markdown as plain text."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def plain(text: str) -> str:
    """``text`` with every character that markdown (links, images, emphasis, HTML, LaTeX, emoji codes) would
    interpret escaped by a backslash, so that ``st.markdown`` and friends show it literally."""
    return _MARKDOWN.sub(r"\\\1", str(text))
