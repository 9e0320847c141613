"""Montreal Forced Aligner TextGrids (Sec. II-A/B): the phones tier as a table."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from praatio import textgrid


def read_textgrid(path, tier: str = "phones") -> pd.DataFrame:
    """The ``phones`` (or ``words``) tier of an MFA TextGrid as ``label, start, end`` rows.

    Speaker-prefixed tier names (``"<speaker> - phones"``) are accepted; empty (silence)
    intervals are left out.
    """
    tg = textgrid.openTextgrid(str(Path(path)), includeEmptyIntervals=False)
    names = [n for n in tg.tierNames if n == tier or n.endswith(f" - {tier}")]
    if not names:
        raise ValueError(f"{path}: no '{tier}' tier (tiers: {', '.join(tg.tierNames)})")
    entries = tg.getTier(names[0]).entries
    return pd.DataFrame([(e.label, e.start, e.end) for e in entries], columns=["label", "start", "end"])
