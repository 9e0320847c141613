"""Readers, landmark normalisation, alignments, splits and vowel segments on fixtures written from
the documented real formats (shared/notes/formats.md), and on deliberately bad inputs."""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from agcc import segments as seg
from agcc.alignment import paper_vowel, read_textgrid
from agcc.vocab import VOWELS as PAPER_VOWELS
from agcc.corpora import read_crema_d, read_evaluation, read_msp_improv, skipped
from agcc.features import make_extractor
from agcc.landmarks import fill_gaps, normalize_landmarks, read_openface
from agcc.simulate import corpora as sim
from agcc.splits import assign_splits

# ----------------------------------------------------------------------------- OpenFace fixtures
AU_R = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15",
        "AU17", "AU20", "AU23", "AU25", "AU26", "AU45"]


def full_openface_columns() -> list[str]:
    """The 714 columns of an OpenFace 2.x FeatureExtraction run with every output group."""
    cols = ["frame", "face_id", "timestamp", "confidence", "success"]
    cols += [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"] + ["gaze_angle_x", "gaze_angle_y"]
    cols += [f"eye_lmk_{a}_{i}" for a in "xy" for i in range(56)]
    cols += [f"eye_lmk_{a}_{i}" for a in "XYZ" for i in range(56)]
    cols += ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
    cols += [f"{a}_{i}" for a in "xy" for i in range(68)] + [f"{a}_{i}" for a in "XYZ" for i in range(68)]
    cols += ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"] + [f"p_{i}" for i in range(34)]
    cols += [f"{a}_r" for a in AU_R] + [f"{a}_c" for a in AU_R[:-1] + ["AU28", "AU45"]]
    return cols


def face(n=5, roll=0.0, scale=60.0, shift=(300.0, 200.0), seed=0):
    """(n, 68, 2) pixel landmarks: a random 'face' with eyes at known places, then rolled/scaled/moved."""
    rng = np.random.default_rng(seed)
    pts = rng.normal(0, 0.6, (68, 2))
    pts[36:42] = [-0.5, 0] + rng.normal(0, 0.05, (6, 2)) - rng.normal(0, 0.05, (6, 2)).mean(0)
    pts[42:48] = [0.5, 0] + rng.normal(0, 0.05, (6, 2))
    c, s = np.cos(roll), np.sin(roll)
    pts = pts @ np.array([[c, s], [-s, c]]) * scale + shift
    return np.repeat(pts[None], n, axis=0)


def write_csv(path, columns, xy, success, *, spaced=False):
    n = len(xy)
    data = pd.DataFrame(0.0, index=range(n), columns=columns)
    data["frame"] = np.arange(1, n + 1)
    data["timestamp"] = np.arange(n) / 30.0
    data["success"] = success
    for i in range(68):
        if f"x_{i}" in data:
            data[f"x_{i}"] = xy[:, i, 0]
            data[f"y_{i}"] = xy[:, i, 1]
    data.loc[np.asarray(success) == 0, [c for c in columns if c.startswith(("x_", "y_"))]] = 0.0
    text = data.to_csv(index=False)
    if spaced:
        text = text.replace(",", ", ")
    Path(path).write_text(text)


@pytest.mark.parametrize("spaced", [False, True], ids=["plain", "leading-spaces"])
def test_read_openface_full_layout(tmp_path, spaced):
    cols = full_openface_columns()
    assert len(cols) == 714
    xy = face(6)
    write_csv(tmp_path / "a.csv", cols, xy, [1, 1, 0, 1, 1, 1], spaced=spaced)
    if spaced:
        assert (tmp_path / "a.csv").read_text().startswith("frame, face_id, timestamp")
    track = read_openface(tmp_path / "a.csv")
    assert track.xy.shape == (6, 68, 2)
    assert track.success.tolist() == [True, True, False, True, True, True]
    np.testing.assert_allclose(track.xy[0], xy[0], atol=1e-6)
    assert abs(track.fps - 30.0) < 1e-6


def test_read_openface_only_some_groups_and_bad_files(tmp_path):
    cols = ["frame", "timestamp", "success"] + [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    write_csv(tmp_path / "few.csv", cols, face(3), [1, 1, 1])
    assert read_openface(tmp_path / "few.csv").xy.shape == (3, 68, 2)
    write_csv(tmp_path / "nolm.csv", ["frame", "timestamp", "success", "AU12_r"], face(2), [1, 1])
    with pytest.raises(ValueError, match="missing columns x_0"):
        read_openface(tmp_path / "nolm.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        read_openface(tmp_path / "empty.csv")


def test_normalization_removes_roll_scale_and_translation():
    a = normalize_landmarks(face(2))
    b = normalize_landmarks(face(2, roll=0.3, scale=140.0, shift=(900.0, 40.0)))
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(a[0, 36:42].mean(0), [-0.5, 0.0], atol=1e-9)
    np.testing.assert_allclose(a[0, 42:48].mean(0), [0.5, 0.0], atol=1e-9)
    failed = normalize_landmarks(np.zeros((1, 68, 2)))
    assert np.isnan(failed).all()


def test_fill_gaps_short_interpolated_long_and_edges_not():
    values = np.arange(12, dtype=float)[:, None]
    ok = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1], bool)
    filled, usable = fill_gaps(values, ok, max_gap=3)
    np.testing.assert_allclose(filled[3:5, 0], [3.0, 4.0])  # short gap: linear between 2 and 5
    assert usable.tolist() == [False, True, True, True, True, True, True, False, False, False, False, True]
    assert np.isnan(filled[0, 0]) and np.isnan(filled[7:11, 0]).all()


# ----------------------------------------------------------------------------- TextGrid fixtures
def textgrid_text(tiers: dict[str, list[tuple[float, float, str]]], xmax: float) -> str:
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {xmax}",
           "tiers? <exists>", f"size = {len(tiers)}", "item []:"]
    for k, (name, intervals) in enumerate(tiers.items(), start=1):
        out += [f"    item [{k}]:", '        class = "IntervalTier"', f'        name = "{name}"',
                "        xmin = 0", f"        xmax = {xmax}", f"        intervals: size = {len(intervals)}"]
        for j, (s, e, lab) in enumerate(intervals, start=1):
            out += [f"        intervals [{j}]:", f"            xmin = {s}", f"            xmax = {e}",
                    f'            text = "{lab}"']
    return "\n".join(out) + "\n"


