"""Cross-corpus SER training (Sec. III-IV): data, anchor groupings, the training loop, UAR, Table II.

* :func:`prepare_training_data` assembles, from the artifacts of notebooks 01-02, one array of
  acoustic frames for every four-class utterance, the vowel tokens with their frame spans and AG
  clusters, and the centroid distances the soft weights of Eq. 3 need. Every utterance left out is
  listed with its reason.
* :func:`anchor_set` defines the groups each method anchors on: AG clusters (AG-CC), vowels with
  w = 1 (PA-CC), vowels with distances between per-vowel AG templates (Hard-AG).
* :func:`train_run` trains one model: Adam (lr 1e-4, weight decay 1e-3), batch 64, up to
  ``max_epochs`` epochs, early stopping on **source** validation UAR; each step draws a batch of
  labelled source utterances and a batch of unlabelled target utterances; the loss is
  L_ER + gamma * L_anchor (Eq. 4). No target label is used for training or model selection unless
  ``target_labels="oracle"`` is asked for (analysis only).
* :func:`uar_scores` gives Table II's columns: 4-class UAR and, per emotion, the one-vs-rest
  ("binary") UAR of the 4-class predictions; :func:`summarize` and :func:`paired_differences`
  give means with 95 % t-intervals over seeds.

Nothing here loops over samples in Python: batches are gathered with index arrays, token
embeddings pooled with cumulative sums (:func:`agcc.model.pool_spans`) and triplets mined with
boolean matrices (:func:`agcc.losses.mine_triplets`).
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .corpora import directions, source_of, target_of
from .features import frame_times
from .params import defaults as declared_defaults
from .segments import DROPPED
from .vocab import EMOTION_COLUMNS, FOUR_CLASSES, METRICS, VOWELS

METHODS = ("Source only", "PA-CC", "LA-CC", "AG-CC", "Hard-AG", "Upper Bound")
TRIPLET_METHODS = ("AG-CC", "PA-CC", "Hard-AG")


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------
@dataclass
class TrainingData:
    """Everything a training run reads, in arrays.

    Attributes
    ----------
    utterances : DataFrame
        One row per usable utterance: ``utt_id, corpus, split, emotion, label`` (0-3 in
        :data:`agcc.corpora.FOUR_CLASSES` order), ``offset, n_frames`` (its rows of ``frames``),
        ``first_token, n_tokens`` (its rows of ``tokens``).
    frames : (total_frames, n_features) float32
        Acoustic frames of all utterances, concatenated (cropped to ``max_frames`` each).
    tokens : DataFrame
        One row per vowel token, grouped by utterance: ``utt_row, start, end`` (frame span in its
        utterance), ``vowel`` (index into :data:`VOWELS`), ``ag_cluster``, ``corpus``, ``split``.
    ag_distance : (k, k) float
        Soft-DTW divergences between the AG barycenters (Eq. 3's centroid distances).
    vowel_distance : (6, 6) float
        Soft-DTW divergences between per-vowel AG templates (Hard-AG).
    dropped : DataFrame
        ``utt_id, corpus, stage, reason`` of every utterance of the utterance table not used
        (the ledger's ``dropped`` utterances, :mod:`agcc.segments`, and any left out here).
    token_notes : DataFrame
        ``reason, tokens``: vowel tokens of used utterances left out (e.g. beyond the crop).
    """

    utterances: pd.DataFrame
    frames: np.ndarray
    tokens: pd.DataFrame
    ag_distance: np.ndarray
    vowel_distance: np.ndarray
    dropped: pd.DataFrame
    token_notes: pd.DataFrame

    @property
    def n_features(self) -> int:
        return int(self.frames.shape[1])

    def save(self, folder) -> None:
        from .io import atomic_write

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("utterances", "tokens", "dropped", "token_notes"):
            table = getattr(self, name)
            atomic_write(folder / f"{name}.csv", lambda fh, t=table: t.to_csv(fh, index=False))
        atomic_write(folder / "frames.npy", lambda fh: np.save(fh, self.frames))
        atomic_write(folder / "distances.npz", lambda fh: np.savez(
            fh, ag_distance=self.ag_distance, vowel_distance=self.vowel_distance))

    @classmethod
    def load(cls, folder, mmap: bool = True, verify: bool = True) -> "TrainingData":
        """Read a saved set; ``frames`` is memory-mapped (worker processes share the pages).
        ``verify`` first checks the files against the digests of the folder's stamp
        (:func:`agcc.io.verify_folder`); the grid's workers skip it (the process that started
        them checked the folder, and hashing the frames in every worker would cost minutes)."""
        from .io import verify_folder

        folder = Path(folder)
        if verify:
            verify_folder(folder, "run the training notebook (05) again to recompute it")
        read = lambda n: pd.read_csv(folder / f"{n}.csv", keep_default_na=False, na_values=[""])  # noqa: E731
        dist = np.load(folder / "distances.npz")
        out = cls(utterances=read("utterances"), frames=np.load(folder / "frames.npy", mmap_mode="r" if mmap else None),
                  tokens=read("tokens"), ag_distance=dist["ag_distance"], vowel_distance=dist["vowel_distance"],
                  dropped=read("dropped"), token_notes=read("token_notes"))
        out.validate(folder)
        return out

    def validate(self, where="") -> None:
        """Raise ``ValueError`` unless the tables index the arrays consistently (utterance frame
        spans inside ``frames``, token rows and spans inside their utterances, clusters inside
        ``ag_distance``)."""
        u, t = self.utterances, self.tokens
        problems = []
        if len(u) and int((u["offset"] + u["n_frames"]).max()) > len(self.frames):
            problems.append(f"utterance frame spans run past frames.npy ({len(self.frames)} rows)")
        n_tokens = int(u["n_tokens"].sum()) if len(u) else 0
        if n_tokens != len(t):
            problems.append(f"utterances count {n_tokens} tokens, tokens.csv has {len(t)}")
        elif len(t):
            rows = t["utt_row"].to_numpy()
            if rows.min() < 0 or rows.max() >= len(u) or (t["end"].to_numpy() > u["n_frames"].to_numpy()[rows]).any():
                problems.append("token spans outside their utterances")
            elif int(t["ag_cluster"].max()) >= len(self.ag_distance):
                problems.append(f"AG clusters beyond the {len(self.ag_distance)} of distances.npz")
        if problems:
            raise ValueError(f"{where or 'training data'}: inconsistent ({'; '.join(problems)})")


def token_frame_spans(start_s, end_s, n_frames: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Frame span ``[first, last + 1)`` of each phone interval: the frames whose centres lie in
    ``[start, end)``, as :mod:`agcc.segments` cut them."""
    centres = frame_times(n_frames)
    return (np.searchsorted(centres, np.asarray(start_s, float), side="left"),
            np.searchsorted(centres, np.asarray(end_s, float), side="left"))


def vowel_templates(segments, mean, std, n_points: int = 10) -> np.ndarray:
    """Per-vowel AG template: the mean of the vowel's validation AG segments, each standardised
    like the AG model and resampled to ``n_points`` frames -> (6, n_points, 24); NaN rows for a
    vowel with no validation token."""
    from .clustering import resample

    tokens = segments.tokens
    out = np.full((len(VOWELS), n_points, segments.ag_frames.shape[1]), np.nan)
    for v, vowel in enumerate(VOWELS):
        rows = np.flatnonzero(((tokens["vowel"] == vowel) & (tokens["split"] == "val")).to_numpy())
        if rows.size:
            out[v] = np.mean([resample((segments.ag(i) - mean) / std, n_points) for i in rows], axis=0)
    return out


def _template_distances(templates: np.ndarray, gamma: float) -> np.ndarray:
    from .clustering import softdtw_divergence

    n = len(templates)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                out[i, j] = (np.nan if np.isnan(templates[i]).any() or np.isnan(templates[j]).any()
                             else softdtw_divergence(templates[i], templates[j], gamma))
    return out


def prepare_training_data(utterances: pd.DataFrame, segments, ag_labels: np.ndarray, ag_run,
                          features: dict, failed: dict, *, max_frames: int = 400,
                          softdtw_gamma: float = 1.0) -> TrainingData:
    """Assemble :class:`TrainingData`.

    Parameters
    ----------
    utterances
        The utterance table with splits (``tables/utterances.csv``).
    segments
        The :class:`agcc.segments.SegmentSet` of notebook 01; its ``quality`` table is the ledger
        of utterances: those it marks ``dropped`` are left out here with its stage and reason
        (an utterance dropped at any stage stays dropped), the ``SER only`` ones take part.
    ag_labels
        AG cluster of every token of ``segments`` (``tables/ag_clusters.csv``).
    ag_run
        The :class:`agcc.clustering.ClusteringRun` (divergences, standardisation).
    features, failed
        :func:`agcc.features.extract_features` output for the utterances' audio paths.
    max_frames
        Utterances longer than this are cropped to their first ``max_frames`` frames (tokens past
        the crop are left out and counted).
    """
    ledger = segments.quality.set_index("utt_id")
    unknown = sorted(set(utterances["utt_id"]) - set(ledger.index))
    if unknown:  # the utterance table changed after notebook 01 cut the segments
        raise ValueError(f"{len(unknown)} utterances (e.g. {', '.join(unknown[:3])}) are not in the segment "
                         "stage's ledger (segments/quality.csv): run the data preparation notebook (01) again")
    dropped, keep = [], []
    for row in utterances.itertuples(index=False):
        entry = ledger.loc[row.utt_id]
        if entry["status"] == DROPPED:  # dropped at an earlier stage: dropped here too, for its reason
            dropped.append((row.utt_id, row.corpus, entry["stage"], entry["reason"]))
        elif row.emotion not in FOUR_CLASSES:
            dropped.append((row.utt_id, row.corpus, "labels", f"emotion '{row.emotion}' is not one of the four classes"))
        elif row.audio_path not in features:
            dropped.append((row.utt_id, row.corpus, "training",
                            f"no acoustic features: {failed.get(row.audio_path, 'not extracted')}"))
        elif len(features[row.audio_path]) == 0:
            dropped.append((row.utt_id, row.corpus, "training", "no acoustic frames"))
        else:
            keep.append(row)
    utt = pd.DataFrame([{"utt_id": r.utt_id, "corpus": r.corpus, "split": r.split, "emotion": r.emotion,
                         "label": FOUR_CLASSES.index(r.emotion)} for r in keep],
                       columns=["utt_id", "corpus", "split", "emotion", "label"])
    arrays = [np.asarray(features[r.audio_path][:max_frames], np.float32) for r in keep]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    utt["n_frames"] = lengths
    utt["offset"] = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else []
    frames = np.concatenate(arrays) if arrays else np.zeros((0, 1), np.float32)

    tok = segments.tokens.assign(ag_cluster=np.asarray(ag_labels))
    row_of = pd.Series(np.arange(len(utt)), index=utt["utt_id"])
    tok = tok[tok["utt_id"].isin(row_of.index)].copy()
    tok["utt_row"] = row_of.loc[tok["utt_id"]].to_numpy()
    tok["start"], tok["end"] = token_frame_spans(tok["start"], tok["end"])
    notes = []
    mismatch = (tok["end"] - tok["start"]) != tok["n_frames"]
    if mismatch.any():  # cannot happen with segments cut by agcc.segments; counted, never silent
        notes.append(("frame span differs from the segment's", int(mismatch.sum())))
    beyond = tok["end"].to_numpy() > lengths[tok["utt_row"].to_numpy()]
    if beyond.any():
        notes.append((f"past the crop of {max_frames} frames", int(beyond.sum())))
    tok = tok[~(mismatch | beyond)]
    tok["vowel"] = tok["vowel"].map({v: i for i, v in enumerate(VOWELS)})
    tok = tok.sort_values(["utt_row", "start"], kind="stable")
    tok = tok[["token_id", "utt_row", "start", "end", "vowel", "ag_cluster", "corpus", "split"]].reset_index(drop=True)
    counts = np.bincount(tok["utt_row"], minlength=len(utt))
    utt["n_tokens"] = counts
    utt["first_token"] = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else []

    templates = vowel_templates(segments, ag_run.mean, ag_run.std)
    return TrainingData(utterances=utt, frames=frames, tokens=tok, ag_distance=np.asarray(ag_run.divergence, float),
                        vowel_distance=_template_distances(templates, softdtw_gamma),
                        dropped=pd.DataFrame(dropped, columns=["utt_id", "corpus", "stage", "reason"]),
                        token_notes=pd.DataFrame(notes, columns=["reason", "tokens"]))


def cached_training_data(paths, params: dict, progress: bool = True, *, ag_clusters=None,
                         folder=None) -> TrainingData:
    """:func:`prepare_training_data` from a profile's artifacts, cached in ``folder`` (default
    ``paths.root/training``; recomputed when the segments, the AG clustering or the options change).

    ``ag_clusters`` is the folder of the AG clustering to use (default ``paths.ag_clusters``, the
    model of notebook 02); the ablations of notebook 07 pass clusterings with another k, each with
    its own ``folder``. Each token's cluster is the clustering run's label of that token."""
    from .clustering import ClusteringRun
    from .features import extract_features, extractor_from_params
    from .io import cached_by_key, stamp_key
    from .segments import SegmentSet

    ag_folder = Path(ag_clusters) if ag_clusters is not None else paths.ag_clusters
    folder = Path(folder) if folder is not None else paths.root / "training"
    options = {"max_frames": params["max_utt_frames"], "softdtw_gamma": params["softdtw_gamma"], "version": 1}
    for stage, done in (("01 (data preparation)", paths.segments), ("02 (AG clustering)", ag_folder)):
        if not stamp_key(done):
            raise FileNotFoundError(f"{done} holds no finished result: run notebook {stage} first")
    key = hashlib.sha256((stamp_key(paths.segments) + stamp_key(ag_folder)
                          + json.dumps(options, sort_keys=True)).encode()).hexdigest()

    def compute() -> TrainingData:
        utterances = pd.read_csv(paths.tables / "utterances.csv", dtype={"speaker": str, "session": str},
                                 keep_default_na=False)
        segments = SegmentSet.load(paths.segments)
        run = ClusteringRun.load(ag_folder)
        features, failed = extract_features(utterances["audio_path"].tolist(), extractor_from_params(params),
                                            paths.cache / "features", progress=progress)
        return prepare_training_data(utterances, segments, np.asarray(run.labels), run, features, failed,
                                     max_frames=params["max_utt_frames"], softdtw_gamma=params["softdtw_gamma"])

    return cached_by_key(folder, key, lambda: TrainingData.load(folder, verify=False), compute, lambda d: d.save(folder))


# ------------------------------------------------------------------------------------------------
# Anchor groupings
# ------------------------------------------------------------------------------------------------
@dataclass
class AnchorSet:
    """How one method groups the vowel tokens.

    ``group`` (n_tokens,) the group of every token; ``distance`` (G, G) the centroid distances of
    Eq. 3 (zeros give w = 1); ``common`` (G,) the groups an anchor may come from; ``usable``
    (n_tokens,) the tokens that take part at all (those of the anchoring vowels).
    """

    name: str
    group: np.ndarray
    distance: np.ndarray
    common: np.ndarray
    usable: np.ndarray | None = None


def common_groups(group, corpus, split, n_groups: int, source: str, target: str, threshold: float = 0.25,
                  reading: str = "ratio") -> np.ndarray:
    """Groups shared by the two corpora's *training* tokens: present in both, with the overlap of
    Eq. 1 (:func:`agcc.overlap.cluster_overlap`) at or above ``threshold`` — the "common AG
    clusters" of Sec. III, by the rule that gives Table I."""
    from .overlap import cluster_overlap

    group, corpus, split = map(np.asarray, (group, corpus, split))
    train = split == "train"
    src, tgt = group[train & (corpus == source)], group[train & (corpus == target)]
    out = np.zeros(n_groups, bool)
    if src.size and tgt.size:
        out[cluster_overlap(src, tgt, threshold=threshold, reading=reading).kept] = True
    return out


def scale_distances(distance: np.ndarray, how: str) -> np.ndarray:
    """``"raw"``: as computed; ``"normalized"``: divided by the mean off-diagonal distance (so that
    beta = 0.2 acts on distances of order 1 whatever the feature scale)."""
    d = np.nan_to_num(np.asarray(distance, float), nan=0.0)
    if how == "raw":
        return d
    if how == "normalized":
        off = d[~np.eye(len(d), dtype=bool)]
        return d / off.mean() if off.size and off.mean() > 0 else d
    raise ValueError(f"centroid_distance must be 'raw' or 'normalized', got {how!r}")


def anchor_set(data: TrainingData, method: str, source: str, target: str, *, threshold: float = 0.25,
               reading: str = "ratio", centroid_distance: str = "normalized", soft_weights: bool = True,
               vowels=VOWELS) -> AnchorSet:
    """The grouping of ``method`` (one of :data:`TRIPLET_METHODS`).

    * AG-CC: the token's AG cluster; distances between AG barycenters (soft-DTW divergence).
    * PA-CC: the token's vowel; w = 1 (zero distances), as phoneme anchoring [13] has no soft weight.
    * Hard-AG: the token's vowel, i.e. the AG segment cut at the hard phonetic boundaries; the
      distance between two groups is the soft-DTW divergence of their mean AG trajectories (the
      vowel templates), so the only difference from AG-CC is hard phonetic groups in place of
      learned AG clusters.

    ``soft_weights=False`` sets w = 1 for any method (an ablation). ``vowels`` (names from
    :data:`VOWELS`) restricts the tokens that take part, as anchors and in the
    source pool, to those vowels (Sec. II-B's six by default; an ablation); the common groups are
    then those of the restricted tokens.
    """
    tok = data.tokens
    usable = np.isin(tok["vowel"].to_numpy(), [VOWELS.index(v) for v in vowel_set(vowels)])
    if method == "AG-CC":
        group, n, dist = tok["ag_cluster"].to_numpy(), len(data.ag_distance), data.ag_distance
    elif method in ("PA-CC", "Hard-AG"):
        group, n = tok["vowel"].to_numpy(), len(VOWELS)
        dist = np.zeros((n, n)) if method == "PA-CC" else data.vowel_distance
    else:
        raise ValueError(f"{method!r} does not anchor on triplets; choose one of {TRIPLET_METHODS}")
    dist = scale_distances(dist, centroid_distance) if soft_weights else np.zeros((n, n))
    common = common_groups(group[usable], tok["corpus"].to_numpy()[usable], tok["split"].to_numpy()[usable], n,
                           source, target, threshold, reading)
    return AnchorSet(method, group.astype(np.int64), dist, common, usable)


def vowel_set(vowels) -> tuple[str, ...]:
    """A vowel set (a sequence of names from :data:`VOWELS`) in the canonical order of
    :data:`VOWELS`; refuses unknown vowels and an empty set."""
    names = list(vowels) if not isinstance(vowels, str) else [vowels]
    unknown = sorted(set(names) - set(VOWELS))
    if unknown or not names:
        raise ValueError(f"vowels must be a non-empty subset of {', '.join(VOWELS)}, got {vowels!r}")
    return tuple(v for v in VOWELS if v in names)


# ------------------------------------------------------------------------------------------------
# Configuration and metrics
# ------------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """One training run, built from the validated parameters only (:meth:`from_params`): no field
    has a default of its own.

    ``method``, ``direction``, ``seed``, ``gamma`` (the weight of Eq. 4, chosen from
    ``gamma_grid``) and ``threads`` (torch threads, 0 = torch's default) name the run and are set
    by the grids (:mod:`agcc.experiments`); every other field is the ``profiles.yml`` parameter of
    the same name. Lists are stored as tuples (hashable; one spelling per task key).
    """

    method: str
    direction: str
    seed: int
    gamma: float
    threads: int
    alpha: float
    beta: float
    soft_weights: bool
    centroid_distance: str
    normalize_embeddings: bool
    target_labels: str
    pseudo_threshold: float
    overlap_threshold: float
    overlap_reading: str
    vowels: tuple[str, ...]
    lacc_layers: tuple[int, ...]
    max_epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    patience: int
    d_model: int
    n_heads: int
    n_layers: int
    d_ff: int
    dropout: float
    fc_sizes: tuple[int, ...]
    frame_pool: int
    feature_norm: str
    device: str

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")
        if self.direction not in directions():
            raise ValueError(f"unknown direction {self.direction!r}; choose one of {directions()}")
        src, tgt = self.direction.split("->")
        if (self.method == "Upper Bound") != (src == tgt):
            raise ValueError(f"{self.method} runs on {'within' if self.method == 'Upper Bound' else 'cross'}"
                             f"-corpus directions, not {self.direction}")
        if self.target_labels not in ("pseudo", "oracle"):
            raise ValueError(f"target_labels must be 'pseudo' or 'oracle', got {self.target_labels!r}")
        self.vowels = vowel_set(self.vowels)  # one spelling per set: stable task keys
        self.fc_sizes, self.lacc_layers = tuple(self.fc_sizes), tuple(self.lacc_layers)  # a task's JSON lists

    @property
    def source(self) -> str:
        return source_of(self.direction)

    @property
    def target(self) -> str:
        return target_of(self.direction)

    @classmethod
    def from_params(cls, params: dict, *, method: str = "AG-CC", direction: str = "C->I", gamma: float | None = None,
                    threads: int = 0, **override) -> "TrainConfig":
        """A config from the resolved parameters (:func:`agcc.params.resolve`, ``ctx.params``):
        every setting is the parameter of the same name, ``seed`` the run's seed; ``override``
        replaces any of them. The run's name defaults to the template the grids start from (AG-CC,
        C->I, the first gamma of ``gamma_grid``, torch's threads)."""
        settings = {f.name for f in fields(cls)} - {"method", "direction", "gamma", "threads"}
        unknown = sorted(set(override) - settings)
        if unknown:
            raise TypeError(f"TrainConfig has no setting {unknown}")
        values = {name: params[name] for name in settings}
        values.update(override)
        return cls(method=method, direction=direction, gamma=params["gamma_grid"][0] if gamma is None else gamma,
                   threads=threads, **values)


def uar_scores(y_true, y_pred) -> dict:
    """Table II's columns in percent: ``4-CAT`` the unweighted average recall of the 4-class
    predictions (scikit-learn's balanced accuracy: mean recall over the classes present), and per
    emotion the one-vs-rest UAR of the same predictions (emotion vs the other three; NaN when the
    emotion is absent from ``y_true``)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true" on tiny test sets
        out = {"4-CAT": 100.0 * balanced_accuracy_score(y_true, y_pred)}
        for col, emotion in EMOTION_COLUMNS:
            e = FOUR_CLASSES.index(emotion)
            t = y_true == e
            out[col] = 100.0 * balanced_accuracy_score(t, y_pred == e) if 0 < t.sum() < len(t) else float("nan")
    return out


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------
def frame_rows(offset: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Rows ``offset[i] .. offset[i] + length[i] - 1`` of every span, concatenated (no loop)."""
    within = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    return np.repeat(offset, length) + within


class _Batches:
    """Vectorised batch assembly from :class:`TrainingData` (torch tensors on one device)."""

    def __init__(self, data: TrainingData, device):
        import torch

        u = data.utterances
        self.torch, self.device = torch, device
        self.frames = torch.from_numpy(np.array(data.frames, dtype=np.float32))  # in memory, on the CPU
        self.offset = u["offset"].to_numpy(np.int64)
        self.length = u["n_frames"].to_numpy(np.int64)
        self.label = u["label"].to_numpy(np.int64).copy()  # writable: torch.from_numpy warns otherwise
        self.first_token = u["first_token"].to_numpy(np.int64)
        self.n_tokens = u["n_tokens"].to_numpy(np.int64)
        t = data.tokens
        self.tok_start, self.tok_end = t["start"].to_numpy(np.int64), t["end"].to_numpy(np.int64)

    def inputs(self, rows: np.ndarray):
        """Frames (B, T, F) and mask (B, T) of utterances ``rows`` (padded to the longest)."""
        torch = self.torch
        lengths = self.length[rows]
        steps = np.arange(lengths.max())
        mask = steps[None, :] < lengths[:, None]  # (B, T)
        index = np.where(mask, self.offset[rows, None] + steps[None, :], 0)  # (B, T) rows of frames
        x = self.frames[torch.from_numpy(index)] * torch.from_numpy(mask).unsqueeze(-1)
        return x.to(self.device), torch.from_numpy(mask).to(self.device)

    def tokens(self, rows: np.ndarray):
        """Token ids of utterances ``rows`` (n,) and the batch position of each (n,)."""
        counts = self.n_tokens[rows]
        return frame_rows(self.first_token[rows], counts), np.repeat(np.arange(len(rows)), counts)

    def spans(self, token_ids: np.ndarray, position: np.ndarray, factor: int = 1):
        """(batch position, start, end) of tokens, in frames pooled by ``factor``."""
        from .model import pooled_span

        torch = self.torch
        as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(self.device)  # noqa: E731
        return (as_t(position), *pooled_span(as_t(self.tok_start[token_ids]), as_t(self.tok_end[token_ids]), factor))


@dataclass
class RunResult:
    """Outcome of :func:`train_run`: Table II's metrics on the target test split, the best epoch
    by source validation UAR, the per-epoch history and the wall time."""

    config: TrainConfig
    metrics: dict
    val_uar: float
    best_epoch: int
    history: pd.DataFrame
    wall_s: float
    predictions: np.ndarray = field(repr=False, default=None)

    def row(self) -> dict:
        """One flat row for ``table_ii_runs.csv``."""
        return {"model": self.config.method, "direction": self.config.direction, "seed": self.config.seed,
                **self.metrics, "val_uar": self.val_uar, "best_epoch": self.best_epoch,
                "epochs": len(self.history), "wall_s": round(self.wall_s, 2),
                "gamma": 0.0 if "gamma" in _UNUSED[self.config.method] else self.config.gamma,  # 0: no anchor loss
                "triplets_per_step": float(self.history["triplets"].mean()) if len(self.history) else 0.0,
                # share of anchors whose (pseudo-)label was right, over all epochs (diagnostic)
                "anchor_label_acc": float(np.nansum(self.history["anchor_label_acc"] * self.history["triplets"])
                                          / max(self.history["triplets"].sum(), 1e-9)) * 100
                if self.history["triplets"].sum() else float("nan")}


def build_model(cfg: TrainConfig, n_features: int, mean=None, std=None):
    """The :class:`agcc.model.SERModel` a run of ``cfg`` trains (also what Fig. 3 draws)."""
    import torch

    from .model import SERModel

    as_t = lambda a: None if a is None else torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return SERModel(n_features, cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.d_ff, cfg.dropout,
                    tuple(cfg.fc_sizes), len(FOUR_CLASSES), as_t(mean), as_t(std),
                    cfg.frame_pool)


def predict(model, batches: _Batches, rows: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Predicted class of utterances ``rows`` (batched by length to limit padding)."""
    import torch

    model.eval()
    order = np.argsort(batches.length[rows], kind="stable")  # positions in rows, shortest first
    out = np.empty(len(rows), dtype=np.int64)
    with torch.no_grad():
        for i in range(0, len(order), batch_size):
            chunk = order[i:i + batch_size]
            out[chunk] = model(*batches.inputs(rows[chunk]))["logits"].argmax(1).cpu().numpy()
    return out


def train_run(data: TrainingData, cfg: TrainConfig, *, progress: bool = True) -> RunResult:
    """Train one model and evaluate it on the target test split (see the module docstring)."""
    import torch
    from tqdm import tqdm

    from .io import torch_device
    from .losses import ag_anchored_loss, confident_labels, coral_loss, mine_triplets
    from .model import pool_spans

    start_time = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    device = torch_device(cfg.device)
    u = data.utterances
    rows = lambda corpus, split: np.flatnonzero(((u["corpus"] == corpus) & (u["split"] == split)).to_numpy())  # noqa: E731
    src_train, src_val = rows(cfg.source, "train"), rows(cfg.source, "val")
    tgt_train, tgt_test = rows(cfg.target, "train"), rows(cfg.target, "test")
    for name, r in (("source train", src_train), ("source validation", src_val), ("target test", tgt_test)):
        if r.size == 0:
            raise ValueError(f"{cfg.direction}: the {name} split is empty")
    uses_target = cfg.method not in ("Source only", "Upper Bound")
    if tgt_train.size == 0 and (uses_target or cfg.feature_norm == "per_corpus"):
        raise ValueError(f"{cfg.direction}: no unlabelled target training utterances")

    batches = _Batches(data, device)
    if cfg.feature_norm == "per_corpus":
        # each corpus standardised with its own training frames (no label needed): removes the
        # corpora's global channel offsets before the model sees them
        for corpus in (cfg.source, cfg.target):
            mine = np.flatnonzero((u["corpus"] == corpus).to_numpy())
            fit = frame_rows(batches.offset[rows(corpus, "train")], batches.length[rows(corpus, "train")])
            every = torch.from_numpy(frame_rows(batches.offset[mine], batches.length[mine]))
            sel = batches.frames[fit]
            batches.frames[every] = (batches.frames[every] - sel.mean(0)) / (sel.std(0) + 1e-5)
        mean, std = np.zeros(data.n_features, np.float32), np.ones(data.n_features, np.float32)
    elif cfg.feature_norm == "source":
        sel = batches.frames[frame_rows(batches.offset[src_train], batches.length[src_train])].numpy()
        mean, std = sel.mean(0), sel.std(0) + 1e-5  # input standardisation from source training frames
    else:
        raise ValueError(f"feature_norm must be 'per_corpus' or 'source', got {cfg.feature_norm!r}")
    model = build_model(cfg, data.n_features, mean, std).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ce = torch.nn.CrossEntropyLoss()

    anchors = None
    if cfg.method in TRIPLET_METHODS:
        anchors = anchor_set(data, cfg.method, cfg.source, cfg.target, threshold=cfg.overlap_threshold,
                             reading=cfg.overlap_reading, centroid_distance=cfg.centroid_distance,
                             soft_weights=cfg.soft_weights, vowels=cfg.vowels)
        usable_token = anchors.usable
        group = torch.from_numpy(anchors.group).to(device)
        common = torch.from_numpy(anchors.common).to(device)
        distance = torch.from_numpy(anchors.distance).float().to(device)
    layers = list(cfg.lacc_layers) if cfg.method == "LA-CC" else []
    labels = torch.from_numpy(batches.label).to(device)

    def anchored(out_s, out_t, s_rows, t_rows):
        """The triplet loss of one step, its number of triplets and of anchors whose
        (pseudo-)label is right."""
        s_tok, s_pos = batches.tokens(s_rows)
        t_tok, t_pos = batches.tokens(t_rows)
        s_use, t_use = usable_token[s_tok], usable_token[t_tok]  # tokens of the anchoring vowels
        s_tok, s_pos, t_tok, t_pos = s_tok[s_use], s_pos[s_use], t_tok[t_use], t_pos[t_use]
        if len(s_tok) == 0 or len(t_tok) == 0:
            return out_s["logits"].sum() * 0.0, 0, 0
        z_s = pool_spans(out_s["frames"], *batches.spans(s_tok, s_pos, cfg.frame_pool))  # (n_s, d_model)
        z_t = pool_spans(out_t["frames"], *batches.spans(t_tok, t_pos, cfg.frame_pool))  # (n_t, d_model)
        if cfg.normalize_embeddings:
            z_s, z_t = torch.nn.functional.normalize(z_s, dim=1), torch.nn.functional.normalize(z_t, dim=1)
        s_emotion = labels[torch.from_numpy(s_rows[s_pos]).to(device)]
        if cfg.target_labels == "oracle":
            t_emotion = labels[torch.from_numpy(t_rows[t_pos]).to(device)]
            confident = torch.ones_like(t_emotion, dtype=torch.bool)
        else:  # pseudo-labels of the current model, per target utterance, above a confidence
            pred, ok = confident_labels(out_t["logits"], cfg.pseudo_threshold)  # (B_t,), (B_t,)
            pos_t = torch.from_numpy(t_pos).to(device)
            t_emotion, confident = pred[pos_t], ok[pos_t]
        g_s = group[torch.from_numpy(s_tok).to(device)]
        g_t = group[torch.from_numpy(t_tok).to(device)]
        a, p, n = mine_triplets(g_t, t_emotion, confident & common[g_t], g_s, s_emotion, gen)
        loss = ag_anchored_loss(z_t[a], z_s[p], z_s[n], distance[g_t[a], g_s[n]], cfg.alpha, cfg.beta)
        # diagnostic only (never used for training or selection): anchors whose emotion is right
        truth = labels[torch.from_numpy(t_rows[t_pos]).to(device)]
        right = int((t_emotion[a] == truth[a]).sum())
        return loss, int(a.numel()), right

    history, best = [], (-1.0, -1, None)
    tgt_cycle = np.array([], dtype=np.int64)
    bar = tqdm(range(cfg.max_epochs), desc=f"{cfg.method} {cfg.direction} seed {cfg.seed}", disable=not progress,
               leave=False)
    for epoch in bar:
        model.train()
        order = rng.permutation(src_train)
        sums = {"ce": 0.0, "anchor": 0.0, "triplets": 0, "right": 0, "steps": 0}
        for i in range(0, len(order), cfg.batch_size):
            s_rows = order[i:i + cfg.batch_size]
            out_s = model(*batches.inputs(s_rows))
            loss = ce(out_s["logits"], labels[torch.from_numpy(s_rows).to(device)])
            sums["ce"] += loss.item()
            if uses_target:
                if len(tgt_cycle) < cfg.batch_size:  # unlabelled target batches, reshuffled when used up
                    tgt_cycle = np.concatenate([tgt_cycle, rng.permutation(tgt_train)])
                t_rows, tgt_cycle = tgt_cycle[:cfg.batch_size], tgt_cycle[cfg.batch_size:]
                out_t = model(*batches.inputs(t_rows))
                if layers:
                    extra = sum(coral_loss(out_s["layers"][k], out_t["layers"][k]) for k in layers)
                    n_trip = n_right = 0
                else:
                    extra, n_trip, n_right = anchored(out_s, out_t, s_rows, t_rows)
                loss = loss + cfg.gamma * extra
                sums["anchor"] += float(extra.detach()) if hasattr(extra, "detach") else float(extra)
                sums["triplets"] += n_trip
                sums["right"] += n_right
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums["steps"] += 1
        val_uar = uar_scores(batches.label[src_val], predict(model, batches, src_val))["4-CAT"]
        steps = max(sums["steps"], 1)
        history.append({"epoch": epoch + 1, "ce": sums["ce"] / steps, "anchor": sums["anchor"] / steps,
                        "triplets": sums["triplets"] / steps, "val_uar": val_uar,
                        "anchor_label_acc": sums["right"] / sums["triplets"] if sums["triplets"] else float("nan")})
        bar.set_postfix(val_uar=f"{val_uar:.1f}")
        if val_uar > best[0]:
            best = (val_uar, epoch + 1, copy.deepcopy(model.state_dict()))
        elif epoch + 1 - best[1] >= cfg.patience:
            break
    bar.close()
    model.load_state_dict(best[2])
    pred = predict(model, batches, tgt_test)
    metrics = uar_scores(batches.label[tgt_test], pred)
    return RunResult(cfg, metrics, best[0], best[1], pd.DataFrame(history), time.perf_counter() - start_time, pred)


# ------------------------------------------------------------------------------------------------
# A run as a grid task, and Table II's summaries
# ------------------------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _data_in_worker(folder: str) -> TrainingData:
    return TrainingData.load(folder, verify=False)


def run_task(task: dict) -> dict:
    """Grid task: ``task`` holds ``data`` (the saved :class:`TrainingData` folder) and the
    :class:`TrainConfig` fields; returns :meth:`RunResult.row` plus the per-epoch ``history``
    (a dict of lists). Each worker process loads the data once (memory-mapped)."""
    task = dict(task)
    data = _data_in_worker(str(task.pop("data")))
    cfg = TrainConfig(**{k: v for k, v in task.items() if k in {f.name for f in fields(TrainConfig)}})
    result = train_run(data, cfg, progress=False)
    return {**result.row(), "history": result.history.round(4).to_dict("list")}


# the settings each kind of method reads; the others are reset to their defaults in a task, so that
# changing, say, beta does not re-run the source-only model (tasks are keyed by their content)
_TRIPLET_ONLY = ("alpha", "beta", "soft_weights", "centroid_distance", "normalize_embeddings", "target_labels",
                 "pseudo_threshold", "overlap_threshold", "overlap_reading", "vowels")
_UNUSED = {
    "Source only": ("gamma", "lacc_layers", *_TRIPLET_ONLY),
    "Upper Bound": ("gamma", "lacc_layers", *_TRIPLET_ONLY),
    "LA-CC": _TRIPLET_ONLY,
    "PA-CC": ("lacc_layers", "beta", "soft_weights", "centroid_distance"),  # w = 1 whatever they are
    "AG-CC": ("lacc_layers",),
    "Hard-AG": ("lacc_layers",),
}


def canonical(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the settings its method does not read reset to the declared defaults
    (``profiles.yml``, whatever the profile)."""
    from dataclasses import replace

    defaults = TrainConfig.from_params(declared_defaults(), method=cfg.method, direction=cfg.direction)
    return replace(cfg, **{name: getattr(defaults, name) for name in _UNUSED[cfg.method]})


@lru_cache(maxsize=1)
def code_key() -> str:
    """sha256 (16 hex digits) of the source of the modules a training run executes
    (:mod:`agcc.model`, :mod:`agcc.losses`, this module): any edit gives new task keys."""
    from importlib import resources

    h = hashlib.sha256()
    for name in ("model.py", "losses.py", "train.py"):
        h.update(resources.files("agcc").joinpath(name).read_bytes())
    return h.hexdigest()[:16]


def task_for(cfg: TrainConfig, data_folder) -> dict:
    """The grid task of a config (a flat dict of literals: its key names the run), in
    :func:`canonical` form. It carries the data's cache key and :func:`code_key`, so that stored
    runs are never reused for other data (e.g. after re-clustering) or other code."""
    from .io import stamp_key

    data_key = stamp_key(data_folder)[:16]
    return {"data": str(data_folder), "data_key": data_key, "code": code_key(), **asdict(canonical(cfg))}
