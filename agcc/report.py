"""The replication report (notebook 08): every table and figure of the paper beside this run's,
the differences measured - paper, and a verdict on each claim the paper makes about them.

Everything here reads the run's artifacts (``artifacts/<profile>/``, :mod:`agcc.paths`) and the
paper's values (:mod:`agcc.paper`); nothing is copied by hand, so the report is regenerated with
every build and cannot go stale without showing it (:func:`inventory` lists each artifact's
modification time). A missing artifact is never an error: the claims that need it are judged
"cannot be judged on this data", and the inventory says which notebook writes it.

Verdicts (:data:`VERDICTS`)
---------------------------
``holds``
    The stated criterion is met: a difference whose 95 % interval lies above zero, a permutation
    p-value below :data:`ALPHA`, or a descriptive criterion (stated with the claim) met.
``does not hold``
    The interval lies entirely below zero, or the descriptive criterion is not met.
``not shown``
    The interval includes zero (or p >= :data:`ALPHA`): the data cannot tell.
``cannot be judged on this data``
    The artifact is missing, or there is no interval (a single seed, too few tokens).

Paper sections: Table I and Fig. 1 (Sec. II-C.1), Fig. 2 (Sec. II-C.2), Table II (Sec. IV), Fig. 3
(Sec. III).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from . import paper
from .corpora import corpora, cross_directions, get, pair, upper_bound_pairs, within_directions
from .vocab import METRICS, TABLE_I_EMOTIONS, VOWELS
from .experiments import t_interval  # noqa: F401  (re-exported: the report's intervals are the table's)

HOLDS, FAILS, NOT_SHOWN, CANNOT = "holds", "does not hold", "not shown", "cannot be judged on this data"
VERDICTS = (HOLDS, FAILS, NOT_SHOWN, CANNOT)
ALPHA = 0.05
HIGH_OVERLAP = 60.0  # "high" overlap in Table I's sense: the paper's shared clusters lie at 60-80 %
EMOTION_ROWS = tuple(row for row, _ in TABLE_I_EMOTIONS)
MODELS = ("Upper Bound", "Source only", "PA-CC", "LA-CC", "AG-CC", "Hard-AG")
BASELINES = ("PA-CC", "LA-CC", "Hard-AG")  # the paper's comparisons of AG-CC (Table II)
RUNS_COLUMNS = ("model", "direction", "seed", *METRICS, "val_uar", "best_epoch", "wall_s", "gamma")
SUMMARY_COLUMNS = ("model", "direction", "metric", "mean", "ci_low", "ci_high", "n")
PAIRED_COLUMNS = ("baseline", "direction", "metric", "diff_mean", "ci_low", "ci_high", "n")


# ------------------------------------------------------------------------------------------
# Artifacts: what the report reads, who writes it, when it was written
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Artifact:
    """A file of ``artifacts/<profile>/`` that the report reads."""

    name: str
    path: str  # relative to the profile's artifacts folder
    notebooks: tuple[str, ...]  # NN prefixes of the notebooks that write it
    what: str


ARTIFACTS = (
    Artifact("utterances", "tables/utterances.csv", ("01",), "utterances and their splits"),
    Artifact("tokens", "segments/tokens.csv", ("01",), "vowel tokens"),
    Artifact("ag_frames", "segments/ag_frames.npy", ("01",), "AG segments (lip landmarks) of the tokens"),
    Artifact("ag_clusters", "tables/ag_clusters.csv", ("02",), "AG cluster of every token"),
    Artifact("fig1", "figures/fig1_ag_patterns.png", ("02",), "Fig. 1"),
    Artifact("table1_per_cluster", "tables/table1_per_cluster.csv", ("03",), "Table I, per cluster"),
    Artifact("table1_averages", "tables/table1_averages.csv", ("03",), "Table I, averages"),
    Artifact("fig2", "figures/fig2_association.png", ("04",), "Fig. 2"),
    Artifact("association", "tables/association_summary.csv", ("04",), "association statistics (Fig. 2)"),
    Artifact("table_ii_runs", "tables/table_ii_runs.csv", ("05", "06"), "Table II, one row per training run"),
    Artifact("table_ii", "tables/table_ii.csv", ("05", "06"), "Table II, mean and 95 % interval over seeds"),
    Artifact("table_ii_paired", "tables/table_ii_paired.csv", ("05", "06"), "AG-CC minus each baseline, paired by seed"),
    Artifact("fig3", "figures/fig3_architecture.png", ("07",), "Fig. 3"),
)
_BY_NAME = {a.name: a for a in ARTIFACTS}


def artifact(name: str) -> Artifact:
    """The :class:`Artifact` called ``name`` (see :data:`ARTIFACTS`)."""
    return _BY_NAME[name]


def _mtime(path: Path) -> datetime | None:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc) if path.is_file() else None


def _stamp(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def notebooks_named(prefixes: Iterable[str], project_root) -> dict[str, str | None]:
    """Stem of the notebook ``notebooks/NN_*.ipynb`` for each prefix, ``None`` when absent."""
    folder = Path(project_root) / "notebooks"
    found = {}
    for prefix in prefixes:
        hits = sorted(folder.glob(f"{prefix}_*.ipynb"))
        found[prefix] = ", ".join(h.stem for h in hits) if hits else None
    return found


def missing_note(art: Artifact, project_root) -> str:
    """Why an artifact is absent, in words: which notebook writes it and whether that notebook
    exists in this version of the book."""
    names = notebooks_named(art.notebooks, project_root)
    present = [n for n in names.values() if n]
    absent = [p for p, n in names.items() if not n]
    writer = " / ".join(f"notebook {p}" for p in art.notebooks)
    if not present:
        return (f"missing: written by {writer}, which this version of the book does not contain "
                f"(no notebooks/{absent[0]}_*.ipynb)")
    return (f"missing: written by {writer} ({', '.join(present)}); this build did not produce it "
            f"(python -m agcc build --only {' '.join(art.notebooks)})")


def read_run_record(paths) -> tuple[dict | None, datetime | None]:
    """``run.json`` of the profile and its modification time, or ``(None, None)``."""
    path = Path(paths.run_record)
    if not path.is_file():
        return None, None
    try:
        return json.loads(path.read_text()), _mtime(path)
    except (OSError, ValueError):
        return None, _mtime(path)


def run_record_note(record: dict | None, when: datetime | None) -> str:
    """One paragraph (Markdown) on ``run.json``: the build it describes and when it was written."""
    if record is None:
        return ("No `run.json` yet: it is written when `python -m agcc build` finishes, so the first "
                "build (or a notebook executed on its own) has none. The times below are the files' own.")
    nbs = record.get("notebooks", {})
    ran = ", ".join(f"{k} ({v.get('wall_s', float('nan')):.0f} s)" for k, v in nbs.items()) or "none"
    book = "with" if record.get("index_html") else "without"
    return (f"`run.json` was written at **{_stamp(when)}** by a build of profile "
            f"`{record.get('profile', '?')}` {book} the HTML book; it executed {ran}. The runner "
            "writes it when a build finishes, so while this report executes it describes the "
            "*previous* build: an artifact modified after it comes from this build.")


def inventory(paths, project_root, run_time: datetime | None = None) -> pd.DataFrame:
    """One row per artifact the report reads: who writes it, whether it is present, its
    modification time, and a note (why it is missing, or that it predates an artifact it is
    computed from, a sign that it is stale).

    ``run_time`` is the modification time of ``run.json``; a present artifact is marked as
    written before or after it.
    """
    root = Path(paths.root)
    times = {a.name: _mtime(root / a.path) for a in ARTIFACTS}
    rows = []
    for art in ARTIFACTS:
        when = times[art.name]
        if when is None:
            note = missing_note(art, project_root)
        else:
            upstream = [(times[u.name], u.path) for u in ARTIFACTS
                        if times[u.name] and min(u.notebooks) < min(art.notebooks)]
            newer = [p for t, p in upstream if (t - when).total_seconds() > 1.0]
            note = (f"older than {', '.join(newer)} that it is computed from: may be stale"
                    if newer else "")
        if when and run_time:
            rel = "after run.json" if when >= run_time else "before run.json"
        else:
            rel = ""
        rows.append({"artifact": art.path, "what": art.what,
                     "notebook": " / ".join(art.notebooks), "present": "yes" if when else "no",
                     "note": note, "modified (UTC)": _stamp(when).replace(" UTC", ""),
                     "vs. run.json": rel})
    return pd.DataFrame(rows)


def is_simulated(params: Mapping) -> bool:
    """Whether either corpus of the run is simulated (no real root given)."""
    return not all(params.get(c.root_param) for c in corpora())


def data_note(params: Mapping, utterances: pd.DataFrame | None = None) -> str:
    """What the run's data are and what they can and cannot show (Markdown)."""
    sizes = ""
    if utterances is not None and len(utterances):
        counts = utterances.groupby("corpus").size()
        sizes = " (" + ", ".join(f"{c}: {n} utterances" for c, n in counts.items()) + ")"
    profile = params.get("profile", "?")
    if not is_simulated(params):
        text = (f"**Data: the real corpora**{sizes}, profile `{profile}`. The measured values below "
                "are this book's replication of the paper on CREMA-D and MSP-IMPROV, under the "
                "choices listed in the replication notes; differences from the paper come from "
                "those choices, from the seeds, and from what the paper does not say.")
    else:
        text = (f"**Data: simulated corpora**{sizes}, profile `{profile}`. The corpora were "
                "generated by this book's articulatory model and formant synthesizer in the real "
                "corpora's file formats (see *The simulated corpora*). What this **can** show: "
                "whether the pipeline runs end to end, and whether the method behaves as the paper "
                "claims under a known generative model in which mouth gestures shape the sound and "
                "the two corpora differ in speakers, emotional intensity and recording channel. "
                "What it **cannot** show: whether the paper's numbers hold on CREMA-D and "
                "MSP-IMPROV. The simulator was not fitted to the real corpora, so the differences "
                "measured - paper below measure how far a simulation is from real data, not a "
                "replication error, and a verdict here is a verdict about the method on "
                "simulated data.")
    if profile == "smoke":
        text += ("\n\n**Smoke profile**: a few dozen utterances, a handful of clusters and one "
                 "training seed. The numbers only prove that the code runs; most comparisons have "
                 "no interval and are marked *cannot be judged*.")
    return text