ARPA = [(0, 0.2, ""), (0.2, 0.3, "HH"), (0.3, 0.45, "AA1"), (0.45, 0.5, "T"), (0.5, 0.8, "")]
IPA = [(0, 0.2, ""), (0.2, 0.3, "h"), (0.3, 0.45, "ɑː"), (0.45, 0.5, "t"), (0.5, 0.8, "")]


@pytest.mark.parametrize("phones,prefix", [(ARPA, ""), (IPA, ""), (ARPA, "spk1 - "), (IPA, "spk1 - ")])
def test_read_textgrid_arpabet_ipa_and_speaker_prefixed(tmp_path, phones, prefix):
    words = [(0, 0.2, ""), (0.2, 0.5, "hot"), (0.5, 0.8, "")]
    path = tmp_path / "x.TextGrid"
    path.write_text(textgrid_text({f"{prefix}words": words, f"{prefix}phones": phones}, 0.8))
    table = read_textgrid(path)
    assert list(table.columns) == ["label", "start", "end"] and len(table) == 3
    assert [paper_vowel(l) for l in table["label"]] == [None, "a", None]


def test_textgrid_without_phones_tier_is_refused(tmp_path):
    path = tmp_path / "w.TextGrid"
    path.write_text(textgrid_text({"words": [(0, 0.5, "hot")]}, 0.5))
    with pytest.raises(ValueError, match="no 'phones' tier"):
        read_textgrid(path)


def test_paper_vowel_table():
    arpa = {"AA0": "a", "AA1": "a", "AH0": "ə", "AH1": None, "AH2": None, "EH1": "ɛ", "IY2": "i",
            "AE1": "æ", "UW0": "u", "IH1": None, "AO1": None, "spn": None, "": None}
    ipa = {"ɑ": "a", "ɑː": "a", "a": "a", "ə": "ə", "ɛ": "ɛ", "i": "i", "iː": "i", "æ": "æ", "u": "u",
           "uː": "u", "ʉ": "u", "ʉː": "u", "ɐ": None, "ɪ": None, "ʊ": None}
    for label, vowel in {**arpa, **ipa}.items():
        assert paper_vowel(label) == vowel, label
    assert set(v for v in {**arpa, **ipa}.values() if v) == set(PAPER_VOWELS)


# ----------------------------------------------------------------------------- corpus trees
def tone(path, sr=16000, seconds=0.5, channels=1):
    x = 0.1 * np.sin(2 * np.pi * 220 * np.arange(int(sr * seconds)) / sr)
    sf.write(path, np.tile(x[:, None], (1, channels)) if channels > 1 else x, sr)


