"""Numbers as the app writes them: one place for the rules that keep a printed number honest."""

from __future__ import annotations

import re


def signed(value: float, digits: int = 1) -> str:
    """``value`` with its sign at ``digits`` decimals; one that rounds to zero is ``±0.0``, never ``-0.0``
    (a loss too small to print is not a loss).

    >>> signed(2.345), signed(-0.04), signed(-1.26, 2)
    ('+2.3', '±0.0', '-1.26')
    """
    rounded = round(float(value), digits)
    return f"±{0:.{digits}f}" if rounded == 0 else f"{rounded:+.{digits}f}"


# Markdown's special characters (CommonMark escapes any ASCII punctuation with a backslash), HTML's angle
# brackets and the ampersand of its entities, and the colon of emoji codes such as :material/...:
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting with one of these


def plain(text: object) -> str:
    """``text`` (from a link, a file name, a column name, a cell) made literal for Markdown: line breaks become
    spaces and every character that Markdown or HTML would interpret (links, images, emphasis, tags, tables,
    LaTeX, emoji codes) is escaped by a backslash, so ``st.markdown`` and a Markdown report show it as typed.

    >>> plain("![px](http://x/p.png) <b>")
    '\\\\!\\\\[px\\\\]\\\\(http\\\\://x/p\\\\.png\\\\) \\\\<b\\\\>'
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)))


def csv_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula (``=cmd|...``, ``+``, ``-``, ``@``) made inert by a
    leading apostrophe; other values unchanged."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
