"""Cross-corpus SER training (Sec. III-IV): data, the training loop, UAR, and runs as grid tasks.

* :func:`prepare_training_data` assembles, from the artifacts of notebooks 01-02, one array of
  acoustic frames for every four-class utterance, the vowel tokens with their frame spans and AG
  clusters, and the centroid distances the soft weights of Eq. 3 need. Every utterance left out is
  listed with its reason.
* :func:`train_run` trains one model of one method (:mod:`agcc.methods`: what each method adds to
  the loss, the hyperparameters it reads, its anchor grouping): Adam (Sec. IV: lr 1e-4, weight
  decay 1e-3), batch 64, up to ``max_epochs`` epochs, early stopping on **source** validation
  UAR; each step draws a batch of labelled source utterances and, for the methods that align
  corpora, a batch of unlabelled target utterances; the loss is L_ER + gamma * L_anchor (Eq. 4).
  Its random numbers come from streams of their own (:data:`STREAMS`), the same for every method
  of one seed (common random numbers); what it trains, adapts and is tested on is
  ``target_protocol`` (:func:`run_splits`).
  It is made of :func:`start_run` (generators, splits, input standardisation, model, optimiser,
  method), :func:`train_epoch`, :func:`evaluate` and :class:`EarlyStopping`. No target label is
  used for training or model selection unless ``target_labels="oracle"`` is asked for (analysis
  only).
* :func:`uar_scores` gives Table II's columns: 4-class UAR and, per emotion, the one-vs-rest
  ("binary") UAR of the 4-class predictions.
* :func:`task_for` and :func:`run_task` make a run a grid task (:mod:`agcc.grid`), keyed by its
  settings (:func:`canonical`), its data and the code that trains it (:func:`code_key`).

Nothing here loops over samples in Python: batches are gathered with index arrays, token
embeddings pooled with cumulative sums (:func:`agcc.model.pool_spans`) and triplets mined with
boolean matrices (:func:`agcc.losses.mine_triplets`).
"""
from __future__ import annotations

import base64
import copy
import hashlib
import importlib
import inspect
import io
import json
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from tqdm import tqdm

from . import methods
from .clustering import ClusteringRun, resample, softdtw_divergence
from .corpora import directions, source_of, target_of
from .features import extract_features, extractor_from_params, frame_times, layer_extractor_from_params
from .io import (atomic_write, cached_by_key, resolve_reference, source_key, stamp_key, torch_device, verify_folder,
                 write_reference)
from .params import defaults as declared_defaults
from .params import coerce
from .params import schema as parameter_schema
from .segments import DROPPED, SegmentSet
from .splits import session_folds
from .vocab import EMOTION_COLUMNS, FOUR_CLASSES, VOWELS


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------
FRAMES_REF = "frames.ref.json"  # a saved set's frames when they are another set's (TrainingData.shared_frames)
LAYERS_REF = "layers.ref.json"  # its layer means when they are another set's (TrainingData.shared_layers)
PARTIAL_FRAMES = ".frames.npy.tmp"  # frames being assembled in their folder (hidden: never in a stamp)


@dataclass
class TrainingData:
    """Everything a training run reads, in arrays.

    Attributes
    ----------
    utterances : DataFrame
        One row per usable utterance: ``utt_id, corpus, session`` (the unit splits and target
        folds keep whole), ``split, emotion, label`` (0-3 in
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
    layers : (n_utterances, L + 1, H) float32 or None
        The pre-trained model's hidden states, each averaged over the utterance
        (:class:`agcc.features.Wav2Vec2LayerMeans`), for LA-CC's layer similarity analysis and
        anchors (:mod:`agcc.layer_anchoring`); ``None`` for features without pre-trained layers.
    shared_frames : Path or None
        The ``frames.npy`` of another saved set that ``frames`` is (memory-mapped from), when the
        two differ only in the groupings (:func:`regroup`: the k ablation). Saved as a
        digest-checked reference (``frames.ref.json``, :func:`agcc.io.write_reference`), not a copy.
    shared_layers : Path or None
        Likewise the ``layers.npy`` of that set (``layers.ref.json``; about 0.5 GB at paper scale).
    """

    utterances: pd.DataFrame
    frames: np.ndarray
    tokens: pd.DataFrame
    ag_distance: np.ndarray
    vowel_distance: np.ndarray
    dropped: pd.DataFrame
    token_notes: pd.DataFrame
    layers: np.ndarray | None = None
    shared_frames: Path | None = field(default=None, repr=False)
    shared_layers: Path | None = field(default=None, repr=False)

    @property
    def n_features(self) -> int:
        return int(self.frames.shape[1])

    def save(self, folder) -> None:

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("utterances", "tokens", "dropped", "token_notes"):
            table = getattr(self, name)
            atomic_write(folder / f"{name}.csv", lambda fh, t=table: t.to_csv(fh, index=False))
        partial = folder / PARTIAL_FRAMES
        if self.shared_frames is None and isinstance(self.frames, np.memmap) \
                and Path(self.frames.filename).resolve() == partial.resolve():  # assembled in place
            self.frames.flush()
            os.replace(partial, folder / "frames.npy")
            (folder / FRAMES_REF).unlink(missing_ok=True)
        elif self.shared_frames is None:
            atomic_write(folder / "frames.npy", lambda fh: np.save(fh, self.frames))
            (folder / FRAMES_REF).unlink(missing_ok=True)
        else:  # the frames of another set: a reference with its digest, no copy (~7 GB at paper scale)
            write_reference(folder / FRAMES_REF, self.shared_frames)
            (folder / "frames.npy").unlink(missing_ok=True)
        atomic_write(folder / "distances.npz", lambda fh: np.savez(
            fh, ag_distance=self.ag_distance, vowel_distance=self.vowel_distance))
        if self.layers is not None and self.shared_layers is not None:  # another set's: a reference
            write_reference(folder / LAYERS_REF, self.shared_layers)
            (folder / "layers.npy").unlink(missing_ok=True)
        elif self.layers is not None:
            atomic_write(folder / "layers.npy", lambda fh: np.save(fh, self.layers))
            (folder / LAYERS_REF).unlink(missing_ok=True)
        else:  # a set saved before with layers: the folder's stamp must not list them
            (folder / "layers.npy").unlink(missing_ok=True)
            (folder / LAYERS_REF).unlink(missing_ok=True)

    @classmethod
    def load(cls, folder, mmap: bool = True, verify: bool = True) -> "TrainingData":
        """Read a saved set; ``frames`` is memory-mapped (worker processes share the pages).
        ``verify`` first checks the files against the digests of the folder's stamp
        (:func:`agcc.io.verify_folder`; shared frames against their reference's digest); the
        grid's workers skip it (the process that started them checked the folder, and hashing the
        frames in every worker would cost minutes): they check shared frames' size and stamp only."""
        folder = Path(folder)
        if verify:
            verify_folder(folder, "run the training notebook (05) again to recompute it")
        read = lambda n: pd.read_csv(folder / f"{n}.csv", keep_default_na=False, na_values=[""])  # noqa: E731
        dist = np.load(folder / "distances.npz")
        utterances = read("utterances")
        if "session" in utterances:  # "1001" is an actor's name, not a number
            utterances["session"] = utterances["session"].astype(str)
        shared = resolve_reference(folder / FRAMES_REF, deep=False) if (folder / FRAMES_REF).is_file() else None
        shared_layers = resolve_reference(folder / LAYERS_REF, deep=False) if (folder / LAYERS_REF).is_file() else None
        layers = shared_layers or (folder / "layers.npy")
        out = cls(utterances=utterances, frames=np.load(shared or folder / "frames.npy", mmap_mode="r" if mmap else None),
                  tokens=read("tokens"), ag_distance=dist["ag_distance"], vowel_distance=dist["vowel_distance"],
                  dropped=read("dropped"), token_notes=read("token_notes"),
                  layers=np.load(layers, mmap_mode="r" if mmap else None) if layers.is_file() else None,
                  shared_frames=shared, shared_layers=shared_layers)
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
        if self.layers is not None and (self.layers.ndim != 3 or len(self.layers) != len(u)):
            problems.append(f"layers.npy has shape {self.layers.shape}, not ({len(u)}, layers, width)")
        if problems:
            raise ValueError(f"{where or 'training data'}: inconsistent ({'; '.join(problems)})")


