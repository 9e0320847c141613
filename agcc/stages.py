"""The data stages of the pipeline as functions: what notebooks 01-02 run, and what the ablations
(notebook 07) and the sensitivity study rerun for their variants.

* :func:`read_corpora` — locate the corpora (or generate the simulated ones), read them into one
  utterance table and split it by speaker (Sec. II-A, IV);
* :func:`vowel_segments` — acoustic features and the AG and acoustic segments of the six vowels
  (Sec. II-B); :func:`quality_table` counts what the readers and the segmentation left out;
* :func:`clustering_options` / :func:`ag_clustering` — the AG cluster model (Sec. II-C), with the
  profile's options or with a fixed k;
* :func:`prepare_artifacts` — all of the above plus the training data, for one artifacts folder.

Every stage is cached by its inputs (:mod:`agcc.io`), so calling it again costs a key check.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .clustering import ClusteringRun, cached_ag_clustering
from .corpora import corpora, ensure_corpora, skipped
from .features import extractor_from_params
from .io import atomic_write
from .paths import Paths
from .segments import SegmentSet, prepare_segments
from .splits import assign_splits
from .train import cached_training_data
from .vocab import FOUR_CLASSES


def _write_if_changed(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` as CSV unless the file already holds exactly that (keeps its modification
    time, which the report's inventory reads)."""
    text = frame.to_csv(index=False).encode()
    if not path.is_file() or path.read_bytes() != text:
        atomic_write(path, lambda fh: fh.write(text))


@dataclass
class Corpora:
    """What :func:`read_corpora` returns: ``utterances`` (one row per utterance of every registered
    corpus, with its split), ``skipped`` (``utt_id, corpus, reason`` of every file a reader could not use)
    and ``roots`` (corpus name -> the folder read: the real corpus, or the simulated one)."""

    utterances: pd.DataFrame
    skipped: pd.DataFrame
    roots: dict


def read_corpora(params: dict, paths: Paths, *, progress: bool = True) -> Corpora:
    """The utterance table of every registered corpus (:mod:`agcc.corpora`: the real copy or the
    simulated twin, read with the run's label choice) with speaker-independent splits, and the
    files the readers skipped (with their reasons); both are written to ``paths.tables``
    (``utterances.csv``, ``skipped_utterances.csv``)."""
    roots = ensure_corpora(params, paths, progress=progress)
    tables = [corpus.read(roots[corpus.name], label=corpus.label_choice(params)) for corpus in corpora()]
    utterances = assign_splits(pd.concat(tables, ignore_index=True), seed=params["seed"],
                               val_fraction=params["val_fraction"], test_fraction=params["test_fraction"])
    skips = pd.concat([skipped(t) for t in tables], ignore_index=True)
    _write_if_changed(paths.tables / "utterances.csv", utterances)
    _write_if_changed(paths.tables / "skipped_utterances.csv", skips)
    return Corpora(utterances, skips, roots)


def label_agreement(params: dict, roots: dict) -> pd.DataFrame:
    """How often each corpus's other label choices agree with its first (the emotion in the file
    name): per corpus, label choice and kind of recording (:meth:`agcc.corpora.base.Corpus.group_of`),
    the clips labelled by both (one of the four classes in either) and the share on which the two
    give the same emotion. Cross-corpus SER on MSP-IMPROV uses the raters' consensus, which agrees
    with the scenario's target for about half of the real clips (``book/replication_notes.md``).
    A label choice the corpus copy cannot give (no label file) is listed with its reason."""
    rows = []
    for corpus in corpora():
        if len(corpus.labels) < 2 or corpus.name not in roots:
            continue
        reference = corpus.read(roots[corpus.name], label=corpus.labels[0]).set_index("utt_id")["emotion"]
        for label in corpus.labels[1:]:
            try:
                other = corpus.read(roots[corpus.name], label=label).set_index("utt_id")["emotion"]
            except (FileNotFoundError, ValueError) as err:
                rows.append({"corpus": corpus.name, "label": label, "recordings": "all", "clips": 0,
                             "agreement %": float("nan"), "note": str(err)})
                continue
            both = pd.DataFrame({"file name": reference, label: other}).dropna()
            both = both[both["file name"].isin(FOUR_CLASSES) | both[label].isin(FOUR_CLASSES)]
            groups = both.index.map(corpus.group_of)
            for group, part in [("all", both), *both.groupby(groups)] if len(set(groups)) > 1 else [("all", both)]:
                rows.append({"corpus": corpus.name, "label": label, "recordings": group, "clips": len(part),
                             "agreement %": 100.0 * float((part["file name"] == part[label]).mean()) if len(part) else float("nan"),
                             "note": ""})
    return pd.DataFrame(rows, columns=["corpus", "label", "recordings", "clips", "agreement %", "note"])