def test_crema_d_tree_in_a_nested_release_layout(tmp_path):
    root = tmp_path / "CREMA-D"
    wav_dir = root / "release" / "AudioWAV"
    wav_dir.mkdir(parents=True)
    for stem in ["1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TSI_NEU_XX", "1076_MTI_SAD_XX", "notes_and_junk"]:
        tone(wav_dir / f"{stem}.wav")
    (root / "release" / "VideoDemographics.csv").write_text(
        '"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Male","Caucasian","Not Hispanic"\n'
        '1002,21,"Female","Caucasian","Not Hispanic"\n')
    (root / "release" / "finishedResponses" / "processedResults").mkdir(parents=True)
    (root / "release" / "finishedResponses" / "processedResults" / "summaryTable.csv").write_text(
        '"","FileName","VoiceVote","VoiceLevel","FaceVote","FaceLevel","MultiModalVote","MultiModalLevel"\n'
        '"1","1001_DFA_ANG_XX","A","60","A","70","A","80"\n'
        '"2","1001_IEO_HAP_HI","H:N","30.67:51.00","H","70","H","80"\n'
        '"3","1002_TSI_NEU_XX","N","60","N","70","N","80"\n'
        '"4","1003_TSI_NEU_XX","N","60","N","70","N","80"\n')
    (root / "openface").mkdir()
    (root / "openface" / "1001_DFA_ANG_XX.csv").write_text("frame\n")
    df = read_crema_d(root)
    assert list(df["utt_id"]) == ["1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TSI_NEU_XX"]
    assert list(df["emotion"]) == ["anger", "happiness", "neutral"]
    assert list(df["gender"]) == ["M", "M", "F"] and list(df["session"]) == ["1001", "1001", "1002"]
    assert df.loc[0, "landmarks_path"].endswith("1001_DFA_ANG_XX.csv") and df.loc[1, "landmarks_path"] == ""
    assert (df["alignment_path"] == "").all()
    reasons = dict(zip(skipped(df)["utt_id"], skipped(df)["reason"]))
    assert "no signal" in reasons["1076_MTI_SAD_XX"]
    assert "does not follow" in reasons["notes_and_junk"]
    assert "no WAV" in reasons["1003_TSI_NEU_XX"]
    voice = read_crema_d(root, label="voice")
    assert list(voice["emotion"]) == ["anger", "no_agreement", "neutral"]
    with pytest.raises(ValueError, match="label"):
        read_crema_d(root, label="perceived")
    with pytest.raises(FileNotFoundError, match="No WAV"):
        read_crema_d(root / "openface")


def test_msp_improv_tree_with_misspelt_evaluation_file(tmp_path):
    root = tmp_path / "MSP-IMPROV"
    stems = ["MSP-IMPROV-S01A-F01-P-FM01", "MSP-IMPROV-S02H-M01-T-MF01", "MSP-IMPROV-S03S-F02-R-FM01",
             "MSP-IMPROV-S04N-M02-S-MF01"]
    for stem in stems:
        folder = root / "Audio" / f"session{int(stem[17:19])}" / stem[11:15] / stem[20]
        folder.mkdir(parents=True, exist_ok=True)
        tone(folder / f"{stem}.wav", sr=44100, channels=2)
    (root / "Evalution.txt").write_text(
        "UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:3.2; V:2.1; D:3.0 ; N:2.5;\n"
        "rater1; Angry; Angry; A:3; V:2; D:3; N:2;\n\n"
        "UTD-IMPROV-S02H-M01-T-MF01.avi; O; A:NaN; V:4.1; D:3.0 ; N:NaN;\n\n"
        "UTD-IMPROV-S03S-F02-R-FM01.avi; X; A:2.0; V:1.9; D:2.2 ; N:3.1;\n")
    target = read_msp_improv(root)
    assert list(target["emotion"]) == ["anger", "happiness", "sadness", "neutral"]
    assert list(target["speaker"]) == ["F01", "M01", "F02", "M02"]
    assert list(target["session"]) == ["session1", "session1", "session2", "session2"]
    assert list(read_evaluation(root)["utt_id"]) == stems[:3]
    consensus = read_msp_improv(root, label="consensus")
    assert list(consensus["emotion"]) == ["anger", "other", "no_agreement", "unlabeled"]


