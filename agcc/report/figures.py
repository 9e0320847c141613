"""Fig. 1 (Sec. II-C) and Fig. 2 (Sec. II-C.2): the paper reads them by eye; here each reading is
measured (a bootstrap interval for Fig. 1, permutation p-values for Fig. 2) and judged."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..clustering import resample, speaker_normalised
from ..corpora import get, pair
from ..plots import lip_column
from ..stats import ALPHA, CANNOT, HOLDS, combine, interval_verdict, p_verdict
from .claims import Claim, _cannot


FIG1_POINTS = ((57, "y"), (48, "x"), (54, "x"))  # the coordinates the paper's Fig. 1 plots


def top_clusters(tokens: pd.DataFrame, labels, vowel: str, n: int = 2) -> list[int]:
    """The ``n`` AG clusters holding most tokens of ``vowel`` in *both* corpora (the larger of the
    two corpora's smaller count first): the clusters notebook 02 draws in Fig. 1."""
    sel = tokens.assign(ag_cluster=np.asarray(labels))[tokens["vowel"] == vowel]
    both = sel.groupby(["ag_cluster", "corpus"]).size().unstack(fill_value=0)
    return [int(c) for c in both.min(axis=1).sort_values(ascending=False).index[:n]]


def _curves(ag: list, index: np.ndarray, n_points: int) -> np.ndarray:
    """(tokens, n_points, 3) resampled Fig. 1 coordinates of the given tokens of ``ag`` (one
    (frames, 24) segment per token)."""
    cols = [lip_column(lm, axis) for lm, axis in FIG1_POINTS]
    if index.size == 0:
        return np.zeros((0, n_points, len(cols)))
    return np.stack([resample(ag[int(i)], n_points)[:, cols] for i in index])


def _rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((a - b) ** 2, axis=-1))


def fig1_consistency(segments, labels, vowels=("a", "i"), *, speaker_norm: str, n_points: int = 10,
                     n_bootstrap: int = 1000, seed: int = 0, min_tokens: int = 2) -> pd.DataFrame:
    """Quantify Fig. 1's reading: "distinct AG patterns across two clusters but similar AG
    patterns from different corpora within the same cluster".

    For each vowel and its two clusters of Fig. 1 (:func:`top_clusters`), the mean curves of
    landmark 57's y and landmarks 48 and 54's x (``n_points`` resampled steps) are computed per
    (corpus, cluster). ``within`` is the RMS distance between the two corpora's mean curves in the
    same cluster (averaged over the two clusters); ``between`` the RMS distance between the two
    clusters' mean curves in the same corpus (averaged over the two corpora), in the coordinates
    the clusters were fitted on (``speaker_norm``, the clustering's ``ag_speaker_norm``:
    :func:`agcc.clustering.speaker_normalised`; inter-eye units for ``none``).
    The claim reads ``between - within > 0``; its 95 % interval comes from ``n_bootstrap``
    resamplings of the tokens within each (corpus, cluster) group (percentile bootstrap).

    The two corpora are the registered pair (:func:`agcc.corpora.pair`). Returns one row per
    vowel: ``clusters`` (1-based), ``CREMA-D tokens`` and ``MSP-IMPROV tokens`` (per cluster),
    ``within``, ``between``, ``difference``, ``ci_low``, ``ci_high``, ``verdict``, ``why``.
    """
    tokens = segments.tokens
    labels = np.asarray(labels)
    ag = speaker_normalised(segments, speaker_norm)
    one, two = pair()
    rng = np.random.default_rng(seed)
    rows = []
    for vowel in vowels:
        clusters = top_clusters(tokens, labels, vowel)
        groups, sizes = {}, {one: [], two: []}
        for cluster in clusters:
            for corpus in (one, two):
                idx = np.flatnonzero((tokens["vowel"] == vowel).to_numpy()
                                     & (tokens["corpus"] == corpus).to_numpy() & (labels == cluster))
                groups[(corpus, cluster)] = _curves(ag, idx, n_points).reshape(idx.size, n_points * len(FIG1_POINTS))
                sizes[corpus].append(str(idx.size))
        row = {"vowel": vowel, "clusters": ", ".join(str(c + 1) for c in clusters),
               f"{get(one).display} tokens": ", ".join(sizes[one]),
               f"{get(two).display} tokens": ", ".join(sizes[two])}
        if len(clusters) < 2 or any(len(g) < min_tokens for g in groups.values()):
            rows.append({**row, "within": np.nan, "between": np.nan, "difference": np.nan,
                         "ci_low": np.nan, "ci_high": np.nan, "verdict": CANNOT,
                         "why": f"fewer than {min_tokens} tokens of a corpus in one of its two clusters"})
            continue
        c1, c2 = clusters[:2]

        def stat(means):
            within = (_rms(means[(one, c1)], means[(two, c1)]) + _rms(means[(one, c2)], means[(two, c2)])) / 2
            between = (_rms(means[(one, c1)], means[(one, c2)]) + _rms(means[(two, c1)], means[(two, c2)])) / 2
            return within, between

        w, b = stat({k: g.mean(axis=0) for k, g in groups.items()})
        # Bootstrap means as multinomial weights @ curves: (n_bootstrap, 30) per group, no copies.
        boot = {k: rng.multinomial(len(g), np.full(len(g), 1 / len(g)), size=n_bootstrap) @ g / len(g)
                for k, g in groups.items()}
        bw, bb = stat(boot)
        low, high = np.percentile(bb - bw, [2.5, 97.5])
        verdict, why = interval_verdict(low, high, n_bootstrap)
        rows.append({**row, "within": w, "between": b, "difference": b - w, "ci_low": low,
                     "ci_high": high, "verdict": verdict, "why": why})
    return pd.DataFrame(rows)


