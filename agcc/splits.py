"""Speaker-independent train / validation / test splits (Sec. II-C, IV).

The paper fits the AG cluster model on "validation samples ... across both corpora" and trains with
early stopping, but gives no splits. This book splits each corpus by its ``session`` column —
CREMA-D by actor, MSP-IMPROV by session (one female and one male speaker) — so that no speaker is
in two parts, fixed by a seed. When a corpus has fewer than three sessions (the tiny ``smoke``
profile), it falls back to speakers, then to utterances, and says so in the ``split_unit`` column.
"""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


def _assign(groups: list[str], rng: np.random.Generator, val_fraction: float, test_fraction: float) -> dict:
    order = list(rng.permutation(sorted(groups)))
    n = len(order)
    n_test = max(1, int(round(test_fraction * n)))
    n_val = max(1, int(round(val_fraction * n)))
    n_test = min(n_test, n - 2)
    n_val = min(n_val, n - n_test - 1)
    return {g: ("test" if i < n_test else "val" if i < n_test + n_val else "train") for i, g in enumerate(order)}


def assign_splits(utterances: pd.DataFrame, *, seed: int = 0, val_fraction: float = 0.2,
                  test_fraction: float = 0.2) -> pd.DataFrame:
    """Add ``split`` (``train``/``val``/``test``) and ``split_unit`` columns, per corpus.

    Parameters
    ----------
    utterances
        The readers' table (needs ``corpus``, ``session``, ``speaker``, ``utt_id``).
    seed
        Fixes the assignment (each corpus draws from its own stream, so adding a corpus does not
        change another's split).
    val_fraction, test_fraction
        Shares of the split units (sessions) in validation and test; at least one unit each.
    """
    out = utterances.copy()
    out["split"] = ""
    out["split_unit"] = ""
    for corpus, part in out.groupby("corpus"):
        rng = np.random.default_rng([seed, zlib.crc32(corpus.encode())])
        for unit in ("session", "speaker", "utt_id"):
            groups = part[unit].unique().tolist()
            if len(groups) >= 3:
                break
        if len(groups) < 3:
            raise ValueError(f"{corpus}: {len(groups)} utterances cannot be split into train/val/test")
        mapping = _assign(groups, rng, val_fraction, test_fraction)
        out.loc[part.index, "split"] = part[unit].map(mapping)
        out.loc[part.index, "split_unit"] = unit
    return out


def session_folds(sessions: pd.Series, k: int) -> np.ndarray:
    """Fold (0 .. k-1) of each utterance, keeping its split unit (``session``: an actor of
    CREMA-D, a session of MSP-IMPROV) whole: the units, largest first, each go to the fold with
    the fewest utterances so far, so that the folds are about equal in size and fixed by the
    corpus alone (the same for every seed and method, so that paired runs test the same
    utterances). A clear error when the corpus has fewer than ``k`` units."""
    counts = sessions.astype(str).value_counts()
    if len(counts) < k:
        raise ValueError(f"{len(counts)} split units ({', '.join(counts.index[:5])}) cannot make {k} folds: "
                         "lower target_folds or use another target_protocol")
    units = sorted(counts.index, key=lambda u: (-counts[u], u))
    size, fold_of = np.zeros(k, dtype=np.int64), {}
    for unit in units:
        fold_of[unit] = int(np.argmin(size))  # the first of the smallest folds
        size[fold_of[unit]] += counts[unit]
    return sessions.astype(str).map(fold_of).to_numpy(np.int64)