# ----------------------------------------------------------------------------- bad inputs end to end
@pytest.fixture()
def bad_corpus(tmp_path):
    """A small simulated CREMA-D tree with one file of each kind of fault."""
    root = sim.generate_crema_d(tmp_path / "c", n_actors=2, n_sentences=2, seed=3, workers=1, progress=False)
    df = read_crema_d(root)
    four = df[df["emotion"].isin(["anger", "happiness", "neutral", "sadness"])]["utt_id"].tolist()
    faults = dict(zip(["empty_wav", "stereo48k", "all_failed", "no_phones_tier", "past_end",
                       "no_vowel", "no_landmarks", "no_alignment", "truncated"], four))
    wav = lambda u: root / "AudioWAV" / f"{u}.wav"  # noqa: E731
    wav(faults["empty_wav"]).write_bytes(b"")
    x, sr = sf.read(wav(faults["stereo48k"]))
    from scipy.signal import resample_poly
    y = resample_poly(x, 3, 1)
    sf.write(wav(faults["stereo48k"]), np.stack([y, y], 1), 48000)
    wav(faults["truncated"]).write_bytes(wav(faults["truncated"]).read_bytes()[:30])
    csv = root / "openface" / f"{faults['all_failed']}.csv"
    lines = csv.read_text().splitlines()
    cols = [c.strip() for c in lines[0].split(",")]
    k = cols.index("success")
    csv.write_text("\n".join([lines[0]] + [", ".join(v if i != k else "0" for i, v in enumerate(l.split(", ")))
                                          for l in lines[1:]]) + "\n")
    mfa = lambda u: root / "mfa" / f"{u}.TextGrid"  # noqa: E731
    mfa(faults["no_phones_tier"]).write_text(textgrid_text({"words": [(0, 0.5, "hot")]}, 0.5))
    mfa(faults["past_end"]).write_text(textgrid_text(
        {"words": [(0, 20, "x")], "phones": [(10.0, 10.2, "AA1"), (12.0, 12.3, "IY1")]}, 20))
    mfa(faults["no_vowel"]).write_text(textgrid_text({"words": [(0, 0.3, "x")], "phones": [(0, 0.1, "S"), (0.1, 0.3, "T")]}, 0.3))
    (root / "openface" / f"{faults['no_landmarks']}.csv").unlink()
    mfa(faults["no_alignment"]).unlink()
    return root, faults


def test_every_bad_input_is_used_or_reported(bad_corpus, tmp_path):
    root, faults = bad_corpus
    utts = assign_splits(read_crema_d(root), seed=0)
    segs = seg.prepare_segments(utts, make_extractor("logmel"), tmp_path / "segs", tmp_path / "cache",
                                workers=1, progress=False)
    q = segs.quality.set_index("utt_id")
    assert set(q.index) == set(utts["utt_id"])  # nobody disappears
    expect = {"empty_wav": "audio unusable", "truncated": "audio unusable", "all_failed": "tracking failed",
              "no_phones_tier": "no 'phones' tier", "past_end": "interval past the end",
              "no_vowel": "no token of the six vowels", "no_landmarks": "no OpenFace",
              "no_alignment": "no MFA TextGrid"}
    for fault, text in expect.items():
        # unusable audio drops the utterance; without tokens it still takes part in SER training
        status = "dropped" if fault in ("empty_wav", "truncated") else "SER only"
        assert q.loc[faults[fault], "status"] == status, fault
        assert text in q.loc[faults[fault], "reason"], (fault, q.loc[faults[fault], "reason"])
    assert q.loc[faults["stereo48k"], "status"] == "used"
    assert (q.loc[utts.loc[utts["emotion"] == "fear", "utt_id"], "reason"].str.contains("not one of the four")).all()
    assert (q["status"] == "used").sum() >= 3
    # segments line up: same frame count in both modalities, 24 lip coordinates
    for i in range(len(segs.tokens)):
        assert segs.ag(i).shape == (segs.tokens.n_frames[i], 24)
        assert segs.acoustic(i).shape == (segs.tokens.n_frames[i], 40)
    assert np.isfinite(segs.ag_frames).all()


def test_segments_are_cached_and_reloaded(bad_corpus, tmp_path, monkeypatch):
    root, _ = bad_corpus
    utts = assign_splits(read_crema_d(root), seed=0)
    args = (utts, make_extractor("logmel"), tmp_path / "segs", tmp_path / "cache")
    first = seg.prepare_segments(*args, workers=1, progress=False)

    def boom(*a, **k):
        raise AssertionError("rebuilt although nothing changed")

    monkeypatch.setattr(seg, "build_segments", boom)
    second = seg.prepare_segments(*args, workers=1, progress=False)
    pd.testing.assert_frame_equal(first.tokens, second.tokens, check_dtype=False)
    np.testing.assert_array_equal(first.ag_frames, second.ag_frames)
    with pytest.raises(AssertionError, match="rebuilt"):
        seg.prepare_segments(*args, min_frames=4, workers=1, progress=False)


