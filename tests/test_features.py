"""Tests of agcc.features: log-mel, wav2vec2 (tiny random model built here, offline) and the cache."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from agcc.audio import SAMPLE_RATE, load_audio
from agcc.features import (FRAME_RATE, AudioError, FeatureError, LogMelExtractor, align_frames,
                           extract_features, frame_times, make_extractor)

SR = SAMPLE_RATE


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise shaped by a slow envelope plus a harmonic tone: varies over time and frequency."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * SR))) / SR
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (0.1 * env * (np.sin(2 * np.pi * 220 * t) + 0.3 * rng.standard_normal(len(t)))).astype(np.float32)


# -- timing ----------------------------------------------------------------------------------------
def test_frame_times_convention():
    t = frame_times(3)
    assert FRAME_RATE == 50.0
    np.testing.assert_allclose(t, [0.0125, 0.0325, 0.0525])


def test_align_frames():
    a, b = np.zeros((50, 3)), np.ones((49, 4))
    a2, b2 = align_frames(a, b)
    assert len(a2) == len(b2) == 49
    with pytest.raises(ValueError):
        align_frames(np.zeros((50, 1)), np.zeros((47, 1)))


# -- log-mel ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seconds", [1.0, 1.234])
def test_logmel_shape(seconds):
    wav = _speechlike(seconds)
    feats = LogMelExtractor(n_mels=40)(wav)
    assert feats.shape == (len(wav) // 320, 40)
    assert feats.dtype == np.float32 and np.all(np.isfinite(feats))
    assert feats.shape[0] == {1.0: 50, 1.234: 61}[seconds]


def test_logmel_tone_peaks_in_its_band():
    t = np.arange(SR) / SR
    ext = LogMelExtractor(n_mels=40)
    feats = ext(0.5 * np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    band = int(np.argmax(feats.mean(axis=0)))
    assert band == int(np.argmin(np.abs(ext.centres - 1000.0)))
    assert ext.fb[band, round(1000 / (SR / ext.N_FFT))] > 0.5  # that band's filter covers 1 kHz
    assert np.all(np.argmax(feats, axis=1) == band)  # every frame, the last (padded) one too


def test_logmel_normalize_option():
    wav = _speechlike(1.0)
    raw, norm = LogMelExtractor()(wav), LogMelExtractor(normalize=True)(wav)
    np.testing.assert_allclose(norm.mean(axis=0), 0, atol=1e-4)
    assert not np.allclose(raw.mean(axis=0), 0, atol=1e-2)


def test_logmel_too_short():
    with pytest.raises(AudioError):
        LogMelExtractor()(np.zeros(319, np.float32))
    assert LogMelExtractor()(np.zeros(320, np.float32)).shape == (1, 40)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_other_rates_and_stereo_give_same_frames(tmp_path, rate):
    seconds = 1.234
    t = np.arange(int(round(seconds * rate))) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([mono, 0.5 * mono], axis=1)
    sf.write(tmp_path / "hi.wav", stereo, rate)
    t16 = np.arange(int(round(seconds * SR))) / SR
    sf.write(tmp_path / "lo.wav", 0.3 * np.sin(2 * np.pi * 440 * t16), SR)
    ext = LogMelExtractor()
    hi, lo = ext(load_audio(tmp_path / "hi.wav")), ext(load_audio(tmp_path / "lo.wav"))
    assert hi.shape == lo.shape == (int(seconds * SR) // 320, 40)


# -- wav2vec2 with a tiny random model saved to a folder -----------------------------------------
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(32,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2),
                         conv_stride=(5, 2, 2, 2, 2, 2, 2), num_feat_extract_layers=7)
    folder = tmp_path_factory.mktemp("tiny_w2v2")
    Wav2Vec2Model(cfg).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("n", [16000, 19744, 16000 + 50, 320])
def test_wav2vec2_frames_match_logmel(tiny_model, n):
    wav = _speechlike(n / SR)
    w2v = make_extractor("wav2vec2", model=str(tiny_model), layer=2, device="cpu")
    feats = w2v(wav)
    assert feats.dtype == np.float32 and feats.shape == (n // 320, 32)
    assert feats.shape[0] == make_extractor("logmel")(wav).shape[0]


def test_wav2vec2_layers(tiny_model):
    import torch
    from transformers import Wav2Vec2Model

    wav = _speechlike(1.0, seed=1)
    get = lambda layer: make_extractor("wav2vec2", model=str(tiny_model), layer=layer, device="cpu")(wav)  # noqa: E731
    l0, l1, l2, avg, lst = get(0), get(1), get(2), get("average"), get([1, 2])
    assert l0.shape == l2.shape == avg.shape == (50, 32)
    assert not np.allclose(l0, l2, atol=1e-3)
    np.testing.assert_allclose(avg, (l1 + l2) / 2, atol=1e-5)
    np.testing.assert_allclose(lst, avg, atol=1e-6)
    # Directly through transformers: normalised waveform, 80 zeros appended, mean of transformer layers.
    x = (wav - wav.mean()) / np.sqrt(wav.var() + 1e-7)
    x = torch.from_numpy(np.pad(x, (0, 80)).astype(np.float32))[None]
    model = Wav2Vec2Model.from_pretrained(str(tiny_model), local_files_only=True).eval()
    with torch.inference_mode():
        hs = model(x, output_hidden_states=True).hidden_states
    assert len(hs) == 3
    np.testing.assert_allclose(avg, torch.stack(hs[1:]).mean(0)[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(l2, hs[2][0].numpy(), atol=1e-5)


def test_wav2vec2_layer_means_are_every_layers_frames_averaged(tiny_model, tmp_path):
    """LA-CC's per-layer utterance means: row l is the mean over frames of hidden state l, the
    same frames the frame extractor gives; cached under their own key, and only for wav2vec2."""
    from agcc.features import layer_extractor_from_params
    from agcc.params import resolve

    wav = _speechlike(1.3, seed=3)
    means = make_extractor("wav2vec2_layers", model=str(tiny_model), device="cpu")
    out = means(wav)
    assert out.shape == (3, 32) and out.dtype == np.float32
    for layer in range(3):
        frames = make_extractor("wav2vec2", model=str(tiny_model), layer=layer, device="cpu")(wav)
        np.testing.assert_allclose(out[layer], frames.mean(0), atol=1e-5)
    assert means.config() != make_extractor("wav2vec2", model=str(tiny_model)).config()  # another cache entry
    sf.write(tmp_path / "a.wav", wav, SR)
    cached, _ = extract_features([tmp_path / "a.wav"], means, tmp_path / "cache", progress=False)
    np.testing.assert_allclose(cached[str(tmp_path / "a.wav")], means(load_audio(tmp_path / "a.wav")), atol=1e-6)
    assert layer_extractor_from_params(resolve("default")) is None  # log-mel: no pre-trained layers
    paper = layer_extractor_from_params(resolve("paper", {"wav2vec2_model": str(tiny_model)}))
    assert paper.kind == "wav2vec2_layers" and paper.model_name == str(tiny_model)


def test_wav2vec2_auto_device(tiny_model, capfd):
    import torch

    wav = _speechlike(1.0, seed=2)
    auto = make_extractor("wav2vec2", model=str(tiny_model), layer=2)  # device=None: cuda if available
    out = auto(wav)
    assert auto._model.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    cpu = make_extractor("wav2vec2", model=str(tiny_model), layer=2, device="cpu")(wav)
    np.testing.assert_allclose(out, cpu, atol=1e-2)  # loose: GPU convolutions may use TF32
    assert "Loading weights" not in capfd.readouterr().err


def test_wav2vec2_config_and_bad_layer(tiny_model):
    a = make_extractor("wav2vec2", model=str(tiny_model), layer=1).config()
    b = make_extractor("wav2vec2", model=str(tiny_model), layer=2).config()
    assert a["fingerprint"] == b["fingerprint"] and len(a["fingerprint"]) == 64 and a != b
    with pytest.raises(ValueError):
        make_extractor("wav2vec2", model=str(tiny_model), layer=5)(_speechlike(1.0))
    with pytest.raises(ValueError):
        make_extractor("wav2vec2", model=str(tiny_model), layer="last")
    with pytest.raises(ValueError):
        make_extractor("wav2vec2", model=str(tiny_model), layer=True)
    with pytest.raises(ValueError):
        make_extractor("mfcc")


@pytest.mark.parametrize("model", ["/nonexistent/folder", "nonexistent-org-agcc/no-such-model", "bad id!"])
def test_missing_model_raises_feature_error(model, tmp_path):
    ext = make_extractor("wav2vec2", model=model)  # lazy: constructing does not fail
    for call in (lambda: ext(_speechlike(1.0)), ext.config,
                 lambda: extract_features([tmp_path / "x.wav"], ext, tmp_path, progress=False)):
        with pytest.raises(FeatureError) as info:
            call()
        assert model in str(info.value) and "-p wav2vec2_model" in str(info.value)
    assert isinstance(info.value, RuntimeError)


# -- cache -----------------------------------------------------------------------------------------
class Counting:
    """Wrap an extractor and count its calls."""

    def __init__(self, inner):
        self.inner, self.calls, self.name = inner, 0, inner.name

    def config(self):
        return self.inner.config()

    def __call__(self, wav):
        self.calls += 1
        return self.inner(wav)


@pytest.fixture()
def wavs(tmp_path):
    paths = []
    for i, seconds in enumerate([1.0, 0.7, 1.5]):
        p = tmp_path / "audio" / f"u{i}.wav"
        p.parent.mkdir(exist_ok=True)
        sf.write(p, _speechlike(seconds, seed=i), SR)
        paths.append(str(p))
    return paths


def test_cache_reused(wavs, tmp_path):
    cache = tmp_path / "cache"
    ext = Counting(make_extractor("logmel"))
    first, failed = extract_features(wavs, ext, cache, progress=False)
    assert ext.calls == 3 and not failed and list(first) == wavs
    ext2 = Counting(make_extractor("logmel"))
    second, failed = extract_features(wavs, ext2, cache, progress=True)
    assert ext2.calls == 0 and not failed
    for p in wavs:
        np.testing.assert_array_equal(first[p], second[p])
        assert first[p].shape == (len(load_audio(p)) // 320, 40)
    entries = list(cache.rglob("*.npy"))
    assert len(entries) == 3 and all(len(e.parent.name) == 12 for e in entries)
    assert (entries[0].parent / "config.json").is_file()


def test_cache_key_changes_with_options(wavs, tmp_path):
    cache = tmp_path / "cache"
    extract_features(wavs, make_extractor("logmel", n_mels=40), cache, progress=False)
    ext = Counting(make_extractor("logmel", n_mels=24))
    feats, _ = extract_features(wavs, ext, cache, progress=False)
    assert ext.calls == 3 and feats[wavs[0]].shape[1] == 24
    assert len([d for d in cache.iterdir() if d.is_dir()]) == 2


def test_cache_ignores_leftover_temp_file(wavs, tmp_path):
    import hashlib

    cache = tmp_path / "cache"
    ext = make_extractor("logmel")
    extract_features(wavs[:1], ext, cache, progress=False)
    folder = next(d for d in cache.iterdir() if d.is_dir())
    digest = hashlib.sha256(open(wavs[1], "rb").read()).hexdigest()
    (folder / f"{digest}.npy.tmpabc123").write_bytes(b"\x93NUMPY half-written")  # interrupted write
    counting = Counting(ext)
    feats, failed = extract_features(wavs[1:2], counting, cache, progress=False)
    assert counting.calls == 1 and not failed
    np.testing.assert_array_equal(feats[wavs[1]], ext(load_audio(wavs[1])))
    assert (folder / f"{digest}.npy").is_file()


def test_bad_files_do_not_stop_batch(wavs, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00not a wav at all" * 10)
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(100, np.float32), SR)
    missing = tmp_path / "missing.wav"
    paths = [wavs[0], str(empty), str(garbage), wavs[1], str(short), str(missing)]
    feats, failed = extract_features(paths, make_extractor("logmel"), tmp_path / "cache", progress=False)
    assert set(feats) == {wavs[0], wavs[1]}
    assert set(failed) == {str(empty), str(garbage), str(short), str(missing)}
    assert "empty" in failed[str(empty)] and "shorter than one frame" in failed[str(short)]
    assert all(isinstance(r, str) and r for r in failed.values())
