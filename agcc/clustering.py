"""Articulatory-gesture clustering (Sec. II-C): time-series k-means with soft-DTW.

"We apply time-series k-means clustering with Soft-DTW as the distance metric ... Validation samples
from all four emotion categories across both corpora are used to train the AG cluster model.
Testing different k values (5 to 30), optimal cluster number is found to be 10 using the elbow
method." This module fits soft-DTW time-series k-means on the AG segments of the validation split
of both corpora, selects k by a stated elbow rule (:func:`elbow_k`), predicts the cluster of every
token, and keeps the barycenters and their soft-DTW divergences (the centroid distances of Eq. 3).

Two implementations of the same algorithm (``backend``): ``"torch"`` (default), the batched
:class:`agcc.softdtw.SoftDTWKMeans`, and ``"tslearn"``, tslearn's
``TimeSeriesKMeans(metric="softdtw")``, the reference it is tested against
(``tests/test_softdtw.py``; speed and agreement: ``benchmarks/bench_softdtw.py``).

One model serves all six vowels (Table I numbers ten clusters across the six vowels, which only
one shared model gives). Each of the 24 lip coordinates is standardised with the fitting set's
mean and standard deviation before clustering, so that soft-DTW's smoothing ``gamma`` acts on a
known scale (raw normalised coordinates vary by a few hundredths).
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .io import atomic_write, cached_by_key, source_key, stamp_key, verify_folder

warnings.filterwarnings("ignore", message="h5py not installed")

BACKENDS = ("torch", "tslearn")
SPEAKER_NORMS = ("none", "per_speaker")


def to_dataset(segments: list[np.ndarray]) -> np.ndarray:
    """Stack variable-length segments (n_i, d) into tslearn's NaN-padded (n, max_len, d) array."""
    length = max(len(s) for s in segments)
    out = np.full((len(segments), length, segments[0].shape[1]), np.nan)
    for i, s in enumerate(segments):
        out[i, : len(s)] = s
    return out


def elbow_k(ks, inertias) -> int:
    """The elbow of an inertia curve: the k farthest from the chord joining its first and last
    points, after scaling both axes to [0, 1] (the "kneedle" rule). Curves with fewer than three
    points return the first k."""
    ks, y = np.asarray(ks, float), np.asarray(inertias, float)
    if len(ks) < 3:
        return int(ks[0])
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    y = (y - y.min()) / (np.ptp(y) or 1.0)
    # distance of each point to the line through (x0, y0) and (x1, y1)
    x0, y0, x1, y1 = x[0], y[0], x[-1], y[-1]
    dist = np.abs((y1 - y0) * x - (x1 - x0) * y + x1 * y0 - y1 * x0) / np.hypot(y1 - y0, x1 - x0)
    return int(ks[int(np.argmax(dist))])


def softdtw_divergence(a: np.ndarray, b: np.ndarray, gamma: float) -> float:
    """D(a, b) = sdtw(a, b) - (sdtw(a, a) + sdtw(b, b)) / 2 of two series (n_frames, d): zero for
    a = b, unlike soft-DTW."""
    from .softdtw import soft_dtw_divergence_pairs

    return float(soft_dtw_divergence_pairs(a[None], b[None], gamma, device="cpu")[0])


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"clustering backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


@dataclass
class AGClusterModel:
    """A fitted AG cluster model.

    Attributes
    ----------
    k
        Number of clusters.
    mean, std
        (d,) standardisation of the lip coordinates, from the fitting set.
    barycenters
        (k, length, d) soft-DTW barycenters in standardised units.
    divergence
        (k, k) soft-DTW divergences between barycenters (Eq. 3's centroid distances).
    inertia
        Mean over the fitting tokens of the squared soft-DTW to their barycenter (tslearn's
        ``inertia_``, which both backends compute).
    model
        The fitted estimator (:class:`agcc.softdtw.SoftDTWKMeans` or tslearn's
        ``TimeSeriesKMeans``); both predict NaN-padded datasets.
    """

    k: int
    gamma: float
    mean: np.ndarray
    std: np.ndarray
    barycenters: np.ndarray
    divergence: np.ndarray
    inertia: float
    model: object = field(repr=False)

    def predict(self, segments: list[np.ndarray]) -> np.ndarray:
        """Cluster id of each segment (n,)."""
        return self.model.predict(to_dataset([(s - self.mean) / self.std for s in segments]))