def read_csv_artifact(paths, name: str, columns: Iterable[str] = (), **kwargs) -> tuple[pd.DataFrame | None, str]:
    """Read a CSV artifact; returns ``(frame, "")`` or ``(None, why)`` when it is missing or lacks
    one of ``columns``."""
    art = artifact(name)
    path = Path(paths.root) / art.path
    if not path.is_file():
        return None, f"{art.path} missing (written by notebook {' / '.join(art.notebooks)})"
    frame = pd.read_csv(path, **kwargs)
    lacking = [c for c in columns if c not in frame.columns]
    if lacking:
        return None, f"{art.path} lacks the column(s) {', '.join(lacking)}"
    return frame, ""


# ------------------------------------------------------------------------------------------
# Verdict logic
# ------------------------------------------------------------------------------------------
def _finite(*values) -> bool:
    return all(v is not None and isinstance(v, (int, float, np.floating, np.integer))
               and math.isfinite(float(v)) for v in values)


def interval_verdict(low, high, n, *, min_n: int = 2) -> tuple[str, str]:
    """Verdict on "the difference is positive" from its 95 % interval ``[low, high]`` over ``n``
    paired units (seeds, bootstrap draws): ``(verdict, why)``."""
    if not _finite(n) or int(n) < min_n:
        return CANNOT, f"n = {int(n) if _finite(n) else '?'}: no interval"
    if not _finite(low, high):
        return CANNOT, "no finite interval"
    if low > 0:
        return HOLDS, f"95 % interval [{low:+.2f}, {high:+.2f}] above zero"
    if high < 0:
        return FAILS, f"95 % interval [{low:+.2f}, {high:+.2f}] below zero"
    return NOT_SHOWN, f"95 % interval [{low:+.2f}, {high:+.2f}] includes zero"