def token_frame_spans(start_s, end_s, n_frames: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Frame span ``[first, last + 1)`` of each phone interval: the frames whose centres lie in
    ``[start, end)``, as :mod:`agcc.segments` cut them."""
    centres = frame_times(n_frames)
    return (np.searchsorted(centres, np.asarray(start_s, float), side="left"),
            np.searchsorted(centres, np.asarray(end_s, float), side="left"))


def vowel_templates(segments, ag_run, n_points: int = 10) -> np.ndarray:
    """Per-vowel AG template: the mean of the vowel's validation AG segments, each in the AG
    model's coordinates (normalised per speaker as ``ag_run`` was, :meth:`ClusteringRun.ag_segments`,
    then standardised like it) and resampled to ``n_points`` frames -> (6, n_points, 24); NaN rows
    for a vowel with no validation token."""
    tokens = segments.tokens
    ag = ag_run.ag_segments(segments)
    out = np.full((len(VOWELS), n_points, segments.ag_frames.shape[1]), np.nan)
    for v, vowel in enumerate(VOWELS):
        rows = np.flatnonzero(((tokens["vowel"] == vowel) & (tokens["split"] == "val")).to_numpy())
        if rows.size:
            out[v] = np.mean([resample((ag[i] - ag_run.mean) / ag_run.std, n_points) for i in rows], axis=0)
    return out


def _template_distances(templates: np.ndarray, gamma: float) -> np.ndarray:

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
                          softdtw_gamma: float = 1.0, layers: dict | None = None,
                          frames_file=None) -> TrainingData:
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
    layers
        With wav2vec2 features, audio path -> (L + 1, H) utterance means of every hidden state
        (:class:`agcc.features.Wav2Vec2LayerMeans`; over the whole utterance, not the crop), for
        LA-CC; ``None`` otherwise.
    frames_file
        Write ``frames`` there (a ``.npy`` file, memory-mapped) instead of concatenating them in
        memory (~7 GB at paper scale); :meth:`TrainingData.save` into the same folder moves it into
        place (:data:`PARTIAL_FRAMES`).
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
        elif layers is not None and row.audio_path not in layers:
            dropped.append((row.utt_id, row.corpus, "training", "no pre-trained layer means"))
        else:
            keep.append(row)
    utt = pd.DataFrame([{"utt_id": r.utt_id, "corpus": r.corpus, "session": str(r.session), "split": r.split,
                         "emotion": r.emotion, "label": FOUR_CLASSES.index(r.emotion)} for r in keep],
                       columns=["utt_id", "corpus", "session", "split", "emotion", "label"])
    arrays = [features[r.audio_path][:max_frames] for r in keep]  # views (memory-mapped from the feature cache)
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    utt["n_frames"] = lengths
    utt["offset"] = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else []
    if not arrays:
        frames = np.zeros((0, 1), np.float32)
    elif frames_file is None:
        frames = np.concatenate(arrays).astype(np.float32, copy=False)
    else:  # written in place, utterance by utterance: no second copy of the corpus in memory
        frames = np.lib.format.open_memmap(frames_file, mode="w+", dtype=np.float32,
                                           shape=(int(lengths.sum()), arrays[0].shape[1]))
        for offset, a in zip(utt["offset"], arrays):
            frames[offset:offset + len(a)] = a
        frames.flush()

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

    templates = vowel_templates(segments, ag_run)
    layer_means = None if layers is None else np.stack([np.asarray(layers[r.audio_path], np.float32) for r in keep])
    return TrainingData(utterances=utt, frames=frames, tokens=tok, ag_distance=np.asarray(ag_run.divergence, float),
                        vowel_distance=_template_distances(templates, softdtw_gamma),
                        dropped=pd.DataFrame(dropped, columns=["utt_id", "corpus", "stage", "reason"]),
                        token_notes=pd.DataFrame(notes, columns=["reason", "tokens"]), layers=layer_means)


def regroup(base: TrainingData, frames_file, segments, ag_run, softdtw_gamma: float = 1.0) -> TrainingData:
    """``base`` with the AG clusters of another clustering ``ag_run`` of the same ``segments``
    (the k ablation, Sec. II-C): each token's ``ag_cluster`` becomes ``ag_run``'s label of that
    token, ``ag_distance`` its barycenters' divergences (Eq. 3) and ``vowel_distance`` the vowel
    templates' under its standardisation. Utterances, tokens and frames are ``base``'s: the frames
    are shared with ``frames_file`` (``base``'s saved ``frames.npy``), not copied, and so are the
    pre-trained layers' means (the ``layers.npy`` beside it) where ``base`` has them."""
    labels = pd.Series(np.asarray(ag_run.labels), index=segments.tokens["token_id"].to_numpy())
    tokens = base.tokens.assign(ag_cluster=labels.loc[base.tokens["token_id"].to_numpy()].to_numpy())
    templates = vowel_templates(segments, ag_run)
    layers = Path(frames_file).parent / "layers.npy"
    return replace(base, tokens=tokens, ag_distance=np.asarray(ag_run.divergence, float),
                   vowel_distance=_template_distances(templates, softdtw_gamma), shared_frames=Path(frames_file),
                   shared_layers=layers if base.layers is not None and layers.is_file() else None)


def cached_training_data(paths, params: dict, progress: bool = True, *, ag_clusters=None,
                         folder=None, frames_of=None) -> TrainingData:
    """:func:`prepare_training_data` from a profile's artifacts, cached in ``folder`` (default
    ``paths.root/training``; recomputed when the segments, the AG clustering or the options change).

    ``ag_clusters`` is the folder of the AG clustering to use (default ``paths.ag_clusters``, the
    model of notebook 02); the ablations of notebook 07 pass clusterings with another k, each with
    its own ``folder``. Each token's cluster is the clustering run's label of that token.

    ``frames_of`` (with ``ag_clusters``): the folder of the profile's training data (with notebook
    02's clustering, made here if needed); the set in ``folder`` is then :func:`regroup` of it, its
    frames a digest-checked reference to that folder's ``frames.npy`` instead of a copy."""
    ag_folder = Path(ag_clusters) if ag_clusters is not None else paths.ag_clusters
    folder = Path(folder) if folder is not None else paths.root / "training"
    options = {"max_frames": params["max_utt_frames"], "softdtw_gamma": params["softdtw_gamma"], "version": 2}
    layer_extractor = layer_extractor_from_params(params)  # None without pre-trained layers (log-mel)
    if layer_extractor is not None:  # only then in the key: the log-mel sets keep theirs
        options["layers"] = layer_extractor.name
    for stage, done in (("01 (data preparation)", paths.segments), ("02 (AG clustering)", ag_folder)):
        if not stamp_key(done):
            raise FileNotFoundError(f"{done} holds no finished result: run notebook {stage} first")
    base = None
    if frames_of is not None:
        base = cached_training_data(paths, params, progress, folder=frames_of)
    key = hashlib.sha256((stamp_key(paths.segments) + stamp_key(ag_folder)
                          + json.dumps(options, sort_keys=True)
                          + ("" if base is None else "frames of " + stamp_key(frames_of))).encode()).hexdigest()

    def compute() -> TrainingData:
        if base is not None:
            return regroup(base, Path(frames_of) / "frames.npy", SegmentSet.load(paths.segments),
                           ClusteringRun.load(ag_folder), params["softdtw_gamma"])
        utterances = pd.read_csv(paths.tables / "utterances.csv", dtype={"speaker": str, "session": str},
                                 keep_default_na=False)
        segments = SegmentSet.load(paths.segments)
        run = ClusteringRun.load(ag_folder)
        features, failed = extract_features(utterances["audio_path"].tolist(), extractor_from_params(params),
                                            paths.cache / "features", progress=progress)
        layers = None
        if layer_extractor is not None:  # a second pass of the model: every layer, averaged per utterance
            layers = extract_features(utterances["audio_path"].tolist(), layer_extractor,
                                      paths.cache / "features", progress=progress)[0]
        folder.mkdir(parents=True, exist_ok=True)
        return prepare_training_data(utterances, segments, np.asarray(run.labels), run, features, failed,
                                     max_frames=params["max_utt_frames"], softdtw_gamma=params["softdtw_gamma"],
                                     layers=layers, frames_file=folder / PARTIAL_FRAMES)

    data = cached_by_key(folder, key, lambda: TrainingData.load(folder, verify=False), compute, lambda d: d.save(folder))
    # just computed: read back memory-mapped, so that this process (a notebook's kernel) does not hold
    # the frames (~7 GB at paper scale) in memory of its own while the grid's workers map the same file
    return data if isinstance(data.frames, np.memmap) else TrainingData.load(folder, verify=False)


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

    ``method``, ``direction``, ``seed``, ``fold`` (the target fold a run tests under
    ``target_protocol: folds``; 0 otherwise), ``gamma`` (the weight of Eq. 4, from ``gamma_grid``)
    and ``threads`` (torch threads, 0 = torch's default) name the run and are set by the grids
    (:mod:`agcc.experiments`); every other field is the ``profiles.yml`` parameter of the same
    name. Lists are stored as tuples (hashable; one spelling per task key).
    """

    method: str
    direction: str
    seed: int
    fold: int
    gamma: float
    threads: int
    target_protocol: str
    target_folds: int
    lr_schedule: str
    source_validation: str
    model_selection: str
    init: str
    finetune_epochs: int
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
    lacc_similarity: str
    lacc_n_layers: int
    lacc_pick: str
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
        method = methods.get(self.method)  # a registered method (agcc.methods)
        if self.direction not in directions():
            raise ValueError(f"unknown direction {self.direction!r}; choose one of {directions()}")
        if not method.runs_on(self.direction):
            raise ValueError(f"{self.method} runs on {'within' if method.within_corpus else 'cross'}"
                             f"-corpus directions, not {self.direction}")
        for name in ("target_labels", "target_protocol", "lr_schedule", "source_validation", "model_selection", "init"):
            coerce(parameter_schema()[name], getattr(self, name))  # the declared choices, checked as at load
        if not 0 <= self.fold < (self.target_folds if self.target_protocol == "folds" else 1):
            raise ValueError(f"fold {self.fold} does not exist under target_protocol {self.target_protocol!r} "
                             f"with {self.target_folds} target_folds")
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
                    threads: int = 0, fold: int = 0, **override) -> "TrainConfig":
        """A config from the resolved parameters (:func:`agcc.params.resolve`, ``ctx.params``):
        every setting is the parameter of the same name, ``seed`` the run's seed; ``override``
        replaces any of them. The run's name defaults to the template the grids start from (AG-CC,
        C->I, the first gamma of ``gamma_grid``, torch's threads)."""
        settings = {f.name for f in fields(cls)} - {"method", "direction", "gamma", "threads", "fold"}
        unknown = sorted(set(override) - settings)
        if unknown:
            raise TypeError(f"TrainConfig has no setting {unknown}")
        values = {name: params[name] for name in settings}
        values.update(override)
        return cls(method=method, direction=direction, gamma=params["gamma_grid"][0] if gamma is None else gamma,
                   threads=threads, fold=fold, **values)


def uar_scores(y_true, y_pred) -> dict:
    """Table II's columns in percent: ``4-CAT`` the unweighted average recall of the 4-class
    predictions (scikit-learn's balanced accuracy: mean recall over the classes present), and per
    emotion the one-vs-rest UAR of the same predictions (emotion vs the other three; NaN when the
    emotion is absent from ``y_true``)."""
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


class Batches:
    """Vectorised batch assembly from :class:`TrainingData` (torch tensors on one device).

    The frames stay where :class:`TrainingData` holds them — memory-mapped from ``frames.npy`` when
    loaded from disk, so that every worker process of a grid shares the same pages and none copies
    the corpus (about 7 GB at wav2vec2-base size). A batch gathers its rows, (B, T, F), and
    standardises them there with its utterances' corpus statistics (:meth:`standardise`); the
    values are the same float32 values as standardising the whole array first."""

    def __init__(self, data: TrainingData, device):
        import torch

        u = data.utterances
        self.torch, self.device = torch, device
        self.frames = data.frames  # (total_frames, F) float32, memory-mapped: never copied whole
        # per-utterance standardisation group (-1: none) and the groups' statistics (G, F)
        self.group = np.full(len(u), -1, dtype=np.int64)
        self.mean = self.scale = None
        self.offset = u["offset"].to_numpy(np.int64)
        self.length = u["n_frames"].to_numpy(np.int64)
        self.label = u["label"].to_numpy(np.int64).copy()  # writable: torch.from_numpy warns otherwise
        self.first_token = u["first_token"].to_numpy(np.int64)
        self.n_tokens = u["n_tokens"].to_numpy(np.int64)
        t = data.tokens
        self.tok_start, self.tok_end = t["start"].to_numpy(np.int64), t["end"].to_numpy(np.int64)

    def gather(self, frame_rows: np.ndarray):
        """The frames of ``frame_rows`` as a float32 tensor (n, F), read from the (memory-mapped)
        array: only these rows are copied."""
        return self.torch.from_numpy(np.asarray(self.frames[frame_rows], dtype=np.float32))

    def standardise(self, rows: np.ndarray, mean, scale) -> None:
        """Standardise the frames of utterances ``rows`` as ``(x - mean) / scale`` ((F,) tensors)
        whenever a batch gathers them (one group of utterances, e.g. one corpus, per call)."""
        torch = self.torch
        if self.mean is None:
            self.mean, self.scale = mean[None, :], scale[None, :]
        else:
            self.mean, self.scale = torch.cat([self.mean, mean[None, :]]), torch.cat([self.scale, scale[None, :]])
        self.group[rows] = len(self.mean) - 1

    def inputs(self, rows: np.ndarray):
        """Frames (B, T, F) and mask (B, T) of utterances ``rows`` (padded to the longest), on the
        device."""
        return self.to_device(self.assemble(rows))

    def assemble(self, rows: np.ndarray):
        """:meth:`inputs` on the CPU, before the copy to the device: the frames gathered and
        standardised, in pinned (page-locked) memory when the device is a GPU, so that the copy
        can overlap compute."""
        torch = self.torch
        lengths = self.length[rows]
        steps = np.arange(lengths.max())
        mask = steps[None, :] < lengths[:, None]  # (B, T)
        index = np.where(mask, self.offset[rows, None] + steps[None, :], 0)  # (B, T) rows of frames
        x = self.gather(index)  # (B, T, F)
        group = self.group[rows]
        if (group >= 0).any():
            if (group < 0).any():
                raise ValueError("a batch mixes standardised utterances with others")
            g = torch.from_numpy(group)
            x = (x - self.mean[g][:, None, :]) / self.scale[g][:, None, :]
        mask = torch.from_numpy(mask)
        x = x * mask.unsqueeze(-1)
        if self.device.type == "cuda":
            x, mask = x.pin_memory(), mask.pin_memory()
        return x, mask

    def to_device(self, assembled):
        """An :meth:`assemble` result on the device (asynchronous from pinned memory)."""
        return tuple(t.to(self.device, non_blocking=True) for t in assembled)

    def stream(self, items):
        """``(item, inputs)`` for each ``item`` of ``items`` (a tuple of row arrays, ``None`` for
        no batch), where ``inputs`` holds :meth:`inputs` of each: the next item's batches are
        assembled in a background thread while the caller computes on this one (gathering from the
        memory-mapped frames, standardising and pinning overlap the model's steps; Sec. IV's
        batches at 768 x 750 x 64 are ~150 MB each). The values are those of :meth:`inputs`;
        ``items`` is read one item ahead."""
        items = iter(items)

        def build(item):
            return tuple(None if rows is None else self.assemble(rows) for rows in item)

        with ThreadPoolExecutor(1, thread_name_prefix="agcc-batches") as pool:
            item = next(items, None)
            pending = pool.submit(build, item) if item is not None else None
            while pending is not None:
                current, assembled = item, pending.result()
                item = next(items, None)
                pending = pool.submit(build, item) if item is not None else None
                yield current, tuple(None if a is None else self.to_device(a) for a in assembled)

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
    """Outcome of :func:`train_run`: Table II's metrics on the target test utterances
    (:func:`run_splits`), the best epoch
    by source validation UAR, the per-epoch history and the wall time."""

    config: TrainConfig
    metrics: dict
    val_uar: float
    best_epoch: int
    history: pd.DataFrame
    wall_s: float
    predictions: np.ndarray = field(repr=False, default=None)
    state: dict = field(repr=False, default=None)  # the kept model's weights (a source-only model to fine-tune)

    def row(self) -> dict:
        """One flat row for ``table_ii_runs.csv``."""
        takes_gamma = "gamma" in methods.get(self.config.method).hyperparameters
        return {"model": self.config.method, "direction": self.config.direction, "seed": self.config.seed,
                "fold": self.config.fold, "n_test": len(self.predictions) if self.predictions is not None else 0,
                **self.metrics, "val_uar": self.val_uar, "best_epoch": self.best_epoch,
                "epochs": len(self.history), "wall_s": round(self.wall_s, 2),
                "gamma": self.config.gamma if takes_gamma else 0.0,  # 0: no anchor loss
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


def predict(model, batches: Batches, rows: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Predicted class of utterances ``rows`` (batched by length to limit padding)."""
    import torch

    model.eval()
    order = np.argsort(batches.length[rows], kind="stable")  # positions in rows, shortest first
    out = np.empty(len(rows), dtype=np.int64)
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    with torch.no_grad():  # the next chunk is assembled while the model predicts this one
        for chunk, (_, (inputs,)) in zip(chunks, batches.stream((rows[c],) for c in chunks)):
            out[chunk] = model(*inputs)["logits"].argmax(1).cpu().numpy()
    return out


@dataclass
class Splits:
    """The utterance rows a run reads: labelled source training and validation utterances,
    unlabelled target training utterances, and the target test utterances (evaluation only)."""

    src_train: np.ndarray
    src_val: np.ndarray
    tgt_train: np.ndarray
    tgt_test: np.ndarray


def run_splits(data: TrainingData, cfg: TrainConfig, uses_target: bool) -> Splits:
    """:class:`Splits` of ``cfg``'s direction under ``cfg.target_protocol`` (see the replication
    notes); a clear error for a split the run needs and lacks.

    Cross-corpus: the source's ``train`` split is the labelled training data and its ``val`` split
    (with ``source_validation: val+test`` also its ``test`` split, which a cross-corpus run does not
    otherwise use) the early-stopping data. The target is

    * ``transductive``: every target utterance is tested, and is also the unlabelled data a method
      adapts on (one run tests the whole target corpus);
    * ``folds``: the target's split units in ``target_folds`` folds
      (:func:`agcc.splits.session_folds`); the run of fold ``cfg.fold`` tests that fold and adapts
      on the others, so that no tested utterance is seen, even unlabelled;
    * ``split``: the target's ``test`` split is tested, its ``train`` split adapted on.

    Within-corpus (the upper bounds), the test utterances are never trained on: under ``folds``
    fold ``cfg.fold`` is tested, the ``val`` split outside it stops early and the rest trains;
    otherwise the corpus's ``test`` split is tested."""
    u = data.utterances
    corpus = u["corpus"].to_numpy()
    split = u["split"].to_numpy()
    source, target = corpus == cfg.source, corpus == cfg.target
    val = np.isin(split, ["val", "test"] if cfg.source_validation == "val+test" else ["val"])
    in_fold = np.zeros(len(u), dtype=bool)
    if cfg.target_protocol == "folds":
        if "session" not in u:
            raise ValueError("the training data has no session column for target folds: run notebook 05 again")
        in_fold[target] = session_folds(u.loc[target, "session"], cfg.target_folds) == cfg.fold
    rows = np.flatnonzero
    if cfg.source == cfg.target:  # within-corpus: labelled test utterances never train
        test = in_fold if cfg.target_protocol == "folds" else source & (split == "test")
        train = rows(source & ~test & (split != "val") if cfg.target_protocol == "folds" else source & (split == "train"))
        splits = Splits(train, rows(source & ~test & (split == "val")), train, rows(test))
    elif cfg.target_protocol == "transductive":
        splits = Splits(rows(source & (split == "train")), rows(source & val), rows(target), rows(target))
    elif cfg.target_protocol == "folds":
        splits = Splits(rows(source & (split == "train")), rows(source & val), rows(target & ~in_fold), rows(in_fold))
    else:
        splits = Splits(rows(source & (split == "train")), rows(source & val),
                        rows(target & (split == "train")), rows(target & (split == "test")))
    for name, r in (("source train", splits.src_train), ("source validation", splits.src_val),
                    ("target test", splits.tgt_test)):
        if r.size == 0:
            raise ValueError(f"{cfg.direction}: the {name} split is empty")
    if splits.tgt_train.size == 0 and (uses_target or cfg.feature_norm == "per_corpus"):
        raise ValueError(f"{cfg.direction}: no unlabelled target training utterances")
    return splits


STATS_CHUNK = 2 ** 26  # frame values (256 MB of float32) up to which statistics are taken in one piece


def frame_statistics(batches: Batches, utt_rows: np.ndarray, ddof: int) -> tuple:
    """Mean and standard deviation (``ddof`` as in numpy) over the frames of utterances
    ``utt_rows``, as float32 tensors (F,). Up to :data:`STATS_CHUNK` values, from the gathered
    frames in one piece (the numbers of every profile but the paper's); beyond, accumulated in
    float64 over chunks of rows, so that no worker holds a copy of a corpus's frames (~3 GB at
    paper scale; the two agree to float32 rounding)."""
    torch = batches.torch
    rows = frame_rows(batches.offset[utt_rows], batches.length[utt_rows])
    n_features = batches.frames.shape[1]
    if len(rows) * n_features <= STATS_CHUNK:
        sel = batches.gather(rows)  # (n, F)
        if ddof == 1:
            return sel.mean(0), sel.std(0)
        sel = sel.numpy()
        return torch.from_numpy(sel.mean(0)), torch.from_numpy(sel.std(0))
    total, squares = np.zeros(n_features), np.zeros(n_features)
    step = max(STATS_CHUNK // n_features, 1)
    for i in range(0, len(rows), step):
        chunk = np.asarray(batches.frames[rows[i:i + step]], dtype=np.float64)  # (<= step, F)
        total += chunk.sum(0)
        squares += np.square(chunk).sum(0)
    mean = total / len(rows)
    var = np.maximum(squares - len(rows) * mean ** 2, 0.0) / (len(rows) - ddof)
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(np.sqrt(var).astype(np.float32))


def normalise_inputs(batches: Batches, data: TrainingData, cfg: TrainConfig,
                     splits: Splits) -> tuple[np.ndarray, np.ndarray]:
    """Input standardisation (``feature_norm``, see the replication notes): ``"per_corpus"``
    standardises each corpus's frames in ``batches`` with the frames of its training utterances
    in ``splits`` (the source's labelled ones, the target's unlabelled ones; no label needed;
    removes the corpora's global channel offsets) and returns an identity ``(mean, std)``;
    ``"source"`` returns the mean and std of the source training frames, for the model's input
    layer. Statistics by :func:`frame_statistics` (no copy of a corpus at paper scale)."""
    u = data.utterances
    if cfg.feature_norm == "per_corpus":
        # once per corpus (C->C: one)
        for corpus, train in dict([(cfg.target, splits.tgt_train), (cfg.source, splits.src_train)]).items():
            mine = np.flatnonzero((u["corpus"] == corpus).to_numpy())
            mean, std = frame_statistics(batches, train, ddof=1)  # this corpus's training frames
            batches.standardise(mine, mean, std + 1e-5)
        return np.zeros(data.n_features, np.float32), np.ones(data.n_features, np.float32)
    if cfg.feature_norm == "source":
        mean, std = frame_statistics(batches, splits.src_train, ddof=0)
        return mean.numpy(), std.numpy() + 1e-5
    raise ValueError(f"feature_norm must be 'per_corpus' or 'source', got {cfg.feature_norm!r}")


class TargetBatches:
    """Unlabelled target batches of ``size`` rows, drawn without replacement and reshuffled (with
    ``rng``) when used up."""

    def __init__(self, rows: np.ndarray, size: int, rng: np.random.Generator):
        self.rows, self.size, self.rng = rows, size, rng
        self.cycle = np.array([], dtype=np.int64)

    def next(self) -> np.ndarray:
        if len(self.cycle) < self.size:
            self.cycle = np.concatenate([self.cycle, self.rng.permutation(self.rows)])
        out, self.cycle = self.cycle[:self.size], self.cycle[self.size:]
        return out


# The random-number streams of a run (common random numbers): for one seed, every method draws
# its initial weights, its source batch order, its unlabelled target batches and the dropout of its
# source and target forward passes from streams of their own, so that two methods of one seed start
# from the same weights and see the same batches with the same dropout masks on the source batches,
# whatever else one of them draws; the paired difference of two methods then measures the methods.
STREAMS = ("init", "source batches", "target batches", "source dropout", "target dropout", "method")


def stream_seed(seed: int, stream: str, phase: int = 0) -> int:
    """The seed of ``stream`` (one of :data:`STREAMS`) of a run with ``seed``: independent streams
    from numpy's SeedSequence (63 bits, a valid torch seed). ``phase`` 1 gives the streams of the
    fine-tuning phase (``init: source_only``), independent of the pre-training's (phase 0)."""
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; streams: {', '.join(STREAMS)}")
    entropy = [int(seed) & 0xFFFFFFFF, STREAMS.index(stream)] + ([int(phase)] if phase else [])
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> np.uint64(1))


class TorchStream:
    """A torch random stream for the global generator that dropout draws from, used as a context
    manager: entering swaps it in (on the CPU and, for a CUDA device, on that device), leaving
    swaps the caller's state back and keeps where the stream stopped."""

    def __init__(self, seed: int, device):
        import torch

        self.torch, self.device = torch, device
        self.cuda = getattr(device, "type", str(device)) == "cuda"
        # the state not in use: the stream's outside the context, the caller's inside it
        self.other = torch.Generator().manual_seed(seed).get_state()
        self.other_cuda = torch.Generator(device=device).manual_seed(seed).get_state() if self.cuda else None

    def _swap(self) -> None:
        torch = self.torch
        current = torch.get_rng_state()
        torch.set_rng_state(self.other)
        self.other = current
        if self.cuda:
            current = torch.cuda.get_rng_state(self.device)
            torch.cuda.set_rng_state(self.other_cuda, self.device)
            self.other_cuda = current

    def __enter__(self):
        self._swap()
        return self

    def __exit__(self, *exc):
        self._swap()
        return False

    @property
    def state(self):
        """Where the stream stands (outside the context)."""
        return self.other


@dataclass
class Run:
    """What one training run holds while it trains (:func:`start_run`)."""

    cfg: TrainConfig
    splits: Splits
    batches: Batches
    model: object  # agcc.model.SERModel
    optimizer: object  # torch.optim.Adam
    scheduler: object  # torch.optim.lr_scheduler (stepped once per epoch) or None: constant lr
    method: methods.Method
    labels: object  # (n_utterances,) long tensor on the device
    order: np.random.Generator  # source batch order
    targets: TargetBatches | None  # unlabelled target batches, from their own generator
    source_dropout: TorchStream
    target_dropout: TorchStream
    epochs: int  # max_epochs, or finetune_epochs from a source-only model


def start_run(data: TrainingData, cfg: TrainConfig, init_state: dict | None = None) -> Run:
    """Seed the generators, split and standardise the data, and build the model, the optimiser
    (Adam, Sec. IV) and the method (:mod:`agcc.methods`).

    Every random draw comes from one of the run's :data:`STREAMS`, seeded by :func:`stream_seed`
    from the run's seed alone (common random numbers across methods): the initial weights
    (``torch.manual_seed``, before the model is built), the source batch order and the target
    batches (numpy generators), the dropout of the source and of the target forward passes
    (:class:`TorchStream`) and the method's own draws (triplet mining; a ``torch.Generator``).

    With ``init_state`` (the seed's source-only model, :func:`train_run` under ``init:
    source_only``) the model starts from those weights and trains ``finetune_epochs``, with a fresh
    optimiser and schedule and the streams of phase 1 (:func:`stream_seed`)."""
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch_device(cfg.device)
    method_cls = methods.get(cfg.method)
    splits = run_splits(data, cfg, method_cls.uses_target)
    batches = Batches(data, device)
    mean, std = normalise_inputs(batches, data, cfg, splits)
    phase = 0 if init_state is None else 1
    seed = lambda stream: stream_seed(cfg.seed, stream, phase)  # noqa: E731
    torch.manual_seed(seed("init"))
    model = build_model(cfg, data.n_features, mean, std).to(device)
    if init_state is not None:
        model.load_state_dict(init_state)
    epochs = cfg.max_epochs if init_state is None else cfg.finetune_epochs
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
                 if cfg.lr_schedule == "cosine" else None)
    labels = torch.from_numpy(batches.label).to(device)
    method = method_cls(cfg, data, batches, labels, torch.Generator().manual_seed(seed("method")))
    method.model = model  # for a term that reads the model itself (LA-CC's input projection)
    order = np.random.default_rng(seed("source batches"))
    targets = (TargetBatches(splits.tgt_train, cfg.batch_size, np.random.default_rng(seed("target batches")))
               if method_cls.uses_target else None)
    return Run(cfg, splits, batches, model, optimizer, scheduler, method, labels, order, targets,
               TorchStream(seed("source dropout"), device), TorchStream(seed("target dropout"), device), epochs)


def train_epoch(run: Run) -> dict:
    """One pass over the source training split in batches: per step, L_ER on the labelled source
    batch plus gamma times the method's term (Eq. 4) on it and, for methods that align corpora, an
    unlabelled target batch. Returns the step means of ``ce`` and ``anchor`` (the method's term),
    ``triplets`` per step and the share of anchors with the right emotion (diagnostic)."""
    import torch

    cfg, batches, model = run.cfg, run.batches, run.model
    model.train()
    order = run.order.permutation(run.splits.src_train)
    sums = {"ce": 0.0, "anchor": 0.0, "triplets": 0, "right": 0, "steps": 0}

    def steps():  # (source rows, target rows or None) per step; read one step ahead by Batches.stream
        for i in range(0, len(order), cfg.batch_size):
            yield order[i:i + cfg.batch_size], (run.targets.next() if run.targets is not None else None)

    for (s_rows, t_rows), (s_inputs, t_inputs) in batches.stream(steps()):
        with run.source_dropout:
            out_s = model(*s_inputs)
        loss = torch.nn.functional.cross_entropy(out_s["logits"], run.labels[torch.from_numpy(s_rows).to(batches.device)])
        sums["ce"] += loss.item()
        out_t = None
        if t_rows is not None:
            with run.target_dropout:
                out_t = model(*t_inputs)
        term = run.method.term(methods.Step(s_rows, t_rows, out_s, out_t))
        if term.loss is not None:
            loss = loss + cfg.gamma * term.loss
            sums["anchor"] += float(term.loss.detach())
            sums["triplets"] += term.triplets
            sums["right"] += term.right
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        sums["steps"] += 1
    steps = max(sums["steps"], 1)
    return {"ce": sums["ce"] / steps, "anchor": sums["anchor"] / steps, "triplets": sums["triplets"] / steps,
            "anchor_label_acc": sums["right"] / sums["triplets"] if sums["triplets"] else float("nan")}


def evaluate(run: Run, rows: np.ndarray) -> tuple[dict, np.ndarray]:
    """Table II's metrics (:func:`uar_scores`) of the current model on utterances ``rows``, and
    its predictions."""
    pred = predict(run.model, run.batches, rows)
    return uar_scores(run.batches.label[rows], pred), pred


class EarlyStopping:
    """Early stopping on **source** validation UAR (Sec. IV; no target label): keeps the best
    epoch's weights, stops after ``patience`` epochs without a better one. With ``last=True``
    (``model_selection: last``) it never stops and keeps the last epoch's weights."""

    def __init__(self, patience: int, last: bool = False):
        self.patience, self.last, self.uar, self.epoch, self.state = patience, last, -1.0, -1, None

    def update(self, epoch: int, uar: float, model) -> bool:
        """Record epoch ``epoch`` (1-based) with validation UAR ``uar``; True when training stops.
        Under ``last`` no weights are copied: the model itself ends as the last epoch's
        (``state`` stays ``None``)."""
        if self.last:
            self.uar, self.epoch = uar, epoch
            return False
        if uar > self.uar:
            self.uar, self.epoch, self.state = uar, epoch, copy.deepcopy(model.state_dict())
            return False
        return epoch - self.epoch >= self.patience


def warm_starts(cfg: TrainConfig) -> bool:
    """Whether a run of ``cfg`` fine-tunes its seed's source-only model (``init: source_only``,
    cross-corpus methods; the upper bounds always start from scratch)."""
    return cfg.init == "source_only" and not methods.get(cfg.method).within_corpus


def pretraining(cfg: TrainConfig) -> TrainConfig:
    """The run whose model a warm-started run of ``cfg`` fine-tunes: source only, same seed,
    direction, fold and shared settings, from scratch (:func:`canonical`: the same run for every
    method and method setting of that seed)."""
    return canonical(replace(cfg, method=methods.SourceOnly.name, init="scratch"))


def train_run(data: TrainingData, cfg: TrainConfig, *, progress: bool = True, init_state: dict | None = None
              ) -> RunResult:
    """Train one model and evaluate it on the target test utterances (see the module docstring):
    :func:`start_run`, then :func:`train_epoch` and the source validation UAR per epoch until
    :class:`EarlyStopping` stops it, then the best epoch's model on the target test utterances.

    A warm-started run (:func:`warm_starts`) fine-tunes ``init_state``, the weights of its
    :func:`pretraining` run (trained here first when not given: :func:`run_task` reads them from
    the run's checkpoint store instead). Its history, epochs and wall time are the fine-tuning's."""
    if warm_starts(cfg) and init_state is None:
        init_state = train_run(data, pretraining(cfg), progress=progress).state
    start_time = time.perf_counter()
    run = start_run(data, cfg, init_state if warm_starts(cfg) else None)
    history, stopper = [], EarlyStopping(cfg.patience, last=cfg.model_selection == "last")
    bar = tqdm(range(run.epochs), desc=f"{cfg.method} {cfg.direction} seed {cfg.seed}", disable=not progress,
               leave=False)
    for epoch in bar:
        losses = train_epoch(run)
        if run.scheduler is not None:
            run.scheduler.step()
        val_uar = evaluate(run, run.splits.src_val)[0]["4-CAT"]
        history.append({"epoch": epoch + 1, **{k: losses[k] for k in ("ce", "anchor", "triplets")},
                        "val_uar": val_uar, "anchor_label_acc": losses["anchor_label_acc"]})
        bar.set_postfix(val_uar=f"{val_uar:.1f}")
        if stopper.update(epoch + 1, val_uar, run.model):
            break
    bar.close()
    if stopper.state is not None:  # the best epoch's weights (under "last" the model is the last epoch's)
        run.model.load_state_dict(stopper.state)
    metrics, pred = evaluate(run, run.splits.tgt_test)
    return RunResult(cfg, metrics, stopper.uar, stopper.epoch, pd.DataFrame(history),
                     time.perf_counter() - start_time, pred, run.model.state_dict())


# ------------------------------------------------------------------------------------------------
# A run as a grid task, and its key
# ------------------------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _data_in_worker(folder: str) -> TrainingData:
    return TrainingData.load(folder, verify=False)


def task_config(task: dict) -> TrainConfig:
    """The :class:`TrainConfig` of a grid task (:func:`task_for`), its method registered."""
    _import_method(task["method"], task.get("method_module"))
    return TrainConfig(**{k: v for k, v in task.items() if k in {f.name for f in fields(TrainConfig)}})


def run_task(task: dict) -> dict:
    """Grid task: ``task`` holds ``data`` (the saved :class:`TrainingData` folder), the
    :class:`TrainConfig` fields and, for a method registered outside :mod:`agcc.methods`,
    ``method_module`` (imported here, so that the method registers in this worker process);
    returns :meth:`RunResult.row` plus the per-epoch ``history`` (a dict of lists). Each worker
    process loads the data once (memory-mapped). A warm-started run reads its source-only model
    from the checkpoint store (:func:`source_model`)."""
    cfg = task_config(task)
    data = _data_in_worker(str(task["data"]))
    return _task_result(train_run(data, cfg, progress=False, init_state=source_model(task) if warm_starts(cfg) else None))


def _task_result(result: RunResult) -> dict:
    """A run's grid record: :meth:`RunResult.row` and its per-epoch ``history`` (a dict of lists)."""
    return {**result.row(), "history": result.history.round(4).to_dict("list")}


# ------------------------------------------------------------------------------------------------
# Source-only models that warm-started runs fine-tune (init: source_only), stored once per seed
# ------------------------------------------------------------------------------------------------
CHECKPOINTS = "checkpoints"  # beside a training data folder: <artifacts>/checkpoints/<key>.json


def checkpoint_folder(data_folder) -> Path:
    """Where the source-only models of runs on ``data_folder`` are stored (a grid folder:
    :func:`agcc.grid.read_run`, digest-checked, one record per pre-training task)."""
    return Path(data_folder).parent / CHECKPOINTS


def pretraining_data(folder) -> Path:
    """The data folder whose source-only models runs on ``folder`` fine-tune: for a set that
    shares another set's frames (:data:`FRAMES_REF`: an ablation's other k or per-speaker
    normalised AG clusters, :func:`regroup`) and holds the same utterances, that other set — a
    source-only run reads no vowel token or grouping, so every grouping of one set of frames
    fine-tunes the same stored models instead of training them again; else ``folder`` itself."""
    folder = Path(folder)
    if (folder / FRAMES_REF).is_file():
        base = resolve_reference(folder / FRAMES_REF, deep=False).parent
        if (base / "utterances.csv").read_bytes() == (folder / "utterances.csv").read_bytes():
            return base
    return folder


def checkpoint_task(task: dict) -> dict:
    """The grid task of the source-only run a warm-started ``task`` fine-tunes (:func:`pretraining`,
    on :func:`pretraining_data`)."""
    return task_for(pretraining(task_config(task)), pretraining_data(task["data"]))


def pretrain_task(task: dict) -> dict:
    """Grid task of a source-only model to fine-tune: :func:`run_task`'s row and history, plus the
    model's weights (``state``: :func:`encode_state`)."""
    result = train_run(_data_in_worker(str(task["data"])), task_config(task), progress=False)
    return {**_task_result(result), "state": encode_state(result.state)}


def encode_state(state: dict) -> str:
    """A model's weights as text for a JSON record (torch.save, base64)."""
    import torch

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_state(text: str) -> dict:
    """The weights :func:`encode_state` wrote (tensors only: ``weights_only``)."""
    import torch

    return torch.load(io.BytesIO(base64.b64decode(text)), map_location="cpu", weights_only=True)


def source_model(task: dict) -> dict:
    """The weights of the source-only model a warm-started ``task`` fine-tunes: its record in
    :func:`checkpoint_folder`, through the grid (:func:`agcc.grid.run_grid` in this process: a
    stored record is read back, one that cannot be trusted is reported and trained again, a missing
    one trained and stored). The grids train them first (:func:`agcc.experiments.pretrain`), so
    that workers do not train one model twice."""
    from .grid import run_grid

    pre = checkpoint_task(task)
    stored = run_grid(pretrain_task, [pre], checkpoint_folder(pre["data"]), workers=1, progress=False)
    return decode_state(stored["state"].iloc[0])


def _import_method(name: str, module: str | None) -> None:
    """Make sure the method ``name`` is registered in this process, importing ``module``."""
    if name in methods.REGISTRY or module is None:
        return
    if module == "__main__":
        raise ValueError(f"method {name!r} is defined in __main__ (a notebook or a script), which a worker "
                         "process cannot import: define it in an importable module, or run the grid in "
                         "this process (workers=1)")
    importlib.import_module(module)
    if name not in methods.REGISTRY:
        raise ValueError(f"importing {module!r} did not register a method named {name!r}")


def canonical(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the settings its method does not read reset to the declared defaults
    (``profiles.yml``, whatever the profile): the hyperparameters of other methods
    (:func:`agcc.methods.method_settings`) that are not its own, so that changing, say, beta does
    not re-run the source-only model (tasks are keyed by their content)."""
    defaults = TrainConfig.from_params(declared_defaults(), method=cfg.method, direction=cfg.direction)
    own = methods.get(cfg.method).hyperparameters
    unknown = sorted(methods.method_settings() - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise ValueError(f"method hyperparameters {unknown} are not TrainConfig fields")
    reset = methods.method_settings() - set(own)
    if cfg.target_protocol != "folds":  # the folds are read under target_protocol "folds" only
        reset |= {"target_folds"}
    if not warm_starts(cfg):  # a run from scratch: finetune_epochs unread (init too, for an upper bound)
        reset |= {"finetune_epochs"} | ({"init"} if methods.get(cfg.method).within_corpus else set())
    return replace(cfg, **{name: getattr(defaults, name) for name in reset})


# the modules a training run executes (besides numpy, torch and those of a method registered elsewhere)
TRAINING_MODULES = ("model", "losses", "overlap", "layer_anchoring", "methods", "train")


@lru_cache(maxsize=None)
def code_key(method: str) -> str:
    """The training code's key of a run of ``method`` (16 hex digits): :func:`source_key` of each
    of :data:`TRAINING_MODULES`, where :mod:`agcc.methods` leaves out the method classes that
    ``method`` does not derive from (adding or changing another method keeps this method's stored
    runs), plus the module that registers ``method`` when it is not :mod:`agcc.methods`."""
    cls = methods.get(method)
    others = {name for name, c in vars(methods).items() if isinstance(c, type) and issubclass(c, methods.Method)
              and c.__module__ == methods.__name__ and c not in cls.__mro__}
    h = hashlib.sha256()
    for name in TRAINING_MODULES:
        h.update(source_key(resources.files("agcc").joinpath(f"{name}.py").read_text(encoding="utf-8"),
                            others if name == "methods" else ()).encode())
    if cls.__module__ != methods.__name__:
        h.update(source_key(_module_source(cls)).encode())
    return h.hexdigest()[:16]


def _module_source(cls) -> str:
    """Source of the module that defines ``cls`` (for a class defined in a notebook, its own)."""
    try:
        return inspect.getsource(sys.modules[cls.__module__])
    except (OSError, TypeError):
        try:
            return inspect.getsource(cls)
        except (OSError, TypeError):
            raise ValueError(f"no source found for method class {cls.__qualname__}: its runs cannot be keyed "
                             "by their code") from None


def task_for(cfg: TrainConfig, data_folder) -> dict:
    """The grid task of a config (a flat dict of literals: its key names the run), in
    :func:`canonical` form. It carries the data's cache key and :func:`code_key`, so that stored
    runs are never reused for other data (e.g. after re-clustering) or other code, and, for a
    method registered outside :mod:`agcc.methods`, the module that registers it (``method_module``,
    for worker processes; :func:`run_task`)."""
    data_key = stamp_key(data_folder)[:16]
    module = methods.get(cfg.method).__module__
    extra = {} if module == methods.__name__ else {"method_module": module}
    return {"data": str(data_folder), "data_key": data_key, "code": code_key(cfg.method), **extra,
            **asdict(canonical(cfg))}