def fit_kmeans(segments: list[np.ndarray], k: int, *, gamma: float = 1.0, max_iter: int = 10,
               seed: int = 0, mean=None, std=None, backend: str = "torch") -> AGClusterModel:
    """Fit soft-DTW time-series k-means (Sec. II-C) on segments (each (n_frames, d)).

    Both backends run tslearn's algorithm with the same settings (k-means++ seeding from
    ``random_state=seed``, ``max_iter`` iterations, 20 L-BFGS iterations per barycenter update).
    ``"torch"`` computes in float32 on CUDA when available, else on one CPU thread (see
    :class:`agcc.softdtw.SoftDTWKMeans`); the barycenter divergences are computed in float64.
    """
    _check_backend(backend)
    stacked = np.concatenate(segments)
    mean = stacked.mean(0) if mean is None else mean
    std = stacked.std(0) + 1e-8 if std is None else std
    data = to_dataset([(s - mean) / std for s in segments])
    if backend == "tslearn":
        from tslearn.clustering import TimeSeriesKMeans

        km = TimeSeriesKMeans(n_clusters=k, metric="softdtw", metric_params={"gamma": gamma},
                              max_iter=max_iter, max_iter_barycenter=20, random_state=seed, n_init=1)
    else:
        import torch

        from .softdtw import SoftDTWKMeans

        # float32: the same clusters as float64 on AG segments (benchmarks/bench_softdtw.py), 1.5-2x faster
        km = SoftDTWKMeans(k, gamma=gamma, max_iter=max_iter, max_iter_barycenter=20, random_state=seed,
                           dtype=torch.float32)
    km.fit(data)
    bary = np.asarray(km.cluster_centers_)
    from .softdtw import cdist_soft_dtw_divergence

    div = cdist_soft_dtw_divergence(bary, bary, gamma, device="cpu")
    np.fill_diagonal(div, 0.0)  # exactly 0 (rounding leaves ~1e-14)
    return AGClusterModel(k=k, gamma=gamma, mean=mean, std=std, barycenters=bary, divergence=div,
                          inertia=float(km.inertia_), model=km)


def elbow_curve(segments: list[np.ndarray], ks, *, gamma: float = 1.0, max_iter: int = 10,
                seed: int = 0, progress: bool = True, backend: str = "torch") -> list[float]:
    """Inertia of a fit for each k (same standardisation and seed for every k)."""
    stacked = np.concatenate(segments)
    mean, std = stacked.mean(0), stacked.std(0) + 1e-8
    return [fit_kmeans(segments, int(k), gamma=gamma, max_iter=max_iter, seed=seed, mean=mean, std=std,
                       backend=backend).inertia
            for k in tqdm(list(ks), desc="elbow", disable=not progress)]


def resample(segment: np.ndarray, n: int = 10) -> np.ndarray:
    """Linear resampling of a (frames, d) segment to n frames (for per-frame means in Fig. 1)."""
    t = np.linspace(0, 1, len(segment))
    u = np.linspace(0, 1, n)
    return np.stack([np.interp(u, t, segment[:, j]) for j in range(segment.shape[1])], axis=1)


@dataclass
class ClusteringRun:
    """What the AG clustering notebook produces (and the later stages read back)."""

    ks: list[int]
    inertias: list[float]
    elbow: int
    k: int
    labels: np.ndarray  # (n_tokens,) AG cluster of every token
    barycenters: np.ndarray
    divergence: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    # how the segments were normalised per speaker before ``mean``/``std`` (:func:`speaker_normalised`);
    # every reader of the AG segments that compares them with this model goes through :meth:`ag_segments`
    speaker_norm: str = "none"

    def ag_segments(self, segments) -> list[np.ndarray]:
        """The AG segment of every token of ``segments`` as this model clustered it: normalised per
        speaker as the model was (:func:`speaker_normalised`), before the model's own standardisation."""
        return speaker_normalised(segments, self.speaker_norm)

    def save(self, folder) -> None:


        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "ag_model.npz", lambda fh: np.savez(
            fh, labels=self.labels, barycenters=self.barycenters, divergence=self.divergence,
            mean=self.mean, std=self.std))
        meta = json.dumps({"ks": self.ks, "inertias": self.inertias, "elbow": self.elbow, "k": self.k,
                           "speaker_norm": self.speaker_norm})
        atomic_write(folder / "ag_elbow.json", lambda fh: fh.write(meta.encode()))

    @classmethod
    def load(cls, folder, verify: bool = True) -> "ClusteringRun":
        """Read a saved run; ``verify`` first checks its files against the digests of its stamp
        (:func:`agcc.io.verify_folder`: a damaged file raises :class:`agcc.io.CacheError`)."""
        folder = Path(folder)
        if verify:
            verify_folder(folder, "run the notebook that made it (02 AG, 04 acoustic clusters) again")
        arrays = np.load(folder / "ag_model.npz")
        meta = json.loads((folder / "ag_elbow.json").read_text())
        return cls(ks=meta["ks"], inertias=meta["inertias"], elbow=meta["elbow"], k=meta["k"],
                   speaker_norm=meta["speaker_norm"], **{name: arrays[name] for name in arrays.files})