def p_verdict(p, alpha: float = ALPHA) -> tuple[str, str]:
    """Verdict from a one-sided p-value: ``holds`` below ``alpha``, else ``not shown``."""
    if not _finite(p):
        return CANNOT, "no p-value"
    return (HOLDS, f"p = {p:.3f} < {alpha}") if p < alpha else (NOT_SHOWN, f"p = {p:.3f} >= {alpha}")


def combine(verdicts: Iterable[str]) -> str:
    """Verdict on a claim made of several comparisons: any ``does not hold`` -> does not hold;
    else any ``cannot be judged`` -> cannot be judged; else any ``not shown`` -> not shown;
    else holds. No comparison at all -> cannot be judged."""
    verdicts = list(verdicts)
    if not verdicts:
        return CANNOT
    for v in (FAILS, CANNOT, NOT_SHOWN):
        if v in verdicts:
            return v
    return HOLDS


def welch_interval(a, b, conf: float = 0.95) -> tuple[float, float, float, int]:
    """Difference of means ``mean(a) - mean(b)`` with Welch's t interval (unpaired):
    ``(diff, low, high, min(n_a, n_b))``; NaN bounds when either side has fewer than two values."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return float("nan"), float("nan"), float("nan"), 0
    diff = float(a.mean() - b.mean())
    n = int(min(a.size, b.size))
    if n < 2:
        return diff, float("nan"), float("nan"), n
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff, n
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + conf / 2, dof) * se)
    return diff, diff - half, diff + half, n


@dataclass
class Claim:
    """One claim of the paper and its verdict on this run."""

    id: str
    where: str  # table or figure of the paper
    claim: str  # the paper's statement, in short
    criterion: str  # how this report judges it
    paper: str  # the paper's own number(s)
    measured: str  # this run's number(s)
    verdict: str
    why: str
    detail: pd.DataFrame | None = field(default=None, repr=False)


def claims_table(claims: Iterable[Claim]) -> pd.DataFrame:
    """The claims as one table (no detail frames)."""
    rows = [{"id": c.id, "where": c.where, "claim (paper)": c.claim, "criterion": c.criterion,
             "paper": c.paper, "measured": c.measured, "verdict": c.verdict, "why": c.why}
            for c in claims]
    return pd.DataFrame(rows, columns=["id", "where", "claim (paper)", "criterion", "paper",
                                       "measured", "verdict", "why"])


def _cannot(id_, where, claim, criterion, paper_value, why) -> Claim:
    return Claim(id_, where, claim, criterion, paper_value, "", CANNOT, why)


# ------------------------------------------------------------------------------------------
# Table I
# ------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------
# Fig. 1
# ------------------------------------------------------------------------------------------
FIG1_POINTS = ((57, "y"), (48, "x"), (54, "x"))  # the coordinates the paper's Fig. 1 plots


def top_clusters(tokens: pd.DataFrame, labels, vowel: str, n: int = 2) -> list[int]:
    """The ``n`` AG clusters holding most tokens of ``vowel`` in *both* corpora (the larger of the
    two corpora's smaller count first): the clusters notebook 02 draws in Fig. 1."""
    sel = tokens.assign(ag_cluster=np.asarray(labels))[tokens["vowel"] == vowel]
    both = sel.groupby(["ag_cluster", "corpus"]).size().unstack(fill_value=0)
    return [int(c) for c in both.min(axis=1).sort_values(ascending=False).index[:n]]


def _curves(segments, index: np.ndarray, n_points: int) -> np.ndarray:
    """(tokens, n_points, 3) resampled Fig. 1 coordinates of the given tokens."""
    from .clustering import resample
    from .plots import lip_column

    cols = [lip_column(lm, axis) for lm, axis in FIG1_POINTS]
    if index.size == 0:
        return np.zeros((0, n_points, len(cols)))
    return np.stack([resample(segments.ag(int(i)), n_points)[:, cols] for i in index])


def _rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((a - b) ** 2, axis=-1))


