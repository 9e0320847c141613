"""The simulated corpora follow the real corpora's on-disk formats, are byte-identical for a seed,
and are read by the same readers as the real data."""
import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from praatio import textgrid

from agcc.alignment import read_textgrid
from agcc.corpora import read_crema_d, read_msp_improv
from agcc.corpora import skipped as corpora_skipped
from agcc.landmarks import read_openface
from agcc.simulate import corpora as sim
from agcc.simulate.writers import openface_columns, write_openface_csv

SMALL_CREMA = dict(n_actors=2, n_sentences=2, seed=11, workers=1, progress=False)
SMALL_IMPROV = dict(n_sessions=1, per_speaker=8, seed=11, workers=1, progress=False)


@pytest.fixture(scope="module")
def crema_root(tmp_path_factory):
    return sim.generate_crema_d(tmp_path_factory.mktemp("crema") / "CREMA-D", **SMALL_CREMA)


@pytest.fixture(scope="module")
def improv_root(tmp_path_factory):
    return sim.generate_msp_improv(tmp_path_factory.mktemp("improv") / "MSP-IMPROV", **SMALL_IMPROV)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_crema_names_and_headers(crema_root):
    stems = [p.stem for p in (crema_root / "AudioWAV").glob("*.wav")]
    assert stems and all(re.fullmatch(r"10\d\d_(IEO|TIE)_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)", s) for s in stems)
    assert {s.split("_")[2] for s in stems} == {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"}
    ieo_levels = {s.split("_")[3] for s in stems if "_IEO_" in s and "_NEU_" not in s}
    assert ieo_levels == {"LO", "MD", "HI"}
    assert all(s.endswith("_XX") for s in stems if "_IEO_" not in s or "_NEU_" in s)
    assert (crema_root / "VideoDemographics.csv").read_text().splitlines()[0] == '"ActorID","Age","Sex","Race","Ethnicity"'
    header = (crema_root / "processedResults" / "summaryTable.csv").read_text().splitlines()[0]
    assert header == '"","FileName","VoiceVote","VoiceLevel","FaceVote","FaceLevel","MultiModalVote","MultiModalLevel"'
    table = pd.read_csv(crema_root / "processedResults" / "summaryTable.csv")
    assert table["VoiceVote"].str.fullmatch(r"[ADFHNS](:[ADFHNS])*").all()
    info = sf.info(str(next((crema_root / "AudioWAV").glob("*.wav"))))
    assert (info.samplerate, info.channels) == (16000, 1)


def test_crema_reader_reports_the_reproduced_faults(crema_root):
    df = read_crema_d(crema_root)
    faults = sim.manifest(crema_root)["faults"]
    skipped = corpora_skipped(df)
    assert set(faults["missing_wav"]) <= set(skipped["utt_id"])
    assert len(df) + len(faults["missing_wav"]) == sim.manifest(crema_root)["n_utterances"]
    assert set(df["emotion"]) == {"neutral", "anger", "happiness", "sadness", "disgust", "fear"}
    assert df["gender"].isin(["F", "M"]).all()
    assert (df["landmarks_path"] != "").all()


def test_improv_layout_labels_and_prefix_swap(improv_root):
    wavs = sorted((improv_root / "Audio").rglob("*.wav"))
    assert len(wavs) == 16
    for wav in wavs:
        m = re.fullmatch(r"MSP-IMPROV-S(\d\d)([AHSN])-([FM])(\d\d)-([RSTP])-[FM]{2}\d\d", wav.stem)
        assert m, wav.stem
        session_dir, sent_dir, type_dir = wav.parts[-4:-1]
        assert session_dir == f"session{int(m.group(4))}"
        assert sent_dir == f"S{m.group(1)}{m.group(2)}" and type_dir == m.group(5)
    assert sf.info(str(wavs[0])).samplerate == sim.IMPROV_SAMPLE_RATE
    text = (improv_root / "Evaluation.txt").read_text()
    consensus = [l for l in text.splitlines() if l.startswith("UTD-IMPROV-")]
    assert len(consensus) == len(wavs)
    assert all(re.fullmatch(r"UTD-IMPROV-\S+\.avi; [AHSNOX]; A:\S+; V:\S+; D:\S+ ; N:\S+;", l) for l in consensus)
    assert "MSP-IMPROV" not in text
    df = read_msp_improv(improv_root, label="consensus")
    assert len(df) == len(wavs) and corpora_skipped(df).empty
    assert set(df["speaker"]) == {"F01", "M01"}


def test_openface_csvs_parse_by_name(crema_root, improv_root):
    spaced = next((crema_root / "openface").glob("*.csv")).read_text().splitlines()[0]
    assert spaced.startswith("frame, face_id, timestamp, confidence, success")
    plain = next((improv_root / "openface").glob("*.csv")).read_text().splitlines()[0]
    assert plain.split(",") == openface_columns()
    for root in (crema_root, improv_root):
        track = read_openface(next((root / "openface").glob("*.csv")))
        assert track.xy.shape[1:] == (68, 2)
        assert abs(track.fps - 30.0) < 0.5


def test_openface_failed_frames_are_zero_and_flagged(tmp_path):
    n = 5
    lm = {"xy": np.full((n, 68, 2), 100.0), "timestamps": np.arange(n) / 30, "success": np.array([1, 0, 0, 1, 1]),
          "confidence": np.array([0.9, 0.1, 0.1, 0.9, 0.9]),
          "pose": {"roll_rad": np.zeros(n), "scale": np.full(n, 50.0), "tx": np.zeros(n), "ty": np.zeros(n)}}
    write_openface_csv(tmp_path / "a.csv", lm, spaced=True)
    track = read_openface(tmp_path / "a.csv")
    assert track.success.tolist() == [True, False, False, True, True]
    assert (track.xy[1:3] == 0).all() and (track.xy[0] == 100).all()


def test_textgrids_look_like_mfa(crema_root):
    path = next((crema_root / "mfa").glob("*.TextGrid"))
    tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=True)
    assert list(tg.tierNames) == ["words", "phones"]
    phones = tg.getTier("phones").entries
    labels = [e.label for e in phones]
    assert "" in labels  # silences are empty intervals
    vowels = [l for l in labels if l[:2] in {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}]
    assert vowels and all(l[-1] in "012" for l in vowels)
    bounds = np.array([t for e in phones for t in (e.start, e.end)])
    assert np.allclose(bounds * 100, np.round(bounds * 100), atol=1e-6)  # MFA's 10 ms frames
    word_bounds = {round(t, 2) for e in tg.getTier("words").entries for t in (e.start, e.end)}
    assert word_bounds <= {round(t, 2) for t in bounds}
    assert len(read_textgrid(path)) == len([l for l in labels if l])


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, crema_root):
    again = sim.generate_crema_d(tmp_path / "again", **{**SMALL_CREMA, "workers": 2})
    assert _digest(again) == _digest(crema_root)
    other = sim.generate_crema_d(tmp_path / "other", **{**SMALL_CREMA, "seed": 12})
    a, b = _digest(other), _digest(crema_root)
    changed = [k for k in a if k.endswith(".wav") and a[k] != b.get(k)]
    assert changed