def vowel_segments(params: dict, paths: Paths, utterances: pd.DataFrame, *, feature_cache=None,
                   progress: bool = True) -> SegmentSet:
    """Features (cached per file in ``feature_cache``, default ``paths.cache/features``) and the
    vowel tokens with their AG and acoustic segments (cached in ``paths.segments``)."""
    cache = Path(feature_cache) if feature_cache is not None else paths.cache / "features"
    return prepare_segments(utterances, extractor_from_params(params), paths.segments, cache,
                            max_gap=params["max_gap_frames"], min_frames=params["min_token_frames"],
                            workers=params["workers"], progress=progress)


def quality_table(quality: pd.DataFrame, skipped: pd.DataFrame) -> pd.DataFrame:
    """Notebook 01's data-quality table: utterances per ``corpus, status, stage, reason``, from the
    files the readers left out (status ``skipped by reader``, stage ``read``,
    :attr:`Corpora.skipped`) to every utterance of the table as the ledger has it
    (:attr:`agcc.segments.SegmentSet.quality`: ``used``, ``SER only`` or ``dropped``, with the stage
    where it lost something)."""
    columns = ["corpus", "status", "stage", "reason"]
    read = skipped.assign(status="skipped by reader", stage="read")[columns]
    segmented = quality.assign(reason=quality["reason"].replace("", "(used)"))[columns]
    table = pd.concat([read, segmented], ignore_index=True)
    return table.groupby(columns).size().rename("utterances").reset_index()


def clustering_options(params: dict, k: int | None = None) -> dict:
    """Options of :func:`agcc.clustering.cached_ag_clustering` from the profile's parameters.

    ``k`` None: the profile's model (``n_ag_clusters``, 0 = the elbow's choice, chosen from
    ``elbow_ks`` on ``elbow_subsample`` validation tokens). ``k`` given: a model with k clusters
    fitted like the profile's; the elbow search, which cannot choose anything then, is reduced to
    k itself on k tokens — the final model, fitted on every validation token with the same seed,
    does not depend on it."""
    common = dict(gamma=params["softdtw_gamma"], max_iter=params["kmeans_max_iter"], seed=params["seed"],
                  backend=params["clustering_backend"], speaker_norm=params["ag_speaker_norm"])
    if k is None:
        return dict(ks=params["elbow_ks"], k=params["n_ag_clusters"], subsample=params["elbow_subsample"],
                    **common)
    return dict(ks=[int(k)], k=int(k), subsample=int(k), **common)


def ag_clustering(params: dict, paths: Paths, segments: SegmentSet, *, k: int | None = None,
                  folder=None) -> ClusteringRun:
    """The AG cluster model (cached in ``folder``, default ``paths.ag_clusters``) with
    :func:`clustering_options`; the profile's model (``k`` None, default folder) also writes
    every token's cluster to ``tables/ag_clusters.csv``."""
    folder = Path(folder) if folder is not None else paths.ag_clusters
    run = cached_ag_clustering(segments, paths.segments, folder, **clustering_options(params, k))
    if k is None and folder == paths.ag_clusters:
        _write_if_changed(paths.tables / "ag_clusters.csv",
                          pd.DataFrame({"token_id": segments.tokens["token_id"], "ag_cluster": run.labels}))
    return run


def prepare_artifacts(params: dict, root, *, feature_cache=None, progress: bool = False) -> tuple[Path, float]:
    """Notebooks 01-02's stages and the training data for one artifacts folder ``root``: returns
    the training data folder and the seconds this call took (a second call only checks keys).
    With ``n_ag_clusters`` given, the AG model skips the elbow search (:func:`clustering_options`
    with that k)."""
    start = time.perf_counter()
    paths = Paths(Path(root).resolve()).make()
    utterances = read_corpora(params, paths, progress=progress).utterances
    segments = vowel_segments(params, paths, utterances, feature_cache=feature_cache, progress=progress)
    k = params["n_ag_clusters"]
    cached_ag_clustering(segments, paths.segments, paths.ag_clusters, progress=progress,  # a worker: no bar
                         **clustering_options(params, k or None))
    cached_training_data(paths, params, progress)
    return paths.root / "training", time.perf_counter() - start