def fig1_consistency(segments, labels, vowels=("a", "i"), *, n_points: int = 10,
                     n_bootstrap: int = 1000, seed: int = 0, min_tokens: int = 2) -> pd.DataFrame:
    """Quantify Fig. 1's reading: "distinct AG patterns across two clusters but similar AG
    patterns from different corpora within the same cluster".

    For each vowel and its two clusters of Fig. 1 (:func:`top_clusters`), the mean curves of
    landmark 57's y and landmarks 48 and 54's x (``n_points`` resampled steps) are computed per
    (corpus, cluster). ``within`` is the RMS distance between the two corpora's mean curves in the
    same cluster (averaged over the two clusters); ``between`` the RMS distance between the two
    clusters' mean curves in the same corpus (averaged over the two corpora), in inter-eye units.
    The claim reads ``between - within > 0``; its 95 % interval comes from ``n_bootstrap``
    resamplings of the tokens within each (corpus, cluster) group (percentile bootstrap).

    The two corpora are the registered pair (:func:`agcc.corpora.pair`). Returns one row per
    vowel: ``clusters`` (1-based), ``CREMA-D tokens`` and ``MSP-IMPROV tokens`` (per cluster), ``within``, ``between``, ``difference``, ``ci_low``, ``ci_high``,
    ``verdict``, ``why``.
    """
    tokens = segments.tokens
    labels = np.asarray(labels)
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
                groups[(corpus, cluster)] = _curves(segments, idx, n_points).reshape(idx.size, n_points * len(FIG1_POINTS))
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


# ------------------------------------------------------------------------------------------
# Table II
# ------------------------------------------------------------------------------------------
@dataclass
class TableII:
    """The Table II artifacts of notebooks 05-06 (each ``None`` when missing) and why."""

    runs: pd.DataFrame | None
    summary: pd.DataFrame | None
    paired: pd.DataFrame | None
    why: dict


def read_table_ii(paths) -> TableII:
    """Read ``table_ii_runs.csv``, ``table_ii.csv`` and ``table_ii_paired.csv``."""
    runs, w1 = read_csv_artifact(paths, "table_ii_runs", RUNS_COLUMNS[:3] + METRICS)
    summary, w2 = read_csv_artifact(paths, "table_ii", SUMMARY_COLUMNS)
    paired, w3 = read_csv_artifact(paths, "table_ii_paired", PAIRED_COLUMNS)
    return TableII(runs, summary, paired, {"runs": w1, "summary": w2, "paired": w3})


