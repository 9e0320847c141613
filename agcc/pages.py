"""How the book's pages show tables: as HTML tables with a numbered caption, never as printed
text (a page cuts printed lines at its right edge), verdicts coloured, several small tables side
by side. Used by every chapter and by the replication report (:mod:`agcc.report`).
"""
from __future__ import annotations

import hashlib
from typing import Mapping

import pandas as pd
from IPython.display import HTML

from .stats import CANNOT, FAILS, HOLDS, NOT_SHOWN

_COLOURS = {HOLDS: "#d8f0d8", FAILS: "#f6d5d5", NOT_SHOWN: "#fbeccb", CANNOT: "#e6e6e6",
            # the readings of a paired difference (agcc.ablations.EFFECTS), in the same colours
            "higher": "#d8f0d8", "lower": "#f6d5d5", "no clear difference": "#fbeccb", "no interval": "#e6e6e6"}


def styled(frame: pd.DataFrame, digits: int = 2, *, hide_index: bool = True, column: str = "verdict",
           caption: str = ""):
    """A pandas ``Styler`` for the page: floats with ``digits`` decimals, missing values as "-",
    the ``column`` of verdicts coloured (green holds, red does not hold, amber not shown, grey
    cannot be judged), ``caption`` above it (e.g. "Table 9.1: ..."). The table's HTML id is
    derived from its content, so the output is the same on every run (nbval compares it) and two
    tables of a page never share an id."""
    uid = hashlib.sha1((caption + frame.to_csv()).encode()).hexdigest()[:10]
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    styler = frame.style.set_uuid(uid).format("{:." + str(digits) + "f}", subset=floats, na_rep="-")
    styler = styler.format(na_rep="-", subset=[c for c in frame.columns if c not in floats])
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
    if hide_index:
        styler = styler.hide(axis="index")
    if column in frame.columns:
        styler = styler.map(lambda v: f"background-color: {_COLOURS.get(v, 'white')}", subset=[column])
    if caption:
        styler = styler.set_caption(caption)
    return styler


def table(frame: pd.DataFrame, caption: str, digits: int = 1, *, index: bool = True):
    """A table of a chapter as HTML with its numbered ``caption`` ("Table 6.1: ..."), the index
    shown unless ``index=False``: :func:`styled` for any page of the book."""
    return styled(frame, digits, hide_index=not index, caption=caption)


def row_of_tables(tables: Mapping[str, object], digits: int = 1, hide_index: bool = False):
    """Several tables side by side, each under its title (an IPython ``HTML`` object; the book's
    CSS class ``agcc-row`` lays them out and wraps them on narrow pages). DataFrames are styled
    with :func:`styled`; Stylers are used as given."""
    parts = []
    for title, table in tables.items():
        if isinstance(table, pd.DataFrame):
            table = styled(table, digits, hide_index=hide_index)
        parts.append(f'<div><p class="agcc-title">{title}</p>{table.to_html()}</div>')
    return HTML('<div class="agcc-row">' + "".join(parts) + "</div>")