def speaker_normalised(segments, how: str = "none") -> list[np.ndarray]:
    """The AG segment of every token, optionally normalised per speaker.

    ``how`` ``"none"``: as cut (the paper's). ``"per_speaker"``: each of the 24 lip coordinates
    minus its speaker's mean and divided by its speaker's standard deviation, both over all frames of
    that speaker's vowel tokens (no emotion label is used; a speaker's identity is known in both
    corpora). This removes a speaker's face proportions and lip-rest habits, which otherwise make the
    clusters group speakers (the paper's conclusion names speaker variability in AG clustering as
    future work). Returns float32 arrays (n_frames, 24), one per token of ``segments.tokens``.
    """
    if how not in SPEAKER_NORMS:
        raise ValueError(f"speaker normalisation must be one of {', '.join(SPEAKER_NORMS)}, got {how!r}")
    out = [np.asarray(segments.ag(i), np.float32) for i in range(len(segments.tokens))]
    if how == "none":
        return out
    speakers = (segments.tokens["corpus"].astype(str) + "/" + segments.tokens["speaker"].astype(str)).to_numpy()
    for spk in np.unique(speakers):
        idx = np.flatnonzero(speakers == spk)
        frames = np.concatenate([out[i] for i in idx])  # (n_frames of this speaker, 24)
        mean, std = frames.mean(0), frames.std(0) + 1e-6
        for i in idx:
            out[i] = (out[i] - mean) / std
    return out


def cluster_information(labels, tokens, *, by=("speaker", "vowel", "emotion"), n_shuffles: int = 20,
                        seed: int = 0):
    """Normalised mutual information (arithmetic mean normalisation, scikit-learn's default) of
    the AG clusters with each token attribute in ``by``, overall and within each vowel, beside the
    same with the attribute shuffled over tokens (mean of ``n_shuffles``: what chance gives).

    A cluster model that groups articulation rather than faces has a low NMI with ``speaker``;
    the paper's premise needs some with ``emotion``. ``speaker`` is taken within its corpus.
    Returns a DataFrame ``attribute, scope ("all" or a vowel), nmi, shuffled, tokens``.
    """
    import pandas as pd
    from sklearn.metrics import normalized_mutual_info_score as nmi

    labels = np.asarray(labels)
    tokens = tokens.reset_index(drop=True)
    if len(labels) != len(tokens):
        raise ValueError(f"{len(labels)} cluster labels for {len(tokens)} tokens")
    rng = np.random.default_rng(seed)
    values = {a: (tokens["corpus"].astype(str) + "/" + tokens[a].astype(str) if a == "speaker" else
                  tokens[a].astype(str)).to_numpy() for a in by}
    scopes = [("all", np.arange(len(tokens)))] + [
        (v, np.flatnonzero(tokens["vowel"].to_numpy() == v)) for v in sorted(tokens["vowel"].unique())]
    rows = []
    for attribute, y in values.items():
        for scope, idx in scopes:
            if attribute == "vowel" and scope != "all":
                continue  # constant within a vowel
            base = [nmi(rng.permutation(y[idx]), labels[idx]) for _ in range(n_shuffles)]
            rows.append({"attribute": attribute, "scope": scope, "nmi": float(nmi(y[idx], labels[idx])),
                         "shuffled": float(np.mean(base)), "tokens": int(len(idx))})
    return pd.DataFrame(rows)


def run_ag_clustering(segments, *, ks, k: int = 10, subsample: int = 500, gamma: float = 1.0,
                      max_iter: int = 10, seed: int = 0, progress: bool = True,
                      backend: str = "torch", speaker_norm: str = "none") -> ClusteringRun:
    """Elbow search on (a subsample of) the validation tokens of both corpora, then the final
    model with ``k`` clusters (0 = the elbow's k) on all validation tokens, then every token's
    cluster.

    Parameters
    ----------
    segments
        A :class:`agcc.segments.SegmentSet` (its ``split`` column marks the validation tokens).
    backend
        ``"torch"`` or ``"tslearn"`` (:func:`fit_kmeans`).
    speaker_norm
        ``"none"`` or ``"per_speaker"`` (:func:`speaker_normalised`).
    """
    _check_backend(backend)
    ag = speaker_normalised(segments, speaker_norm)
    rng = np.random.default_rng(seed)
    val = np.flatnonzero((segments.tokens["split"] == "val").to_numpy())
    if val.size < max(ks):
        raise ValueError(f"{val.size} validation tokens cannot be split into up to {max(ks)} clusters")
    pick = val if not subsample or subsample >= val.size else np.sort(rng.choice(val, subsample, replace=False))
    inertias = elbow_curve([ag[i] for i in pick], ks, gamma=gamma, max_iter=max_iter, seed=seed,
                           progress=progress, backend=backend)
    elbow = elbow_k(ks, inertias)
    k_used = k or elbow
    model = fit_kmeans([ag[i] for i in val], k_used, gamma=gamma, max_iter=max_iter, seed=seed,
                       backend=backend)
    labels = model.predict(ag)
    return ClusteringRun(ks=list(map(int, ks)), inertias=[float(v) for v in inertias], elbow=elbow,
                         k=k_used, labels=np.asarray(labels), barycenters=model.barycenters,
                         divergence=model.divergence, mean=model.mean, std=model.std, speaker_norm=speaker_norm)


