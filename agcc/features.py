"""Frame-level acoustic features at 50 frames per second, with a content-keyed disk cache.

The paper (Sec. IV) states: "We utilize Wav2vec2.0 embeddings as pretrained features". Two
extractors share one interface (``.name``, ``.config()``, ``__call__(wav) -> (n_frames, dim)``):

* :class:`LogMelExtractor` (``"logmel"``, the embedded default): log-mel filterbank energies in
  numpy/scipy. Nothing to download, so every profile runs offline.
* :class:`Wav2Vec2Extractor` (``"wav2vec2"``, the paper's features): hidden states of a
  ``transformers.Wav2Vec2Model`` read from the user's Hugging Face cache or a local folder, never
  downloaded; a missing model raises :class:`FeatureError` that says how to provide it.
* :class:`ProjectedExtractor` (``"projected"``): a cost stand-in with wav2vec2-base's *shape* (768
  values per frame), log-mel energies through a fixed random projection; for the rehearsal of the
  paper profile's memory, disk and time (``benchmarks/rehearsal.py``), not for results.

Frame timing (both extractors agree exactly): frame ``k`` covers samples ``[320 k, 320 k + 400)`` of
the 16 kHz waveform, i.e. ``[0.02 k, 0.02 k + 0.025)`` s -- the receptive field and stride of
wav2vec2's CNN encoder. Its centre, returned by :func:`frame_times`, is ``0.02 k + 0.0125`` s. An
utterance of ``n`` samples gives ``n // 320`` frames: the waveform is padded at its end by 80 samples
(reflection for log-mel, zeros -- the mean after normalisation -- for wav2vec2, whose plain CNN would
give one frame fewer when ``n % 320 < 80``), so only the last frame sees padding.

:func:`extract_features` caches one ``.npy`` per (file content, extractor config) under
``cache_dir/<config_hash[:12]>/<content_sha256>.npy``, written atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
from scipy.fft import rfft
from tqdm import tqdm  # not tqdm.auto: no ipywidgets here, and its fallback warns with the venv path

from agcc.audio import SAMPLE_RATE, load_audio
from agcc.io import DIGEST_SUFFIX, CacheError, atomic_write, check_file, report, torch_device

FEATURE_VERSION = 1  # bump when any extractor's numerics change: invalidates every cache entry
FRAME_RATE = 50.0  # frames per second
HOP = 320  # samples at 16 kHz (20 ms)
WIN = 400  # samples at 16 kHz (25 ms)
END_PAD = WIN - HOP  # samples appended so that n samples give exactly n // HOP frames

_HELP = ("download it once on a machine with internet with `python -c 'from transformers import "
         "Wav2Vec2Model; Wav2Vec2Model.from_pretrained(\"{m}\")'` (it lands in ~/.cache/huggingface), "
         "or pass a local folder with -p wav2vec2_model /path/to/folder")


class FeatureError(RuntimeError):
    """A feature extractor cannot run at all (e.g. its model is not available offline)."""


class AudioError(ValueError):
    """One utterance cannot give features (too short, non-finite); reported per file, not fatal."""


def num_frames(n_samples: int) -> int:
    """Number of 50 fps frames of ``n_samples`` samples at 16 kHz: ``n_samples // 320``."""
    return int(n_samples) // HOP


def frame_times(n_frames: int) -> np.ndarray:
    """Centre time in seconds of each frame: ``0.02 k + 0.0125`` (frame ``k`` spans [0.02 k, 0.02 k + 0.025))."""
    return np.arange(int(n_frames)) / FRAME_RATE + WIN / SAMPLE_RATE / 2