# ----------------------------------------------------------------------------- splits
def test_splits_are_speaker_independent_and_seeded():
    rows = [{"utt_id": f"u{c}{s}{k}", "corpus": c, "speaker": f"{c}{s}", "session": f"s{s}"}
            for c in ("a", "b") for s in range(10) for k in range(3)]
    utts = pd.DataFrame(rows)
    one, two, other = (assign_splits(utts, seed=s) for s in (1, 1, 2))
    pd.testing.assert_frame_equal(one, two)
    assert not one["split"].equals(other["split"])
    assert (one.groupby(["corpus", "session"])["split"].nunique() == 1).all()
    counts = one[one["corpus"] == "a"].groupby("split")["session"].nunique()
    assert counts.to_dict() == {"test": 2, "train": 6, "val": 2}
    tiny = assign_splits(utts[utts["session"].isin(["s0"])], seed=0)  # one session: by utterance
    assert set(tiny["split_unit"]) == {"utt_id"} and set(tiny["split"]) == {"train", "val", "test"}


def test_extractor_from_params():
    from agcc.features import LogMelExtractor, Wav2Vec2Extractor, extractor_from_params
    from agcc.params import resolve

    ex = extractor_from_params(resolve("default", {"n_mels": "24"}))
    assert isinstance(ex, LogMelExtractor) and ex.config()["n_mels"] == 24
    w = extractor_from_params(resolve("paper", {"wav2vec2_layer": "6", "wav2vec2_model": "/nowhere"}))
    assert isinstance(w, Wav2Vec2Extractor) and w.layer == 6


def test_mfa_corpus_layout_and_collected_textgrids(tmp_path):
    from agcc.alignment import collect_textgrids, prepare_mfa_corpus

    audio = tmp_path / "AudioWAV"
    audio.mkdir()
    for stem in ("1001_DFA_ANG_XX", "1002_IEO_HAP_HI"):
        (audio / f"{stem}.wav").write_bytes(b"RIFF")
    table = pd.DataFrame({"utt_id": ["1001_DFA_ANG_XX", "1002_IEO_HAP_HI", "1003_TSI_SAD_XX"],
                          "speaker": ["1001", "1002", "1003"], "sentence": ["DFA", "IEO", "XXX"],
                          "audio_path": [str(audio / "1001_DFA_ANG_XX.wav"), str(audio / "1002_IEO_HAP_HI.wav"),
                                         str(audio / "1003_TSI_SAD_XX.wav")]})
    texts = table["sentence"].map({"DFA": "Don't forget a jacket", "IEO": "It's eleven o'clock", "XXX": "Hello"})
    texts.iloc[1] = None
    skipped = prepare_mfa_corpus(table, texts, tmp_path / "mfa_in")
    assert skipped.to_dict("records") == [{"utt_id": "1002_IEO_HAP_HI", "reason": "no transcript"},
                                          {"utt_id": "1003_TSI_SAD_XX", "reason": "no audio file"}]
    wav = tmp_path / "mfa_in" / "1001" / "1001_DFA_ANG_XX.wav"
    assert wav.is_symlink() and wav.resolve() == (audio / "1001_DFA_ANG_XX.wav").resolve()
    assert (wav.with_suffix(".lab")).read_text() == "Don't forget a jacket\n"
    prepare_mfa_corpus(table.head(1), {"1001_DFA_ANG_XX": "Don't forget a jacket"}, tmp_path / "mfa_in")  # again: replaced
    out = tmp_path / "mfa_out"
    for speaker, stem in (("1001", "1001_DFA_ANG_XX"), ("1002", "1002_IEO_HAP_HI")):
        (out / speaker).mkdir(parents=True)
        (out / speaker / f"{stem}.TextGrid").write_text("x")
    assert collect_textgrids(out, tmp_path / "CREMA-D" / "mfa") == 2
    assert (tmp_path / "CREMA-D" / "mfa" / "1002_IEO_HAP_HI.TextGrid").is_file()
    (out / "other").mkdir()
    (out / "other" / "1001_DFA_ANG_XX.TextGrid").write_text("y")
    with pytest.raises(ValueError, match="same name"):
        collect_textgrids(out, tmp_path / "dest")
