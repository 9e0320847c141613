"""Worked examples of the simulator (agcc.simulate.showcase) for the page *The simulated corpora*."""
import numpy as np
import pandas as pd
import pytest

from agcc.paths import Paths
from agcc.simulate import showcase
from agcc.simulate.corpora import generate_crema_d


@pytest.fixture(scope="module")
def examples():
    return showcase.emotion_examples(intensity=0.9, seed=3)


def test_emotion_examples_share_the_speaker_and_differ_as_documented(examples):
    assert list(examples) == list(showcase.FOUR_EMOTIONS)
    level = {e: float(np.sqrt(np.mean(ex.wav ** 2))) for e, ex in examples.items()}
    assert level["anger"] > level["neutral"] > level["sadness"]  # intensity_db +6 / -5
    f0 = {e: float(np.median(ex.traj["f0_hz"][ex.traj["voicing"] > 0.5])) for e, ex in examples.items()}
    assert f0["anger"] > f0["neutral"] > f0["sadness"]
    assert examples["sadness"].plan.duration > examples["neutral"].plan.duration  # slower
    spread = {e: float(ex.traj["spread"].mean()) for e, ex in examples.items()}
    assert spread["happiness"] == max(spread.values())  # the smile
    for ex in examples.values():
        assert ex.wav.dtype == np.float32 and np.isfinite(ex.wav).all() and np.abs(ex.wav).max() <= 1
        assert ex.landmarks["xy"].shape[1:] == (68, 2) and ex.landmarks["success"].all()


def test_recorded_twice_keeps_the_signal_and_changes_the_channel(examples):
    rec = showcase.recorded_twice(examples["neutral"], 1.0)
    clean, improv = rec.values()
    assert len(clean) == len(improv) == len(examples["neutral"].dry)
    f, clean_db = showcase.long_term_spectrum(clean, 16000)
    _, improv_db = showcase.long_term_spectrum(improv, 16000)
    high = f > 7200  # above the MSP-IMPROV-like microphone's 6.8 kHz low-pass
    assert clean_db[high].mean() > improv_db[high].mean()
    same = showcase.recorded_twice(examples["neutral"], 0.0)
    np.testing.assert_allclose(*same.values(), atol=1e-6)  # shift 0 = the clean channel
    table = showcase.channel_table(1.0)
    assert table.loc["rt60_s"].tolist() == [0.0, 0.15]  # a sound booth


def test_vowel_space_is_the_vowel_triangle():
    frame = showcase.vowel_space(n_speakers=2, intensity=0.9, seed=1)
    assert set(frame["vowel"]) == {"a", "ə", "ɛ", "i", "æ", "u"}
    means = frame.groupby("vowel", observed=True)[["open", "spread", "round", "F1", "F2"]].mean()
    assert means["F1"].idxmax() == "a" and means["open"].idxmax() == "a"
    assert means["F2"].idxmax() == "i" and means["spread"].idxmax() == "i"
    assert means["round"].idxmax() == "u" and means["F2"].idxmin() == "u"
    by_emotion = frame.groupby("emotion")["spread"].mean()
    assert by_emotion["happiness"] > by_emotion["neutral"] > by_emotion["sadness"]


def test_emotion_effects_table_reads_the_code():
    table = showcase.emotion_effects_table()
    assert list(table.index) == list(showcase.FOUR_EMOTIONS)
    assert table.loc["neutral", "articulation_gain"] == 1.0 and table.loc["sadness", "rate"] < 1


def test_corpora_table_and_spectra(tmp_path):
    paths = Paths(tmp_path)
    params = {"crema_d_root": "", "msp_improv_root": "/data/MSP-IMPROV"}
    table = showcase.corpora_table(params, paths)
    assert table.loc["source", "crema_d"].startswith("simulated, not generated")
    assert table.loc["source", "msp_improv"] == "real: /data/MSP-IMPROV"
    root = generate_crema_d(paths.corpus("crema_d"), n_actors=1, n_sentences=1, workers=1, progress=False)
    table = showcase.corpora_table(params, paths)
    assert table.loc["source", "crema_d"] == "simulated"
    assert table.loc["param n_actors", "crema_d"] == 1
    assert table.loc["fault missing_wav", "crema_d"] == 1
    wavs = sorted((root / "AudioWAV").glob("*.wav"))
    utterances = pd.DataFrame({"corpus": "crema_d", "audio_path": [str(w) for w in wavs]})
    spectra = showcase.corpus_spectra(utterances, n_files=3)
    f, db = spectra["crema_d"]
    assert f[-1] == 8000 and np.isfinite(db).all()