def _row_order(frame: pd.DataFrame) -> pd.DataFrame:
    rank = {m: i for i, m in enumerate(MODELS)}
    order = {d: i for i, d in enumerate(within_directions() + cross_directions())}
    key = frame["model"].map(lambda m: rank.get(m, len(rank))) * 10 + frame["direction"].map(
        lambda d: order.get(d, 9))
    return frame.assign(_k=key).sort_values(["_k", "model", "direction"]).drop(columns="_k")


def table_ii_long(summary: pd.DataFrame | None) -> pd.DataFrame:
    """Measured and paper value of every Table II cell: columns ``model, direction, metric, n,
    mean, ci_low, ci_high, paper, measured - paper, paper in interval``. Cells of the paper that
    this run lacks appear with NaN measured values; cells this run adds (e.g. "Source only")
    with NaN paper values."""
    ref = paper.table_ii().reset_index().melt(id_vars=["model", "direction"], var_name="metric",
                                              value_name="paper")
    if summary is None:
        summary = pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    out = summary[list(SUMMARY_COLUMNS)].merge(ref, on=["model", "direction", "metric"], how="outer")
    out["measured - paper"] = out["mean"] - out["paper"]
    known = out[["ci_low", "ci_high", "paper"]].notna().all(axis=1)
    bounds = out[["ci_low", "paper", "ci_high"]].astype(float).fillna(0.0)
    inside = (bounds["ci_low"] <= bounds["paper"]) & (bounds["paper"] <= bounds["ci_high"])
    out["paper in interval"] = np.where(known, np.where(inside, "yes", "no"), "")
    out["metric"] = pd.Categorical(out["metric"], METRICS, ordered=True)
    return _row_order(out.sort_values("metric")).reset_index(drop=True)


def table_ii_wide(long: pd.DataFrame, what: str = "measured", digits: int = 2) -> pd.DataFrame:
    """Table II laid out as the paper's (rows model x direction, columns the five metrics).

    ``what``: ``"measured"`` (``mean [low, high]``), ``"paper"`` or ``"delta"`` (measured - paper)."""
    def cell(r):
        if what == "paper":
            return "" if pd.isna(r["paper"]) else f"{r['paper']:.{digits}f}"
        if what == "delta":
            return "" if pd.isna(r["measured - paper"]) else f"{r['measured - paper']:+.{digits}f}"
        if pd.isna(r["mean"]):
            return "not run"
        if pd.isna(r["ci_low"]) or pd.isna(r["ci_high"]):
            return f"{r['mean']:.{digits}f} (n = {int(r['n'])})"
        return f"{r['mean']:.{digits}f} [{r['ci_low']:.{digits}f}, {r['ci_high']:.{digits}f}]"

    if long.empty:
        return pd.DataFrame(columns=list(METRICS))
    frame = long.assign(cell=long.apply(cell, axis=1))
    wide = frame.pivot_table(index=["model", "direction"], columns="metric", values="cell",
                             aggfunc="first", observed=False)
    wide = wide.reindex(columns=[m for m in METRICS if m in wide.columns])
    order = _row_order(wide.reset_index()[["model", "direction"]])
    return wide.reindex(pd.MultiIndex.from_frame(order)).fillna("")


def paper_difference(baseline: str, direction: str, metric: str, model: str = "AG-CC") -> float:
    """``model - baseline`` in the paper's Table II (NaN when a cell is absent)."""
    t = paper.table_ii()
    try:
        return float(t.loc[(model, direction), metric] - t.loc[(baseline, direction), metric])
    except KeyError:
        return float("nan")


def paired_comparisons(paired: pd.DataFrame | None, baselines=BASELINES, directions=None,
                       metrics=METRICS) -> pd.DataFrame:
    """AG-CC minus each baseline per direction and metric: measured mean difference and interval
    (from ``table_ii_paired.csv``), the paper's difference, and a verdict on "AG-CC is better"."""
    rows = []
    for baseline in baselines:
        for direction in cross_directions() if directions is None else directions:
            for metric in metrics:
                r = None
                if paired is not None:
                    hit = paired[(paired["baseline"] == baseline) & (paired["direction"] == direction)
                                 & (paired["metric"] == metric)]
                    r = hit.iloc[0] if len(hit) else None
                if r is None:
                    verdict, why = CANNOT, ("table_ii_paired.csv missing" if paired is None
                                            else "no such row in table_ii_paired.csv")
                    diff = low = high = n = np.nan
                else:
                    diff, low, high, n = (float(r["diff_mean"]), float(r["ci_low"]),
                                          float(r["ci_high"]), r["n"])
                    verdict, why = interval_verdict(low, high, n)
                rows.append({"baseline": baseline, "direction": direction, "metric": metric,
                             "paper": paper_difference(baseline, direction, metric),
                             "measured": diff, "ci_low": low, "ci_high": high, "n": n,
                             "verdict": verdict, "why": why})
    return pd.DataFrame(rows)