def fig1_claim(consistency: pd.DataFrame | None, why: str = "") -> Claim:
    """Fig. 1's claim, from :func:`fig1_consistency`."""
    claim = ("Distinct AG patterns in two clusters, but similar patterns from the two corpora "
             "within a cluster (/a/ and /i/).")
    criterion = ("RMS distance between the two clusters' mean curves exceeds that between the two "
                 "corpora's curves in the same cluster (95 % bootstrap interval above zero), for "
                 "/a/ and for /i/")
    if consistency is None or consistency.empty:
        return _cannot("F1", "Fig. 1", claim, criterion, "by eye (no number)", why or "no tokens")
    measured = "; ".join(f"/{r.vowel}/ between {r.between:.3f} vs within {r.within:.3f}"
                         if np.isfinite(r.between) else f"/{r.vowel}/ -" for r in consistency.itertuples())
    verdict = combine(consistency["verdict"])
    return Claim("F1", "Fig. 1", claim, criterion, "by eye (no number)", measured, verdict,
                 "; ".join(f"/{r.vowel}/: {r.why}" for r in consistency.itertuples()),
                 detail=consistency)


# ------------------------------------------------------------------------------------------
# Fig. 2
# ------------------------------------------------------------------------------------------
def fig2_claim(summary: pd.DataFrame | None, why: str = "", alpha: float = ALPHA) -> Claim:
    """Fig. 2, "acoustic embeddings often cluster in less number of clusters within each AG
    cluster": per emotion and over all tokens, the mean entropy of an AG cluster's acoustic
    distribution must be lower than under shuffled assignments *and* the NMI higher
    (``association_summary.csv`` of notebook 04)."""
    claim = ("Within each AG cluster the tokens fall in fewer acoustic clusters than chance "
             "(an AG-acoustic association), in every emotion.")
    criterion = f"entropy p < {alpha} and NMI p < {alpha} against shuffled assignments, for all tokens and each emotion"
    if summary is None:
        return _cannot("F2", "Fig. 2", claim, criterion, "by eye (heatmaps)", why)
    rows = []
    for emotion, r in summary.iterrows():
        v1, w1 = p_verdict(r.get("entropy_p"), alpha)
        v2, w2 = p_verdict(r.get("NMI_p"), alpha)
        rows.append({"emotion": emotion, "tokens": int(r.get("tokens", 0)),
                     "effective acoustic clusters": r.get("mean_effective_clusters"),
                     "entropy (bits)": r.get("mean_entropy_bits"),
                     "entropy, shuffled (bits)": r.get("entropy_null_mean_bits"),
                     "entropy p": r.get("entropy_p"), "NMI": r.get("NMI"), "NMI p": r.get("NMI_p"),
                     "verdict": combine([v1, v2]), "why": f"entropy {w1}; NMI {w2}"})
    detail = pd.DataFrame(rows)
    overall = combine(detail["verdict"])
    first = detail.iloc[0]
    measured = (f"{first['emotion']}: {first['effective acoustic clusters']:.1f} effective acoustic "
                f"clusters per AG cluster (entropy {first['entropy (bits)']:.2f} vs "
                f"{first['entropy, shuffled (bits)']:.2f} bits shuffled)")
    failing = detail[detail["verdict"] != HOLDS]["emotion"].tolist()
    why = "every row" if not failing else "not for: " + ", ".join(map(str, failing))
    return Claim("F2", "Fig. 2", claim, criterion, "by eye (heatmaps)", measured, overall, why,
                 detail=detail)
