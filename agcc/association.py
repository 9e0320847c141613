"""AG-acoustic cluster association (Sec. II-C.2, Fig. 2), with statistics the paper omits.

Fig. 2 shows, per emotion, a heatmap of AG clusters (rows) against acoustic clusters (columns)
and argues by eye that "samples from an AG cluster mostly align with fewer acoustic clusters".
This module builds that contingency table and quantifies the claim: the entropy of each row
(and ``2 ** entropy``, the effective number of acoustic clusters an AG cluster maps to),
normalized mutual information, Cramér's V, and a label-shuffling baseline that says how much of
the apparent concentration chance alone would give. None of these numbers is in the paper.
"""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency
from sklearn.metrics import normalized_mutual_info_score

EMOTION_ORDER = ("neutral", "happiness", "anger", "sadness")
SUMMARY_COLUMNS = ["tokens", "NMI", "NMI_null_mean", "NMI_p", "cramers_v", "mean_entropy_bits",
                   "entropy_null_mean_bits", "entropy_p", "mean_effective_clusters"]
# A permuted statistic equal to the observed one up to rounding is a tie (a permutation that only
# relabels clusters keeps the entropy, but not always bit for bit), and ties count against the data.
_TIE_TOL = 1e-12


def _labels(values) -> np.ndarray:
    arr = np.asarray(values).ravel().astype(int)
    if arr.size and arr.min() < 0:
        raise ValueError("cluster ids must be non-negative integers")
    return arr


def contingency(ag_clusters, acoustic_clusters, n_ag: int | None = None,
                n_acoustic: int | None = None) -> np.ndarray:
    """Token counts per (AG cluster, acoustic cluster), shape (n_ag, n_acoustic): Fig. 2's table.

    ``ag_clusters`` and ``acoustic_clusters`` label the same tokens with ids ``>= 0``; the
    table size defaults to ``max id + 1`` on each side.
    """
    ag, ac = _labels(ag_clusters), _labels(acoustic_clusters)
    if ag.size != ac.size:
        raise ValueError(f"{ag.size} AG labels but {ac.size} acoustic labels")
    n_ag = int(ag.max() + 1 if ag.size else 0) if n_ag is None else int(n_ag)
    n_acoustic = int(ac.max() + 1 if ac.size else 0) if n_acoustic is None else int(n_acoustic)
    if ag.size and (ag.max() >= n_ag or ac.max() >= n_acoustic):
        raise ValueError("a cluster id is outside the requested table size")
    flat = np.bincount(ag * n_acoustic + ac, minlength=n_ag * n_acoustic)
    return flat.reshape(n_ag, n_acoustic)


def row_normalize(table) -> np.ndarray:
    """Each row divided by its sum (Fig. 2's cell values); all-zero rows stay 0, never NaN."""
    table = np.asarray(table, dtype=float)
    sums = table.sum(axis=1, keepdims=True)
    return np.divide(table, sums, out=np.zeros_like(table), where=sums > 0)


def row_entropy(table, base: float = 2) -> np.ndarray:
    """Entropy of each row's distribution over acoustic clusters (bits for ``base=2``): 0 when
    an AG cluster falls in a single acoustic cluster, NaN for an empty row (undefined)."""
    table = np.asarray(table, dtype=float)
    p = row_normalize(table)
    # 0 * log 0 = 0 by convention; the where= keeps log from seeing zeros at all.
    logp = np.log(p, out=np.zeros_like(p), where=p > 0) / np.log(base)
    h = -(p * logp).sum(axis=1) + 0.0  # + 0.0 turns -0.0 into 0.0
    h[table.sum(axis=1) == 0] = np.nan
    return h


def effective_clusters(table, base: float = 2) -> np.ndarray:
    """``base ** entropy`` per row: how many acoustic clusters an AG cluster effectively maps to."""
    return np.power(float(base), row_entropy(table, base=base))


def mean_row_entropy(ag, acoustic, n_ag: int | None = None,
                     n_acoustic: int | None = None) -> float:
    """Row entropies weighted by row counts, in bits (= H(acoustic | AG)); a ``stat`` for
    :func:`shuffle_baseline`. Table sizes do not change the value (empty rows weigh 0)."""
    table = contingency(ag, acoustic, n_ag, n_acoustic)
    counts = table.sum(axis=1)
    if counts.sum() == 0:
        return float("nan")
    return float(np.nansum(row_entropy(table) * counts) / counts.sum())


def normalized_mutual_info(ag, acoustic) -> float:
    """NMI between the two labelings (scikit-learn's arithmetic normalization); 1 = bijection."""
    return float(normalized_mutual_info_score(_labels(ag), _labels(acoustic)))