def paired_wide(pairs: pd.DataFrame, what: str = "paper", digits: int = 2) -> pd.DataFrame:
    """:func:`paired_comparisons` laid out like Table II (rows baseline x direction, columns the
    metrics): ``what`` is ``"paper"`` (the paper's AG-CC - baseline) or ``"measured"``."""
    frame = pairs.assign(metric=pd.Categorical(pairs["metric"], METRICS, ordered=True))
    wide = frame.pivot_table(index=["baseline", "direction"], columns="metric", values=what,
                             aggfunc="first", observed=False, dropna=False).round(digits)
    order = [(b, d) for b in BASELINES for d in cross_directions() if (b, d) in wide.index]
    return wide.reindex(order)


def _fmt_diff(x) -> str:
    return "-" if not _finite(x) else f"{x:+.2f}"


def table_ii_claims(paired_table: pd.DataFrame, runs: pd.DataFrame | None, why_runs: str = "") -> list[Claim]:
    """The paper's claims on Table II (Sec. IV)."""
    claims = []
    words = {"PA-CC": "phoneme anchoring (PA-CC)", "LA-CC": "layer anchoring (LA-CC)",
             "Hard-AG": "hard AG segments (Hard-AG)"}
    k = 0
    for baseline in BASELINES:
        for direction in cross_directions():
            k += 1
            r = paired_table[(paired_table["baseline"] == baseline) & (paired_table["direction"] == direction)
                             & (paired_table["metric"] == "4-CAT")].iloc[0]
            text = f"AG-CC beats {words[baseline]} in 4-class UAR, {direction}."
            stated = paper.text_gains().get((baseline, direction))
            if stated is not None and abs(stated - r["paper"]) > 0.005:
                text += f" (The text says {stated:+.2f}; the table gives {r['paper']:+.2f}.)"
            measured = ("-" if not _finite(r["measured"]) else
                        f"{r['measured']:+.2f}" + ("" if not _finite(r["ci_low"], r["ci_high"])
                                                   else f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]")
                        + (f" (n = {int(r['n'])})" if _finite(r["n"]) else ""))
            claims.append(Claim(f"T2-{k}", "Table II", text,
                                "paired difference over seeds, 95 % t interval above zero",
                                _fmt_diff(r["paper"]), measured, r["verdict"], r["why"]))
    binary = paired_table[paired_table["metric"] != "4-CAT"]
    paper_best = _paper_binary_best()
    verdict = combine(binary["verdict"])
    counts = binary["verdict"].value_counts()
    claims.append(Claim(
        "T2-7", "Table II", "AG-CC outperforms all other models in the binary (one-vs-rest) "
        "per-emotion columns.",
        "AG-CC minus each of PA-CC, LA-CC, Hard-AG, per direction and emotion (24 comparisons): "
        "every 95 % interval above zero",
        f"AG-CC highest in {paper_best} of 8 binary columns of the paper's own table",
        ", ".join(f"{n} {v}" for v, n in counts.items()), verdict,
        "every comparison holds" if verdict == HOLDS else
        f"{int(counts.get(FAILS, 0))} below zero, {int(counts.get(NOT_SHOWN, 0))} include zero, "
        f"{int(counts.get(CANNOT, 0))} without interval",
        detail=binary.reset_index(drop=True)))
    claims.append(upper_bound_claim(runs, why_runs))
    return claims


def _paper_binary_best() -> int:
    t = paper.table_ii()
    cross = t[t.index.get_level_values("model").isin(["PA-CC", "LA-CC", "AG-CC", "Hard-AG"])]
    best = 0
    for direction in cross_directions():
        part = cross.xs(direction, level="direction")
        best += int(sum(part[m].idxmax() == "AG-CC" for m in METRICS[1:]))
    return best


