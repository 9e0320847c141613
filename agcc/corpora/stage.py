"""The data-preparation stage of notebook 01 (and of every study that rebuilds it): the corpora of a
run, read into one utterance table with speaker-independent splits.

Every registered corpus takes part: its real copy when its root parameter is given, else its
simulated twin (generated once per artifacts folder). The utterance table is written to
``tables/utterances.csv`` and the files the readers could not use to
``tables/skipped_utterances.csv``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from ..io import atomic_write
from ..splits import assign_splits
from .base import skipped as skipped_files
from .registry import corpora

SKIPPED_COLUMNS = ["utt_id", "corpus", "reason"]


def ensure_corpora(params: Mapping, paths, *, progress: bool = True) -> dict[str, Path]:
    """Roots of the corpora a run uses, by name: the real ones when given, else the simulated
    twins under ``paths.corpus(name)`` (generated on first use, reused afterwards)."""
    roots = {}
    for corpus in corpora():
        given = params.get(corpus.root_param, "")
        if given:
            if not Path(given).is_dir():
                raise FileNotFoundError(f"{corpus.root_param} = {given!r} is not a folder.")
            roots[corpus.name] = Path(given)
        elif params.get("require_real_corpora"):
            raise ValueError(
                f"Profile {params.get('profile')!r} runs on the real corpora: pass "
                f"-p {corpus.root_param} /path/to/{corpus.display} (see the book's "
                "'Running on the real corpora' page)."
            )
    for corpus in corpora():
        if corpus.name not in roots:
            roots[corpus.name] = corpus.simulate(paths.corpus(corpus.name), params, progress=progress)
    return {c.name: roots[c.name] for c in corpora()}


def read_corpora(params: Mapping, roots: Mapping[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(utterances, skipped)``: every registered corpus read with its label choice, split by
    :func:`agcc.splits.assign_splits` (``seed``, ``val_fraction``, ``test_fraction``)."""
    tables = [c.read(roots[c.name], label=c.label_choice(params)) for c in corpora()]
    utterances = assign_splits(pd.concat(tables, ignore_index=True), seed=params["seed"],
                               val_fraction=params["val_fraction"], test_fraction=params["test_fraction"])
    utterances.attrs = {}
    skipped = pd.concat([skipped_files(t) for t in tables], ignore_index=True)
    return utterances, skipped.reindex(columns=SKIPPED_COLUMNS)


def _write_if_changed(path: Path, table: pd.DataFrame) -> None:
    # unchanged bytes keep the file's time stamp, which later stages' caches compare
    text = table.to_csv(index=False).encode()
    if not path.is_file() or path.read_bytes() != text:
        atomic_write(path, lambda fh: fh.write(text))


def prepare_utterances(params: Mapping, paths, *, roots: Mapping[str, Path] | None = None,
                       progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Locate (or generate) the corpora, read them and write ``tables/utterances.csv`` and
    ``tables/skipped_utterances.csv``; returns ``(utterances, skipped)``."""
    roots = ensure_corpora(params, paths, progress=progress) if roots is None else roots
    utterances, skipped = read_corpora(params, roots)
    paths.tables.mkdir(parents=True, exist_ok=True)
    _write_if_changed(paths.tables / "utterances.csv", utterances)
    _write_if_changed(paths.tables / "skipped_utterances.csv", skipped)
    return utterances, skipped


def quality_table(quality: pd.DataFrame, skipped: pd.DataFrame) -> pd.DataFrame:
    """Notebook 01's data-quality table: utterances per ``corpus, status, reason`` — the files the
    readers left out (status ``skipped by reader``) and every utterance of the table, used or
    dropped by the segmentation (:attr:`agcc.segments.SegmentSet.quality`)."""
    read = skipped.assign(status="skipped by reader")[["corpus", "status", "reason"]]
    segmented = quality.assign(reason=quality["reason"].replace("", "(used)"))[["corpus", "status", "reason"]]
    table = pd.concat([read, segmented], ignore_index=True)
    return table.groupby(["corpus", "status", "reason"]).size().rename("utterances").reset_index()