@lru_cache(maxsize=2)
def code_key(backend: str) -> str:
    """sha256 (16 hex digits) of the code a clustering run executes: :func:`agcc.io.source_key` of
    this module and, for the ``torch`` backend, of :mod:`agcc.softdtw`, or tslearn's version for
    ``tslearn``. A code edit gives new cache keys, so a cached run never outlives the code that made
    it; a docstring or comment edit does not (read without importing torch or tslearn)."""
    read = lambda *parts: resources.files("agcc").joinpath(*parts).read_text(encoding="utf-8")  # noqa: E731
    h = hashlib.sha256(source_key(read("clustering.py")).encode())
    if backend == "torch":
        for name in ("kernel.py", "lbfgs.py", "kmeans.py"):
            h.update(source_key(read("softdtw", name)).encode())
    else:
        h.update(metadata.version("tslearn").encode())
    return h.hexdigest()[:16]


def _cached_run(segments_folder, folder, options: dict, compute) -> ClusteringRun:
    """``compute()`` unless ``folder`` holds a run for the same segment set
    (``segments_folder/inputs.sha256``), the same options (the backend among them: the two
    backends' clusters agree closely but not bit for bit) and the same code (:func:`code_key`); the
    run is saved to ``folder``."""
    folder, segments_folder = Path(folder), Path(segments_folder)
    if not stamp_key(segments_folder):
        raise FileNotFoundError(f"{segments_folder} holds no finished segment set: run notebook 01 first")
    stamp = {**options, "code": code_key(options.get("backend", "torch"))}
    key = hashlib.sha256((stamp_key(segments_folder) + "\n"
                          + json.dumps(stamp, sort_keys=True, default=str)).encode()).hexdigest()
    return cached_by_key(folder, key, lambda: ClusteringRun.load(folder, verify=False), compute,
                         lambda run: run.save(folder))


def cached_ag_clustering(segments, segments_folder, folder, **options) -> ClusteringRun:
    """:func:`run_ag_clustering`, cached in ``folder`` (see :func:`_cached_run`)."""
    options = {"backend": "torch", **options}  # the key names the backend even when defaulted
    _check_backend(options["backend"])
    key = {name: value for name, value in options.items() if name != "progress"}
    return _cached_run(segments_folder, folder, key, lambda: run_ag_clustering(segments, **options))


def cached_acoustic_clustering(segments, segments_folder, folder, *, k: int = 10, subsample: int = 500,
                               gamma: float = 1.0, max_iter: int = 10, seed: int = 0,
                               backend: str = "torch") -> ClusteringRun:
    """The acoustic time-series k-means of the association analysis (Sec. II-C.2): fitted like the
    AG model on (at most ``subsample``) validation tokens' acoustic segments, predicting every
    token; cached in ``folder``."""
    _check_backend(backend)
    options = dict(k=k, subsample=subsample, gamma=gamma, max_iter=max_iter, seed=seed, backend=backend)

    def compute() -> ClusteringRun:
        rng = np.random.default_rng(seed)
        val = np.flatnonzero((segments.tokens["split"] == "val").to_numpy())
        pick = val if not subsample or subsample >= val.size else rng.choice(val, subsample, replace=False)
        model = fit_kmeans([segments.acoustic(i) for i in pick], k, gamma=gamma, max_iter=max_iter, seed=seed,
                           backend=backend)
        labels = model.predict([segments.acoustic(i) for i in range(len(segments.tokens))])
        return ClusteringRun(ks=[k], inertias=[model.inertia], elbow=k, k=k, labels=np.asarray(labels),
                             barycenters=model.barycenters, divergence=model.divergence,
                             mean=model.mean, std=model.std)

    return _cached_run(segments_folder, folder, options, compute)
