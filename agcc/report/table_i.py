"""Table I (Sec. II-C.1): this run's cross-corpus AG cluster overlap beside the paper's, and the
paper's claims on it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import paper
from ..vocab import TABLE_I_EMOTIONS, VOWELS
from ..stats import CANNOT, FAILS, HOLDS
from .artifacts import read_csv_artifact
from .claims import Claim, _cannot

HIGH_OVERLAP = 60.0  # "high" overlap in Table I's sense: the paper's shared clusters lie at 60-80 %
EMOTION_ROWS = tuple(row for row, _ in TABLE_I_EMOTIONS)  # Table I's four emotion rows


def read_table_i(paths) -> tuple[pd.DataFrame | None, pd.DataFrame | None, str]:
    """This run's Table I: ``(per_cluster, averages, why)``, vowels as columns (notebook 03)."""
    per, why1 = read_csv_artifact(paths, "table1_per_cluster", index_col=0)
    avg, why2 = read_csv_artifact(paths, "table1_averages", index_col=0)
    return per, avg, "; ".join(w for w in (why1, why2) if w)


def _vowel_columns(frame: pd.DataFrame) -> list[str]:
    return [v for v in VOWELS if v in frame.columns]


def side_by_side(measured: pd.DataFrame, reference: pd.DataFrame, *, digits: int = 1) -> pd.DataFrame:
    """Measured and paper values of two tables with the same row and column labels, with the
    difference measured - paper: columns ``(column, "measured" | "paper" | "measured - paper")``.
    Rows or columns missing from one side are kept, with NaN there."""
    rows = list(dict.fromkeys([*reference.index, *measured.index]))
    cols = list(dict.fromkeys([*reference.columns, *measured.columns]))
    m = measured.reindex(index=rows, columns=cols).astype(float)
    p = reference.reindex(index=rows, columns=cols).astype(float)
    parts = {}
    for c in cols:
        parts[(c, "measured")] = m[c].round(digits)
        parts[(c, "paper")] = p[c].round(digits)
        parts[(c, "measured - paper")] = (m[c] - p[c]).round(digits)
    if digits == 0:  # counts: show them as integers
        parts = {k: v.astype("Int64") for k, v in parts.items()}
    out = pd.DataFrame(parts, index=pd.Index(rows, name=measured.index.name or reference.index.name))
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def ranked_overlap(per_cluster: pd.DataFrame) -> pd.DataFrame:
    """Each vowel's per-cluster overlaps sorted from highest to lowest (rows ``rank 1..K``).

    Cluster numbers are arbitrary labels of two different models, so only ranks correspond
    between this run and the paper: "the vowel's best-shared cluster", "its second", ..."""
    cols = _vowel_columns(per_cluster)
    ranked = {v: np.sort(per_cluster[v].to_numpy(float))[::-1] for v in cols}
    k = len(per_cluster)
    return pd.DataFrame(ranked, index=pd.Index([f"rank {i}" for i in range(1, k + 1)], name="rank"))


def cluster_counts(per_cluster: pd.DataFrame, threshold: float = 25.0,
                   high: float = HIGH_OVERLAP) -> pd.DataFrame:
    """Per vowel: clusters holding tokens of both corpora (overlap > 0), clusters kept by the
    threshold (overlap >= ``threshold`` %), and clusters with high overlap (>= ``high`` %)."""
    cols = _vowel_columns(per_cluster)
    v = per_cluster[cols].astype(float)
    return pd.DataFrame({"in both corpora": (v > 0).sum(), f">= {threshold:g} %": (v >= threshold - 1e-9).sum(),
                         f">= {high:g} %": (v >= high).sum()}).rename_axis("vowel").T


def claim_shared_clusters(averages: pd.DataFrame | None, why: str = "", high: float = HIGH_OVERLAP) -> Claim:
    """Table I, "substantial overlap in certain clusters ... shared articulatory patterns":
    judged by every vowel's "All" average overlap reaching ``high`` %."""
    id_, where = "T1-1", "Table I"
    claim = ("Substantial cross-corpus overlap of AG clusters: shared articulatory patterns for every "
             "vowel (e.g. /a/ in five clusters, most with high overlap).")
    criterion = f"the 'All' average overlap of every vowel is >= {high:g} %"
    _, pavg = paper.table_i()
    paper_value = f"'All' {pavg.loc['All'].min():.1f}-{pavg.loc['All'].max():.1f} %"
    if averages is None or "All" not in averages.index:
        return _cannot(id_, where, claim, criterion, paper_value, why or "no 'All' row")
    row = averages.loc["All", _vowel_columns(averages)].astype(float)
    measured = ", ".join(f"/{v}/ {x:.1f}" for v, x in row.items())
    if row.isna().any() or len(row) < len(VOWELS):
        lacking = [v for v in VOWELS if v not in row.index or not np.isfinite(row.get(v, np.nan))]
        return Claim(id_, where, claim, criterion, paper_value, measured, CANNOT,
                     f"no overlap for /{'/, /'.join(lacking)}/ (no common cluster or no tokens)")
    low = row.idxmin()
    if row.min() >= high:
        return Claim(id_, where, claim, criterion, paper_value, measured, HOLDS,
                     f"lowest: /{low}/ {row.min():.1f} % (descriptive, no interval)")
    return Claim(id_, where, claim, criterion, paper_value, measured, FAILS,
                 f"/{low}/ {row.min():.1f} % < {high:g} % (descriptive, no interval)")


def claim_top_emotions(averages: pd.DataFrame | None, vowel: str, expected: tuple[str, ...],
                       id_: str, why: str = "") -> Claim:
    """Table I, emotion-specific overlap: the ``len(expected)`` emotions with the highest average
    overlap for ``vowel`` are ``expected`` (e.g. /a/: Happiness)."""
    where = "Table I"
    names = " and ".join(expected)
    claim = f"/{vowel}/ overlaps most across corpora for {names}."
    criterion = f"{names} {'is' if len(expected) == 1 else 'are'} the top {len(expected)} of the four emotion rows for /{vowel}/"
    _, pavg = paper.table_i()
    paper_value = ", ".join(f"{e} {pavg.loc[e, vowel]:.1f}" for e in expected)
    if averages is None or vowel not in averages.columns:
        return _cannot(id_, where, claim, criterion, paper_value, why or f"no /{vowel}/ column")
    rows = [e for e in EMOTION_ROWS if e in averages.index]
    col = averages.loc[rows, vowel].astype(float)
    measured = ", ".join(f"{e} {x:.1f}" for e, x in col.items())
    if len(rows) < len(EMOTION_ROWS) or col.isna().any():
        return Claim(id_, where, claim, criterion, paper_value, measured, CANNOT,
                     "an emotion row has no value (no common cluster)")
    top = list(col.sort_values(ascending=False, kind="stable").index[:len(expected)])
    if set(top) == set(expected):
        return Claim(id_, where, claim, criterion, paper_value, measured, HOLDS,
                     f"top: {', '.join(top)} (descriptive, no interval)")
    return Claim(id_, where, claim, criterion, paper_value, measured, FAILS,
                 f"top: {', '.join(top)} (descriptive, no interval)")


def table_i_claims(averages: pd.DataFrame | None, why: str = "") -> list[Claim]:
    """The paper's claims on Table I (Sec. II-C.1)."""
    return [claim_shared_clusters(averages, why),
            claim_top_emotions(averages, "a", ("Happiness",), "T1-2", why),
            claim_top_emotions(averages, "i", ("Happiness", "Anger"), "T1-3", why)]