def test_generation_is_cached_and_refuses_foreign_folders(tmp_path):
    root = sim.generate_msp_improv(tmp_path / "c", **{**SMALL_IMPROV, "per_speaker": 2})
    stamp = (root / "simulation.json").stat().st_mtime_ns
    sim.generate_msp_improv(tmp_path / "c", **{**SMALL_IMPROV, "per_speaker": 2})
    assert (root / "simulation.json").stat().st_mtime_ns == stamp
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="refusing"):
        sim.generate_msp_improv(foreign, **{**SMALL_IMPROV, "per_speaker": 2})
    assert (foreign / "thesis.tex").exists()


def test_an_intensity_changes_the_intensities_and_nothing_else_of_the_corpus(tmp_path, monkeypatch):
    """The knobs calibrate difficulty: a corpus generated at another emotion intensity has the same
    actors, speakers, clips, sentences, emotions and channels (one random stream for the structure,
    others for the intensity-dependent draws); only the intensities and what follows from them (the
    perceptual votes) differ. A shared stream redrew every later actor when the intensity moved."""
    specs = {}
    monkeypatch.setattr(sim, "_render_all", lambda s, workers, desc, progress: specs.setdefault(
        (desc, len(specs)), s) and [])
    for i, intensity in enumerate((0.3, 0.6)):
        sim.generate_crema_d(tmp_path / f"c{i}", **{**SMALL_CREMA, "n_actors": 4, "intensity": intensity})
        sim.generate_msp_improv(tmp_path / f"i{i}", **{**SMALL_IMPROV, "n_sessions": 2, "per_speaker": 60,
                                                      "intensity": intensity})
    (c0, i0, c1, i1) = specs.values()
    structure = lambda s: [(x["utt_id"], x["text"], x["emotion"], repr(x["speaker"]), repr(x.get("channel")),  # noqa: E731
                            x["align_fail"]) for x in s]
    assert structure(c0) == structure(c1) and structure(i0) == structure(i1)
    assert [x["intensity"] for x in c0] != [x["intensity"] for x in c1]
    assert [x["intensity"] for x in i0] != [x["intensity"] for x in i1]
    assert (tmp_path / "c0" / "VideoDemographics.csv").read_text() == (tmp_path / "c1" / "VideoDemographics.csv").read_text()