def upper_bound_comparisons(runs: pd.DataFrame | None, metric: str = "4-CAT") -> pd.DataFrame:
    """Upper bound of each target corpus minus every cross-corpus model into it (unpaired, Welch
    interval over seeds): C->C against the I->C runs, I->I against the C->I runs."""
    rows = []
    models = [m for m in MODELS if m != "Upper Bound"]
    for ub_dir, cross_dir in upper_bound_pairs():
        for model in models:
            if runs is None:
                a = b = np.array([])
            else:
                a = runs[(runs["model"] == "Upper Bound") & (runs["direction"] == ub_dir)][metric].to_numpy(float)
                b = runs[(runs["model"] == model) & (runs["direction"] == cross_dir)][metric].to_numpy(float)
            if runs is not None and b.size == 0 and model == "Source only":
                continue  # a run without a source-only baseline: nothing to show
            diff, low, high, n = welch_interval(a, b)
            if a.size == 0 or b.size == 0:
                verdict, why = CANNOT, "no runs" if runs is not None else "table_ii_runs.csv missing"
            else:
                verdict, why = interval_verdict(low, high, n)
            ref = float("nan")
            t = paper.table_ii()
            if ("Upper Bound", ub_dir) in t.index and (model, cross_dir) in t.index:
                ref = float(t.loc[("Upper Bound", ub_dir), metric] - t.loc[(model, cross_dir), metric])
            rows.append({"upper bound": ub_dir, "model": model, "direction": cross_dir,
                         "paper": ref, "measured": diff, "ci_low": low, "ci_high": high, "n": n,
                         "verdict": verdict, "why": why})
    return pd.DataFrame(rows)


def upper_bound_claim(runs: pd.DataFrame | None, why: str = "") -> Claim:
    """Table II's upper bounds (in-corpus) lie above every cross-corpus result into that corpus."""
    detail = upper_bound_comparisons(runs)
    verdict = combine(detail["verdict"])
    measured = "-"
    if detail["measured"].notna().any():
        measured = (f"{detail['measured'].min():+.2f} to {detail['measured'].max():+.2f} "
                    "(upper bound minus cross-corpus, 4-CAT)")
    if runs is None:
        reason = why or "table_ii_runs.csv missing"
    elif verdict == HOLDS:
        reason = "every comparison holds"
    else:
        off = detail[detail["verdict"] != HOLDS]
        reason = "; ".join(f"{r.model} {r.direction}: {r.why}" for r in off.itertuples())
    return Claim("T2-8", "Table II", f"The in-corpus upper bounds ({', '.join(within_directions())}) lie above "
                 "the cross-corpus results into the same corpus.",
                 "upper bound minus each cross-corpus model, 4-CAT, Welch 95 % interval above zero",
                 f"{detail['paper'].min():+.2f} to {detail['paper'].max():+.2f}", measured, verdict,
                 reason, detail=detail)


def verdict_counts(claims: Iterable[Claim]) -> pd.Series:
    """How many claims got each verdict (all four verdicts listed, zeros included)."""
    counts = pd.Series([c.verdict for c in claims]).value_counts()
    return counts.reindex(list(VERDICTS), fill_value=0).rename("claims")


# ------------------------------------------------------------------------------------------
# Inputs and displays for the notebook
# ------------------------------------------------------------------------------------------
def load_fig1_inputs(paths):
    """The vowel tokens (:class:`~agcc.segments.SegmentSet`, notebook 01) and their AG clusters
    (notebook 02) in token order: ``(segments, labels, why)``, ``(None, None, why)`` if missing."""
    from .segments import SegmentSet

    lacking = [a.path for a in map(artifact, ("tokens", "ag_frames", "ag_clusters"))
               if not (Path(paths.root) / a.path).is_file()]
    if lacking or not (Path(paths.segments) / "acoustic_frames.npy").is_file():
        return None, None, f"{', '.join(lacking) or 'segments/acoustic_frames.npy'} missing (notebooks 01-02)"
    segments = SegmentSet.load(paths.segments)
    clusters = pd.read_csv(Path(paths.root) / artifact("ag_clusters").path)
    labels = segments.tokens[["token_id"]].merge(clusters, on="token_id", how="left")["ag_cluster"]
    if labels.isna().any():
        return None, None, "tables/ag_clusters.csv does not cover every token: rerun notebook 02"
    return segments, labels.to_numpy(int), ""


_FIGURE_NUMBER = {"fig1": "1", "fig2": "2", "fig3": "3"}