def cramers_v(table) -> float:
    """Cramér's V, ``sqrt(chi2 / (n * (min(r, c) - 1)))``, without bias correction.

    Empty rows and columns are dropped first (a fixed 10 x 10 table often has unused clusters,
    which would otherwise make the expected counts zero); a table left with a single row or
    column, or no tokens, gives 0.
    """
    table = np.asarray(table, dtype=float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]  # see docstring
    if table.size == 0 or min(table.shape) < 2:
        return 0.0
    # correction=False: Yates' correction (applied to 2x2 by default) is not part of V.
    chi2 = chi2_contingency(table, correction=False)[0]
    return float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))


def shuffle_baseline(ag, acoustic, stat, n_permutations: int = 200, rng=None,
                     greater: bool = True) -> dict:
    """Compare ``stat(ag, acoustic)`` with its distribution when acoustic labels are shuffled.

    Shuffling keeps both marginals (cluster sizes) and destroys only the pairing, so the null
    is "AG and acoustic clusters are unrelated".

    Parameters
    ----------
    ag, acoustic : array-like of int
    stat : callable
        ``stat(ag, acoustic) -> float``, e.g. :func:`normalized_mutual_info`.
    n_permutations : int
    rng : None, int, sequence of int or numpy.random.Generator
    greater : bool
        ``True`` (association measures such as NMI): ``p = (1 + #{null >= observed}) / (1 + n)``.
        ``False`` (entropy, where *lower* than chance is the interesting direction):
        ``p = (1 + #{null <= observed}) / (1 + n)``. Ties within 1e-12 count against the data.

    Returns
    -------
    dict with ``observed``, ``null_mean``, ``null_sd`` (ddof=1) and ``p_value``.
    """
    rng = np.random.default_rng(rng)
    ag, acoustic = _labels(ag), _labels(acoustic)
    observed = float(stat(ag, acoustic))
    null = np.array([stat(ag, rng.permutation(acoustic)) for _ in range(n_permutations)], float)
    tol = _TIE_TOL * max(1.0, abs(observed))
    hits = (null >= observed - tol) if greater else (null <= observed + tol)
    return {"observed": observed, "null_mean": float(null.mean()),
            "null_sd": float(null.std(ddof=1)) if n_permutations > 1 else float("nan"),
            "p_value": float((1 + hits.sum()) / (1 + n_permutations))}


def association_summary(tokens: pd.DataFrame, ag_col: str = "ag_cluster",
                        acoustic_col: str = "acoustic_cluster", n_permutations: int = 200,
                        seed: int = 0) -> pd.DataFrame:
    """One row per emotion (and ``"all"``) of association statistics behind Fig. 2.

    Table sizes come from the whole frame, so every emotion's table has the same shape.
    ``mean_effective_clusters`` weights each AG cluster's ``2 ** entropy`` by its token count,
    as ``mean_entropy_bits`` does. Each row's permutations draw from their own stream, seeded by
    ``seed`` and the row name, so adding an emotion does not change another row.

    Returns
    -------
    pandas.DataFrame
        Index ``emotion`` (``all`` first, then Table I's order, then any other label), columns
        :data:`SUMMARY_COLUMNS`.
    """
    frame = tokens.dropna(subset=[ag_col, acoustic_col])
    if frame.empty:
        raise ValueError(f"no token has both {ag_col!r} and {acoustic_col!r}")
    n_ag, n_ac = int(frame[ag_col].max()) + 1, int(frame[acoustic_col].max()) + 1
    present = list(frame["emotion"].dropna().unique()) if "emotion" in frame else []
    names = ["all"] + [e for e in EMOTION_ORDER if e in present] + sorted(
        (e for e in present if e not in EMOTION_ORDER), key=str)

    rows = {}
    for name in names:
        part = frame if name == "all" else frame[frame["emotion"] == name]
        ag, ac = part[ag_col].to_numpy(int), part[acoustic_col].to_numpy(int)
        seed_row = [seed, zlib.crc32(str(name).encode())]
        nmi = shuffle_baseline(ag, ac, normalized_mutual_info, n_permutations, seed_row)
        ent = shuffle_baseline(ag, ac, mean_row_entropy, n_permutations, seed_row, greater=False)
        table = contingency(ag, ac, n_ag, n_ac)
        counts = table.sum(axis=1)
        eff = float(np.nansum(effective_clusters(table) * counts) / counts.sum())
        rows[name] = [len(part), nmi["observed"], nmi["null_mean"], nmi["p_value"],
                      cramers_v(table), ent["observed"], ent["null_mean"], ent["p_value"], eff]
    return pd.DataFrame.from_dict(rows, orient="index", columns=SUMMARY_COLUMNS).rename_axis(
        "emotion")
