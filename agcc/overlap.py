"""Cross-corpus AG cluster overlap (Sec. II-C.1, Eq. 1, Table I).

Each vowel token of both corpora is assigned an AG cluster; Eq. 1 then compares, cluster by
cluster, the share of each corpus's tokens that fall in it, and averages over the "common"
clusters that pass a 25% threshold. Eq. 1 as printed averages ``min(N1i/N1, N2i/N2) * 100``,
which cannot reproduce Table I (several clusters of one vowel at 60-80%, while the shares of ten
clusters sum to 100%). Table I fits a per-cluster *ratio* of shares ``min(p1, p2) / max(p1, p2)``
instead, and its "All" row fits the mean over clusters at or above 25% (exactly for /a/ and /i/);
see ``shared/notes/formats.md``. Both readings are offered; ``"ratio"`` is the default.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .corpora import pair
from .vocab import TABLE_I_EMOTIONS as EMOTION_ROWS
from .vocab import VOWELS as VOWEL_ORDER

READINGS = ("ratio", "printed")
# Values are compared in percent; a ratio of exactly 1/4 must count as "at the threshold" even
# when floating-point arithmetic lands a hair below 25.
_TOL = 1e-9


@dataclass(frozen=True)
class OverlapResult:
    """Outcome of :func:`cluster_overlap`.

    Attributes
    ----------
    per_cluster : pandas.Series
        Overlap of each cluster in percent, indexed by cluster id, named ``"overlap"``.
    average : float
        Mean of ``per_cluster`` over the kept clusters (Eq. 1's ``Sim``); NaN if none is kept.
    kept : list of int
        Clusters present in both corpora whose value is ``>= threshold * 100``.
    reading : str
        ``"ratio"`` or ``"printed"``.
    threshold : float
        The threshold as a fraction (0.25 in the paper).
    """

    per_cluster: pd.Series
    average: float
    kept: list
    reading: str
    threshold: float


def _as_ids(values, name: str) -> np.ndarray:
    arr = np.asarray(values).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty: the overlap needs at least one token in each corpus")
    return arr.astype(int)


def cluster_overlap(source_clusters, target_clusters, threshold: float = 0.25,
                    reading: str = "ratio", clusters=None) -> OverlapResult:
    """Per-cluster and average AG cluster overlap between two corpora (Eq. 1).

    With ``p1_i = N1i / N1`` and ``p2_i = N2i / N2`` the shares of the source's and the target's
    tokens in cluster ``i``, the per-cluster value (in percent) is

    * ``reading="ratio"`` (default): ``min(p1_i, p2_i) / max(p1_i, p2_i) * 100``, 0 when the
      cluster is absent from either corpus; this fits Table I;
    * ``reading="printed"``: ``min(p1_i, p2_i) * 100``, Eq. 1 as printed.

    The threshold rule is the same for both readings: a cluster is kept when it holds tokens of
    both corpora and its per-cluster value is ``>= threshold * 100`` (a value exactly at the
    threshold is kept, just below is not); ``average`` is the mean over kept clusters. Under the
    printed reading the values sum to at most 100 over all clusters, so their mean cannot exceed
    ``100 / K`` and at most four clusters can reach 25%: with ten clusters the threshold removes
    almost everything, one reason ``"ratio"`` is the default.

    Parameters
    ----------
    source_clusters, target_clusters : array-like of int
        Cluster id of every token of the source (e.g. CREMA-D) and target (e.g. MSP-IMPROV).
    threshold : float
        Fraction in [0, 1]; the paper uses 0.25.
    reading : {"ratio", "printed"}
    clusters : iterable of int, optional
        Every cluster id to report; ids absent from both corpora then appear with 0.

    Returns
    -------
    OverlapResult

    Raises
    ------
    ValueError
        If either side is empty or ``reading`` is unknown.
    """
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {READINGS}, got {reading!r}")
    src = _as_ids(source_clusters, "source_clusters")
    tgt = _as_ids(target_clusters, "target_clusters")
    ids = set(np.unique(src)) | set(np.unique(tgt))
    if clusters is not None:
        ids |= {int(c) for c in clusters}
    index = pd.Index(sorted(int(i) for i in ids), name="cluster")
    p1 = pd.Series(src).value_counts().reindex(index, fill_value=0).to_numpy() / src.size
    p2 = pd.Series(tgt).value_counts().reindex(index, fill_value=0).to_numpy() / tgt.size
    low, high = np.minimum(p1, p2), np.maximum(p1, p2)
    if reading == "ratio":
        # high > 0 wherever low > 0; clusters missing from one side get 0 without a 0/0.
        value = np.divide(low, high, out=np.zeros_like(low), where=low > 0) * 100.0
    else:
        value = low * 100.0
    # "Common" clusters only: a cluster seen in one corpus never counts, even with threshold 0.
    keep = (low > 0) & (value >= threshold * 100.0 - _TOL)
    per_cluster = pd.Series(value, index=index, name="overlap")
    average = float(value[keep].mean()) if keep.any() else float("nan")
    return OverlapResult(per_cluster=per_cluster, average=average,
                         kept=[int(i) for i in index[keep]], reading=reading,
                         threshold=float(threshold))


def _ordered_vowels(present) -> list:
    present = list(dict.fromkeys(present))
    known = [v for v in VOWEL_ORDER if v in present]
    # Vowels outside the paper's six (should not occur) go last rather than vanish silently.
    return known + sorted(v for v in present if v not in VOWEL_ORDER)


def overlap_table(tokens: pd.DataFrame, cluster_col: str = "ag_cluster", by: str = "vowel",
                  source: str | None = None, target: str | None = None, threshold: float = 0.25,
                  reading: str = "ratio", clusters=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table I: per-cluster overlap per vowel, and average overlap per emotion and vowel.

    Parameters
    ----------
    tokens : pandas.DataFrame
        One row per vowel token: ``corpus``, ``by`` (the vowel), ``emotion`` (lowercase) and
        ``cluster_col``.
    source, target : str
        Values of ``corpus`` for the two corpora (default: the registered pair,
        :func:`agcc.corpora.pair`).
    threshold, reading, clusters
        As in :func:`cluster_overlap` (``clusters`` defaults to the ids seen in ``tokens``).

    Returns
    -------
    per_cluster_table : pandas.DataFrame
        Rows ``Cluster_1``.. (cluster id + 1), columns the vowels in Table I's order, values the
        per-cluster overlap over all emotions (NaN for a vowel missing from one corpus).
    average_table : pandas.DataFrame
        Rows ``All``, ``Neutral``, ``Happiness``, ``Anger``, ``Sadness``, columns the vowels,
        values the average overlap on that emotion's tokens only (NaN where a side has none).
    """
    source, target = (given or default for given, default in zip((source, target), pair()))
    extra = () if clusters is None else clusters
    ids = sorted(set(tokens[cluster_col].dropna().astype(int)) | {int(c) for c in extra})
    vowels = _ordered_vowels(tokens[by])
    labels = [f"Cluster_{i + 1}" for i in ids]
    per_cluster = pd.DataFrame(np.nan, index=pd.Index(labels, name="AG Cluster"), columns=vowels)
    rows = [("All", None)] + list(EMOTION_ROWS)
    average = pd.DataFrame(np.nan, index=pd.Index([r for r, _ in rows], name="emotion"),
                           columns=vowels)

    for vowel in vowels:
        of_vowel = tokens[tokens[by] == vowel]
        for row, emotion in rows:
            subset = of_vowel if emotion is None else of_vowel[of_vowel["emotion"] == emotion]
            src = subset.loc[subset["corpus"] == source, cluster_col].dropna()
            tgt = subset.loc[subset["corpus"] == target, cluster_col].dropna()
            if len(src) == 0 or len(tgt) == 0:
                continue  # left NaN: no overlap is defined without tokens on both sides
            result = cluster_overlap(src, tgt, threshold=threshold, reading=reading, clusters=ids)
            average.loc[row, vowel] = result.average
            if emotion is None:
                per_cluster[vowel] = result.per_cluster.reindex(ids).to_numpy()
    return per_cluster, average