def align_frames(a: np.ndarray, b: np.ndarray, max_diff: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Trim two frame sequences (time on axis 0) to their common length.

    Both extractors give ``n // 320`` frames, so this only absorbs a one-frame rounding difference
    against other 50 fps streams (e.g. video landmarks resampled to 50 fps). Raises ``ValueError``
    when the lengths differ by more than ``max_diff`` frames (a sign of mismatched inputs).
    """
    if abs(len(a) - len(b)) > max_diff:
        raise ValueError(f"frame counts {len(a)} and {len(b)} differ by more than {max_diff}")
    n = min(len(a), len(b))
    return a[:n], b[:n]


def _check_wav(wav: np.ndarray) -> np.ndarray:
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1:
        raise AudioError(f"expected a mono waveform, got shape {wav.shape}")
    if len(wav) < HOP:
        raise AudioError(f"{len(wav)} samples is shorter than one frame ({HOP} samples at {SAMPLE_RATE} Hz)")
    if not np.all(np.isfinite(wav)):
        raise AudioError("waveform contains NaN or infinite samples")
    return wav


def hz_to_mel(f):
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_filterbank(n_mels: int, n_fft: int, sr: int = SAMPLE_RATE, fmin: float = 20.0,
                   fmax: float = 7600.0) -> tuple[np.ndarray, np.ndarray]:
    """Triangular mel filters, shape (n_mels, n_fft // 2 + 1), and their centre frequencies in Hz.

    Band edges are equally spaced on the HTK mel scale; each triangle rises from the previous centre
    to its own and falls to the next, evaluated at the FFT bin frequencies (peak weight 1).
    """
    mels = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    edges = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)  # (n_mels + 2,) Hz: inverse of hz_to_mel
    bins = np.arange(n_fft // 2 + 1) * sr / n_fft  # (n_bins,) Hz
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fb = np.maximum(0.0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))
    if np.any(fb.sum(axis=1) == 0):
        raise ValueError(f"n_mels={n_mels} too large for n_fft={n_fft}: some mel bands hold no FFT bin")
    return fb.astype(np.float32), edges[1:-1]


class LogMelExtractor:
    """Log-mel filterbank energies: 25 ms Hamming window, 20 ms hop, 512-point FFT, ``n_mels`` bands.

    Parameters
    ----------
    n_mels : int
        Number of mel bands (default 40) between ``fmin`` and ``fmax`` Hz (20-7600).
    normalize : bool
        Per-utterance mean/variance normalisation of each band; off by default because
        normalisation belongs to the model (it would erase channel level differences).
    """

    kind = "logmel"
    N_FFT = 512

    def __init__(self, n_mels: int = 40, fmin: float = 20.0, fmax: float = 7600.0, normalize: bool = False):
        self.n_mels, self.fmin, self.fmax, self.normalize = int(n_mels), float(fmin), float(fmax), bool(normalize)
        self.fb, self.centres = mel_filterbank(self.n_mels, self.N_FFT, SAMPLE_RATE, self.fmin, self.fmax)
        self.window = np.hamming(WIN).astype(np.float32)
        self.name = f"logmel{self.n_mels}"

    def config(self) -> dict:
        """Everything that changes the output (the cache key)."""
        return {"kind": self.kind, "n_mels": self.n_mels, "fmin": self.fmin, "fmax": self.fmax,
                "normalize": self.normalize, "n_fft": self.N_FFT, "window": "hamming", "win": WIN,
                "hop": HOP, "sample_rate": SAMPLE_RATE, "version": FEATURE_VERSION}

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """Features of a 16 kHz mono waveform (n,), float32 of shape (n // 320, n_mels)."""
        wav = _check_wav(wav)
        n = num_frames(len(wav))
        padded = np.pad(wav, (0, END_PAD), mode="reflect")  # (n + 80,): frame n-1 ends inside it
        frames = np.lib.stride_tricks.sliding_window_view(padded, WIN)[::HOP][:n]  # (n_frames, 400) view
        power = np.abs(rfft(frames * self.window, n=self.N_FFT, axis=1)) ** 2  # (n_frames, 257)
        logmel = np.log(np.maximum(power.astype(np.float32) @ self.fb.T, 1e-10))  # (n_frames, n_mels)
        if self.normalize:
            logmel = (logmel - logmel.mean(axis=0)) / (logmel.std(axis=0) + 1e-5)
        return logmel.astype(np.float32)


WAV2VEC2_BASE_DIM = 768  # hidden size of wav2vec2-base (Baevski et al. 2020), the paper's features


class ProjectedExtractor:
    """Log-mel energies (:class:`LogMelExtractor`, ``n_mels`` bands) times a fixed Gaussian random
    matrix (``n_mels`` x ``dim``, seeded, scaled by ``1 / sqrt(n_mels)``): ``dim`` values per 20 ms
    frame with the frame timing of both other extractors. A stand-in with the shape of the paper's
    wav2vec2-base features (768 at 50 fps) that costs milliseconds per utterance, so that the
    ``rehearsal`` profile measures what 768-dimensional frames cost the pipeline (cache, training
    data, batches, model input) at the real corpora's sizes; its values carry only what the log-mel
    bands carry (rank ``n_mels``), so results on it say nothing about wav2vec2."""

    kind = "projected"

    def __init__(self, n_mels: int = 40, dim: int = WAV2VEC2_BASE_DIM, seed: int = 0):
        self.logmel, self.dim, self.seed = LogMelExtractor(n_mels), int(dim), int(seed)
        rng = np.random.default_rng(self.seed)
        self.projection = (rng.standard_normal((self.logmel.n_mels, self.dim)) / np.sqrt(self.logmel.n_mels)
                           ).astype(np.float32)  # (n_mels, dim)
        self.name = f"projected{self.dim}"

    def config(self) -> dict:
        """Everything that changes the output (the cache key)."""
        return {**self.logmel.config(), "kind": self.kind, "dim": self.dim, "projection_seed": self.seed}

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """Features of a 16 kHz mono waveform (n,), float32 of shape (n // 320, dim)."""
        return self.logmel(wav) @ self.projection


class Wav2Vec2Extractor:
    """Hidden states of a wav2vec 2.0 model (Baevski et al. 2020), offline only.

    Parameters
    ----------
    model : str
        Hugging Face id (read from the local HF cache only, never downloaded) or a local folder
        written by ``save_pretrained``.
    layer : int, "average" or list of int
        ``int``: index into ``hidden_states`` (0 = input of the first transformer layer, i.e. the
        projected CNN features plus positional convolution; ``num_hidden_layers`` = last layer).
        ``"average"``: mean of all transformer layers' outputs (``hidden_states[1:]``); the paper
        does not say which layer it uses. A list: mean of those indices.
    device : str or None
        ``None`` picks ``"cuda"`` when available, else ``"cpu"`` (a "cuda" request also falls back).
    """

    kind = "wav2vec2"
    _WEIGHTS = re.compile(r".*\.(safetensors|bin)$")

    def __init__(self, model: str = "facebook/wav2vec2-base", layer="average", device: str | None = None):
        is_int = lambda i: isinstance(i, int) and not isinstance(i, bool)  # noqa: E731
        if not (layer == "average" or is_int(layer)
                or (isinstance(layer, (list, tuple)) and layer and all(map(is_int, layer)))):
            raise ValueError(f"layer must be an int, 'average' or a list of ints, got {layer!r}")
        self.model_name = str(model)
        self.layer = list(layer) if isinstance(layer, (list, tuple)) else layer
        self._device = device
        self._dir = self._fingerprint = self._model = None
        self.do_normalize = True  # wav2vec2-base's preprocessor: zero mean, unit variance waveform
        tag = self.layer if not isinstance(self.layer, list) else "+".join(map(str, self.layer))
        self.name = f"wav2vec2[{Path(self.model_name).name}:{tag}]"

    def _fail(self, why: str, exc: Exception | None = None):
        raise FeatureError(f"wav2vec2 model '{self.model_name}' is not available offline ({why}): "
                           + _HELP.format(m=self.model_name)) from exc

    def _resolve(self) -> Path:
        """Folder holding config.json and the weights (a HF cache snapshot for a hub id)."""
        if self._dir is None:
            p = Path(self.model_name).expanduser()
            if p.is_dir():
                folder = p
            elif p.is_absolute() or self.model_name.startswith((".", "~")) or self.model_name.count("/") > 1:
                self._fail("no such folder")
            else:
                from huggingface_hub import try_to_load_from_cache
                try:  # purely local lookup in the HF cache (HF_HUB_CACHE / ~/.cache/huggingface)
                    hit = try_to_load_from_cache(self.model_name, "config.json")
                except Exception as exc:  # malformed repo id
                    self._fail(f"{type(exc).__name__}: {exc}", exc)
                if not isinstance(hit, str):
                    self._fail("not in the Hugging Face cache")
                folder = Path(hit).parent
            if not (folder / "config.json").is_file():
                self._fail(f"no config.json in {folder}")
            pre = folder / "preprocessor_config.json"
            if pre.is_file():
                self.do_normalize = bool(json.loads(pre.read_text()).get("do_normalize", True))
            self._dir = folder
        return self._dir

    def fingerprint(self) -> str:
        """sha256 of the folder's config files and weights (HF cache blobs are named by their hash)."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            folder = self._resolve()
            for f in sorted(folder.iterdir()):
                if f.name in ("config.json", "preprocessor_config.json") or self._WEIGHTS.match(f.name):
                    blob = f.resolve().name
                    h.update(f.name.encode())
                    if f.is_symlink() and re.fullmatch(r"[0-9a-f]{40,64}", blob):
                        h.update(blob.encode())  # hub cache: blob name is the file's sha256 / git hash
                    else:
                        with open(f, "rb") as fh:
                            h.update(hashlib.file_digest(fh, "sha256").digest())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def config(self) -> dict:
        """Everything that changes the output; raises FeatureError when the model is unavailable."""
        return {"kind": self.kind, "model": self.model_name, "fingerprint": self.fingerprint(),
                "layer": self.layer, "do_normalize": self.do_normalize, "end_pad": END_PAD,
                "hop": HOP, "sample_rate": SAMPLE_RATE, "version": FEATURE_VERSION}

    def _load(self):
        if self._model is None:  # lazily, once per instance
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: local_files_only below
            from transformers import Wav2Vec2Model
            from transformers.utils import logging as hf_logging
            folder = self._resolve()
            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # "Loading weights" bars on stderr break nbval outputs
            try:
                model = Wav2Vec2Model.from_pretrained(str(folder), local_files_only=True)
            except Exception as exc:  # missing/corrupt weights, wrong architecture
                self._fail(f"{type(exc).__name__}: {exc}", exc)
            finally:
                if bars:
                    hf_logging.enable_progress_bar()
            n = model.config.num_hidden_layers
            layers = self.layer if isinstance(self.layer, list) else [self.layer]
            if self.layer != "average" and any(not -n - 1 <= i <= n for i in layers):
                raise ValueError(f"layer {self.layer!r} out of range for {n} transformer layers (0..{n})")
            self._model = model.to(torch_device(self._device)).eval()  # CUDA if present, else the CPU
        return self._model

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """Features of a 16 kHz mono waveform (n,), float32 of shape (n // 320, hidden_size)."""
        import torch
        wav = _check_wav(wav)
        model = self._load()
        if self.do_normalize:  # as Wav2Vec2FeatureExtractor: (x - mean) / sqrt(var + 1e-7)
            wav = (wav - wav.mean()) / np.sqrt(wav.var() + 1e-7)
        wav = np.pad(wav, (0, END_PAD))  # zeros: gives n // 320 frames (see module docstring)
        x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[None].to(model.device)
        with torch.inference_mode():
            hs = model(x, output_hidden_states=True).hidden_states  # L + 1 tensors of (1, T, H)
            if self.layer == "average":
                out = torch.stack(hs[1:]).mean(0)
            elif isinstance(self.layer, list):
                out = torch.stack([hs[i] for i in self.layer]).mean(0)
            else:
                out = hs[self.layer]
        return out[0].float().cpu().numpy()  # (n // 320, hidden_size)


class Wav2Vec2LayerMeans(Wav2Vec2Extractor):
    """Every hidden state of a wav2vec 2.0 model, averaged over the utterance's frames: the
    utterance-level representation of each layer that LA-CC's layer similarity analysis and its
    anchoring loss read (:mod:`agcc.layer_anchoring`, [32]).

    ``__call__(wav)`` returns float32 of shape (num_hidden_layers + 1, hidden_size): row 0 the CNN
    features after projection (``hidden_states[0]``), row l the output of transformer layer l.
    One utterance costs (L + 1) x H x 4 bytes (13 x 768 x 4 = 40 kB for wav2vec2-base; about
    0.6 GB for the two corpora at the paper's scale), where the frames of a single layer cost
    about 7 GB: so the layers are kept as utterance means, never as frames.
    """

    kind = "wav2vec2_layers"

    def __init__(self, model: str = "facebook/wav2vec2-base", device: str | None = None):
        super().__init__(model, layer="average", device=device)  # the layer check of _load passes
        self.name = f"wav2vec2[{Path(self.model_name).name}:layer means]"

    def config(self) -> dict:
        """The cache key: the model's, marked as per-layer utterance means (not frames)."""
        return {**super().config(), "kind": self.kind, "layer": "all", "output": "utterance means"}

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """(num_hidden_layers + 1, hidden_size) float32: the mean over frames of every hidden state."""
        import torch
        wav = _check_wav(wav)
        model = self._load()
        if self.do_normalize:  # as Wav2Vec2Extractor
            wav = (wav - wav.mean()) / np.sqrt(wav.var() + 1e-7)
        wav = np.pad(wav, (0, END_PAD))
        x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[None].to(model.device)
        with torch.inference_mode():
            hs = model(x, output_hidden_states=True).hidden_states  # L + 1 tensors of (1, T, H)
            out = torch.stack([h[0].mean(0) for h in hs])  # (L + 1, H)
        return out.float().cpu().numpy()


def make_extractor(kind: str, **options):
    """Build an extractor: ``"logmel"`` (:class:`LogMelExtractor`), ``"wav2vec2"``
    (:class:`Wav2Vec2Extractor`), ``"wav2vec2_layers"`` (:class:`Wav2Vec2LayerMeans`) or ``"projected"``
    (:class:`ProjectedExtractor`, a cost stand-in)."""
    kinds = {"logmel": LogMelExtractor, "wav2vec2": Wav2Vec2Extractor, "wav2vec2_layers": Wav2Vec2LayerMeans,
             "projected": ProjectedExtractor}
    if kind not in kinds:
        raise ValueError(f"unknown feature kind {kind!r}; choose one of {sorted(kinds)}")
    return kinds[kind](**options)


def config_hash(config: dict) -> str:
    """sha256 of the canonical JSON of an extractor config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def extract_features(audio_paths, extractor, cache_dir, *, progress: bool = True):
    """Features of many audio files, cached on disk by file content and extractor config.

    Parameters
    ----------
    audio_paths : list of str or Path
        Audio files readable by soundfile (any rate and channel count; see :func:`agcc.audio.load_audio`).
    extractor : callable with ``.config()``
        From :func:`make_extractor`.
    cache_dir : str, Path or None
        Root of the cache (``None``: no disk cache). Entries live in
        ``cache_dir/<config_hash[:12]>/<content_sha256>.npy`` beside a ``config.json``; leftover
        ``*.tmp*`` files from an interrupted run are never read. Each entry has a ``.sha256``
        sidecar (:func:`agcc.io.check_file`): an entry that fails it (truncated, bit-flipped) is
        reported in one line and recomputed.

    Returns
    -------
    features : dict[str, np.ndarray]
        ``str(path)`` -> float32 (n_frames, dim) for every file that succeeded; memory-mapped from
        the cache when there is one (at 768 values per frame the two corpora's features are ~9 GB:
        held as pages the system can drop, not as the process's own memory).
    failed : dict[str, str]
        ``str(path)`` -> reason, for files that are missing, empty, unreadable or shorter than one
        frame. They do not stop the batch. A FeatureError (model unavailable) does.
    """
    config = extractor.config()  # FeatureError here when the model is missing: fatal, not per file
    folder = None
    if cache_dir is not None:
        folder = Path(cache_dir) / config_hash(config)[:12]
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "config.json").is_file():
            text = json.dumps(config, sort_keys=True, indent=1).encode()
            atomic_write(folder / "config.json", lambda fh: fh.write(text))
    features, failed, memo = {}, {}, {}
    for path in tqdm(audio_paths, desc="features", disable=not progress):
        key = str(path)
        try:
            if os.path.getsize(path) == 0:
                raise AudioError("empty file (0 bytes)")
            with open(path, "rb") as fh:  # content hash: ~1 GB/s, so a WAV costs milliseconds
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
        except (OSError, AudioError) as exc:
            failed[key] = f"{type(exc).__name__}: {exc}"
            continue
        entry = folder / f"{digest}.npy" if folder is not None else None
        feats = memo.get(digest)
        if feats is None and entry is not None and entry.with_name(entry.name + DIGEST_SUFFIX).is_file():
            try:  # an entry that fails its digest or cannot be read is recomputed and overwritten
                check_file(entry)
                feats = np.load(entry, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as err:  # CacheError is a ValueError
                report(f"{err if isinstance(err, CacheError) else f'{entry}: unreadable ({err})'}; recomputing")
        if feats is None:
            try:
                wav = load_audio(path)
            except Exception as exc:  # soundfile: unknown format, truncated header, ...
                failed[key] = f"unreadable audio: {type(exc).__name__}: {exc}"
                continue
            try:
                feats = extractor(wav)
            except AudioError as exc:
                failed[key] = f"AudioError: {exc}"
                continue
            if entry is not None:
                atomic_write(entry, lambda fh: np.save(fh, feats, allow_pickle=False), digest=True)
                feats = np.load(entry, mmap_mode="r", allow_pickle=False)  # page cache, not this process's memory
        memo[digest] = feats
        features[key] = feats
    return features, failed


def extractor_from_params(params) -> "LogMelExtractor | ProjectedExtractor | Wav2Vec2Extractor":
    """The extractor a notebook's parameters ask for (``features``, ``n_mels``,
    ``wav2vec2_model``, ``wav2vec2_layer``: an integer string or ``average``)."""
    if params["features"] in ("logmel", "projected"):
        return make_extractor(params["features"], n_mels=params["n_mels"])
    layer = params["wav2vec2_layer"]
    layer = int(layer) if str(layer).lstrip("-").isdigit() else layer
    return make_extractor(params["features"], model=params["wav2vec2_model"], layer=layer)


def layer_extractor_from_params(params) -> "Wav2Vec2LayerMeans | None":
    """The extractor of the pre-trained model's per-layer utterance means (LA-CC [32]) when the
    features are wav2vec2's, ``None`` for features without pre-trained layers (log-mel)."""
    if params["features"] != "wav2vec2":
        return None
    return make_extractor("wav2vec2_layers", model=params["wav2vec2_model"])
