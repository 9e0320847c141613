"""The artifacts the report reads: which notebook writes each, whether it is present, when it was
written (:func:`inventory`), the build record ``run.json``, and what the run's data are.

A missing artifact is never an error: the claims that need it are judged "cannot be judged on this
data", and the inventory says which notebook writes it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from ..corpora import corpora
from ..segments import SegmentSet


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
    Artifact("table_ii_bars", "figures/table2_uar.png", ("06",), "Table II as bars, the paper's values as markers"),
    Artifact("fig3", "figures/fig3_architecture.png", ("07",), "Fig. 3"),
    Artifact("ablations", "tables/ablations.csv", ("07",), "ablations: each setting against the default, paired by seed"),
    Artifact("sensitivity", "tables/sensitivity_gains.csv", ("08",), "sensitivity: AG-CC's gain per corpus setting"),
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
                "MSP-IMPROV. The simulator's task difficulty was calibrated to the paper's "
                "levels with upper-bound and source-only runs only (never an anchoring method; see "
                "*The simulated corpora*; the opening's *Difficulty* says which of those levels this "
                "build meets), but it was not fitted to the real recordings, so the "
                "differences measured - paper below measure how far a simulation is from real "
                "data, not a replication error, and a verdict here is a verdict about the method "
                "on simulated data.")
    if profile == "smoke":
        seeds = params.get("n_seeds")
        text += ("\n\n**Smoke profile**: a few dozen utterances, a handful of clusters and "
                 + (f"{seeds} training seed{'s' if seeds != 1 else ''}" if seeds else "few training seeds")
                 + ". The numbers only prove that the code runs; most comparisons have an interval too "
                 "wide to tell, or none, and are marked *not shown* or *cannot be judged*.")
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


def load_fig1_inputs(paths):
    """The vowel tokens (:class:`~agcc.segments.SegmentSet`, notebook 01) and their AG clusters
    (notebook 02) in token order: ``(segments, labels, why)``, ``(None, None, why)`` if missing."""
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