def figure_or_note(paths, name: str, project_root):
    """The figure artifact ``name`` (``"fig1"``, ``"fig2"``, ``"fig3"``) as an HTML figure whose
    caption gives the paper's number, the notebook that regenerated it and the paper's caption;
    when the file is missing, a Markdown note with the paper's caption and which notebook writes
    the figure. (HTML rather than Sphinx figures, so that the number is the paper's, not the
    page's count, and a missing figure never gets a caption saying it was regenerated.)"""
    import base64
    import html

    from IPython.display import HTML, Markdown

    art = artifact(name)
    number = _FIGURE_NUMBER[name]
    path = Path(paths.root) / art.path
    paper_caption = html.escape(paper.caption(name))
    writer = " / ".join(art.notebooks)
    if path.is_file():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return HTML(f'<figure class="agcc-figure"><img src="data:image/png;base64,{data}" '
                    f'alt="Fig. {number}" style="max-width: 100%"/><figcaption><b>Fig. {number}</b>, '
                    f"regenerated by notebook {writer} in this build. <i>Paper's caption:</i> "
                    f"{paper_caption}</figcaption></figure>")
    why = missing_note(art, project_root)[len("missing: "):].replace("*", "\\*")
    return Markdown(f"> **Fig. {number}** (paper's caption: {paper.caption(name)}) is not available "
                    f"in this build: `{art.path}` is {why}.")


_COLOURS = {HOLDS: "#d8f0d8", FAILS: "#f6d5d5", NOT_SHOWN: "#fbeccb", CANNOT: "#e6e6e6"}


def styled(frame: pd.DataFrame, digits: int = 2, *, hide_index: bool = True, column: str = "verdict"):
    """A pandas ``Styler`` for the page: floats with ``digits`` decimals, missing values as "-",
    the ``column`` of verdicts coloured (green holds, red does not hold, amber not shown, grey
    cannot be judged). The table's HTML id is derived from its content, so the output is the same
    on every run (nbval compares it) and two tables of a page never share an id."""
    import hashlib

    uid = hashlib.sha1(frame.to_csv().encode()).hexdigest()[:10]
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
    return styler


def row_of_tables(tables: Mapping[str, object], digits: int = 1, hide_index: bool = False):
    """Several tables side by side, each under its title (an IPython ``HTML`` object; the book's
    CSS class ``agcc-row`` lays them out and wraps them on narrow pages). DataFrames are styled
    with :func:`styled`; Stylers are used as given."""
    from IPython.display import HTML

    parts = []
    for title, table in tables.items():
        if isinstance(table, pd.DataFrame):
            table = styled(table, digits, hide_index=hide_index)
        parts.append(f'<div><p class="agcc-title">{title}</p>{table.to_html()}</div>')
    return HTML('<div class="agcc-row">' + "".join(parts) + "</div>")


def summary_sentence(claims: Iterable[Claim]) -> str:
    """"Of N claims: a hold, b do not hold, ..." (Markdown)."""
    counts = verdict_counts(list(claims))
    plural = {HOLDS: "hold", FAILS: "do not hold"}
    parts = [f"**{n}** {v if n == 1 else plural.get(v, v)}" for v, n in counts.items() if n]
    return f"Of the {int(counts.sum())} claims judged here: " + "; ".join(parts) + "."


def runs_overview(runs: pd.DataFrame | None) -> pd.DataFrame:
    """Per model and direction: seeds, mean source-validation UAR, best epoch, wall time and
    gamma of the training runs (``table_ii_runs.csv``)."""
    if runs is None or runs.empty:
        return pd.DataFrame(columns=["model", "direction", "seeds", "val UAR", "best epoch",
                                     "wall s (mean)", "gamma"])
    wanted = {"val UAR": ("val_uar", "mean"), "best epoch": ("best_epoch", "mean"),
              "wall s (mean)": ("wall_s", "mean"),
              "gamma": ("gamma", lambda g: ", ".join(f"{x:g}" for x in sorted(set(g.dropna()))))}
    present = {k: v for k, v in wanted.items() if v[0] in runs.columns}  # optional columns
    out = runs.groupby(["model", "direction"]).agg(seeds=("seed", "nunique"), **present).reset_index()
    return _row_order(out).reset_index(drop=True)


def paper_inconsistencies() -> list[str]:
    """Where the paper's text and its own Table II disagree, computed from the paper's values."""
    notes = []
    for (baseline, direction), stated in paper.text_gains().items():
        table = paper_difference(baseline, direction, "4-CAT")
        if abs(stated - table) > 0.005:
            t = paper.table_ii()
            notes.append(f"AG-CC over {baseline}, {direction}: {stated:+.2f} in the text, "
                         f"{t.loc[('AG-CC', direction), '4-CAT']:.2f} - "
                         f"{t.loc[(baseline, direction), '4-CAT']:.2f} = {table:+.2f} in the table")
    best = _paper_binary_best()
    if best < 2 * (len(METRICS) - 1):
        notes.append(f"the text says AG-CC \"outperforms all other models\" in the binary tasks; "
                     f"its table has AG-CC highest in {best} of {2 * (len(METRICS) - 1)} binary columns")
    return notes
