"""The corpus registry (directions, upper bounds, the data-preparation stage) with a toy third corpus,
and the readers on the real-format variants of shared/notes/formats.md, on tiny trees made here."""
import codecs
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from agcc import corpora as reg
from agcc.corpora import crema_d, read_crema_d, read_evaluation, read_msp_improv, skipped
from agcc.experiments import directions_of
from agcc.params import resolve, schema
from agcc.paths import Paths
from agcc.stages import quality_table, read_corpora
from agcc.train import TrainConfig


def tone(path, sr=16000, seconds=0.2):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.sin(2 * np.pi * 220 * np.arange(int(sr * seconds)) / sr), sr)


def crema_tree(root, stems, summary_header="FileName", suffix=".wav"):
    for stem in stems:
        tone(root / "AudioWAV" / f"{stem}{suffix}")
    rows = "".join(f'"{i}","{s}","A","60","A","70","A","80"\n' for i, s in enumerate(stems, 1))
    (root / "processedResults").mkdir(parents=True, exist_ok=True)
    (root / "processedResults" / "summaryTable.csv").write_text(
        f'"","{summary_header}","VoiceVote","VoiceLevel","FaceVote","FaceLevel","MultiModalVote","MultiModalLevel"\n'
        + rows)
    return root


IMPROV_STEMS = ["MSP-IMPROV-S01A-F01-P-FM01", "MSP-IMPROV-S02H-M01-T-MF01", "MSP-IMPROV-S03S-F02-R-FM01"]


def improv_tree(root, stems=IMPROV_STEMS, *, audio_folder=True, suffix=".wav"):
    for stem in stems:
        folder = root / ("Audio" if audio_folder else "") / f"session{int(stem[17:19])}" / stem[11:15] / stem[20]
        tone(folder / f"{stem}{suffix}")
        if not audio_folder:
            (folder / f"{stem}.avi").write_bytes(b"RIFF....AVI ")  # the video beside it, as in the 2nd layout
    return root


def reasons(df) -> dict:
    s = skipped(df)
    return dict(zip(s["utt_id"], s["reason"]))


# ----------------------------------------------------------------------------- the registry
def test_registered_pair_gives_the_papers_directions():
    assert [c.name for c in reg.corpora()] == ["crema_d", "msp_improv"]
    assert reg.cross_directions() == ["C->I", "I->C"] and reg.within_directions() == ["C->C", "I->I"]
    assert reg.upper_bound_pairs() == [("C->C", "I->C"), ("I->I", "C->I")]
    assert (reg.source_of("C->I"), reg.target_of("C->I")) == ("crema_d", "msp_improv")
    assert reg.upper_bound_of("I->C") == "C->C" and reg.pair() == ("crema_d", "msp_improv")
    with pytest.raises(KeyError, match="unknown corpus code 'X'"):
        reg.source_of("X->I")
    with pytest.raises(ValueError, match="clashes"):
        reg.register(crema_d.CremaD())


def test_corpus_parameters_are_declared_once_in_profiles_yml():
    declared = schema()
    for corpus in reg.corpora():
        assert declared[corpus.root_param].type == "str"
        assert declared[corpus.label_param].default == corpus.labels[0]
        choices = getattr(declared[corpus.label_param], "choices", None)
        assert choices is None or tuple(choices) == corpus.labels  # one list of label choices
        assert set(corpus.twin_params.values()) <= set(declared)
        assert corpus.generator().__module__ == "agcc.simulate.corpora"  # the twin's generator resolves


class Toy(crema_d.CremaD):
    """A third corpus for the test: CREMA-D's reader and simulator under another name and code."""

    name, code, display = "toy", "T", "Toy"
    root_param, label_param, labels = "toy_root", None, ("acted",)
    twin_params = {"n_actors": "toy_actors", "n_sentences": "toy_sentences"}


@pytest.fixture()
def toy():
    corpus = reg.register(Toy())
    yield corpus
    reg.unregister("toy")


def test_a_third_corpus_is_enumerated_everywhere(toy, tmp_path):
    assert reg.cross_directions() == ["C->I", "C->T", "I->C", "I->T", "T->C", "T->I"]
    assert reg.within_directions() == ["C->C", "I->I", "T->T"]
    assert reg.upper_bound_of("C->T") == "T->T" and ("T->T", "I->T") in reg.upper_bound_pairs()
    assert set(directions_of("AG-CC")) == set(reg.cross_directions()) and "T->T" in directions_of("Upper Bound")
    cfg = TrainConfig.from_params(resolve("default"), method="AG-CC", direction="T->I")
    assert (cfg.source, cfg.target) == ("toy", "msp_improv")

    # the data-preparation stage: real (tiny) copies of the pair, the toy's simulated twin
    params = {**resolve("smoke"), "crema_d_root": str(crema_tree(tmp_path / "C", ["1001_DFA_ANG_XX", "1002_DFA_SAD_XX",
                                                                                   "1003_DFA_NEU_XX"])),
              "msp_improv_root": str(improv_tree(tmp_path / "I")), "toy_root": "", "toy_actors": 1,
              "toy_sentences": 1, "workers": 1}
    paths = Paths(tmp_path / "artifacts").make()
    read = read_corpora(params, paths, progress=False)
    utterances, skips = read.utterances, read.skipped
    assert list(dict.fromkeys(utterances["corpus"])) == ["crema_d", "msp_improv", "toy"]
    toy_rows = utterances[utterances["corpus"] == "toy"]
    assert len(toy_rows) > 0 and toy_rows["split"].isin(["train", "val", "test"]).all()
    assert (paths.corpus("toy") / "simulation.json").is_file()
    written = pd.read_csv(paths.tables / "utterances.csv")
    assert (written["corpus"] == "toy").sum() == len(toy_rows)
    assert (skips["corpus"] == "toy").any()  # the twin's missing-WAV fault, reported under its name


# ----------------------------------------------------------------------------- CREMA-D variants
def test_summary_table_header_spelt_filename_and_missing_columns(tmp_path):
    root = crema_tree(tmp_path / "C", ["1001_DFA_ANG_XX", "1002_DFA_SAD_XX"], summary_header="Filename")
    voice = read_crema_d(root, label="voice")
    assert list(voice["emotion"]) == ["anger", "anger"]
    bad = crema_tree(tmp_path / "B", ["1001_DFA_ANG_XX"], summary_header="Name")
    with pytest.raises(ValueError, match=r"summaryTable\.csv: missing column\(s\) FileName"):
        read_crema_d(bad)


def test_upper_case_wav_extensions(tmp_path):
    df = read_crema_d(crema_tree(tmp_path / "C", ["1001_DFA_ANG_XX", "1002_DFA_SAD_XX"], suffix=".WAV"))
    assert len(df) == 2 and df["audio_path"].str.endswith(".WAV").all()
    assert len(read_msp_improv(improv_tree(tmp_path / "I", suffix=".WAV"))) == 3


def test_a_root_of_another_corpus_is_refused_with_the_layout(tmp_path):
    crema = crema_tree(tmp_path / "CREMA-D", ["1001_DFA_ANG_XX"])
    with pytest.raises(ValueError, match=r"(?s)named like an MSP-IMPROV clip.*CREMA-D.*Expected Audio/session<N>"):
        read_msp_improv(crema)
    with pytest.raises(FileNotFoundError, match=r"(?s)a CREMA-D root\? Expected AudioWAV/"):
        read_crema_d(improv_tree(tmp_path / "MSP"))  # no AudioWAV/, no WAV in the root
    tone(tmp_path / "odd" / "AudioWAV" / "take1.wav")
    with pytest.raises(ValueError, match=r"(?s)None of the 1 WAV files .* named like a CREMA-D clip.*Expected AudioWAV/"):
        read_crema_d(tmp_path / "odd")


def test_known_bad_reasons_and_the_pre_2022_name(tmp_path):
    stems = ["1076_MTI_SAD_XX", "1076_MTI_NEU_XX", "1064_IEO_DIS_MD", "1040_ITH_SAD_X", "1040_ITH_HAP_XX"]
    root = crema_tree(tmp_path / "C", stems)
    summary = root / "processedResults" / "summaryTable.csv"
    summary.write_text(summary.read_text().replace("1040_ITH_SAD_X\"", "1040_ITH_SAD_XX\""))
    (root / "openface").mkdir()
    (root / "openface" / "1040_ITH_SAD_X.csv").write_text("frame\n")  # side file under the old name
    df = read_crema_d(root, label="voice")
    why = reasons(df)
    assert "no signal" in why["1076_MTI_SAD_XX"]
    assert "FLV" in why["1076_MTI_NEU_XX"] and "WAV is fine" in why["1076_MTI_NEU_XX"]
    assert "one minute" in why["1064_IEO_DIS_MD"]
    assert list(df["utt_id"]) == ["1040_ITH_HAP_XX", "1040_ITH_SAD_XX"]
    old = df.set_index("utt_id").loc["1040_ITH_SAD_XX"]
    assert old["emotion"] == "anger" and old["landmarks_path"].endswith("1040_ITH_SAD_X.csv")
    assert "1040_ITH_SAD_XX" not in why and "1040_ITH_SAD_X" not in why  # joined, not "listed but no WAV"


def test_bad_codes_votes_and_orphan_side_files_are_reported(tmp_path):
    root = crema_tree(tmp_path / "C", ["1001_DFA_ANG_XX", "1001_DFA_XYZ_XX", "1002_DFA_SAD_XX"])
    summary = root / "processedResults" / "summaryTable.csv"
    summary.write_text(summary.read_text().replace('"3","1002_DFA_SAD_XX","A"', '"3","1002_DFA_SAD_XX","Q"'))
    for folder, suffix in (("openface", ".csv"), ("mfa", ".TextGrid")):
        (root / folder).mkdir()
        (root / folder / f"1009_TIE_HAP_XX{suffix}").write_text("x")
    why = reasons(read_crema_d(root))
    assert "unknown emotion code 'XYZ'" in why["1001_DFA_XYZ_XX"]
    assert why["1009_TIE_HAP_XX"] == "OpenFace CSV and MFA TextGrid without a WAV"
    assert "VoiceVote 'Q' is not a vote" in reasons(read_crema_d(root, label="voice"))["1002_DFA_SAD_XX"]
    with summary.open("a") as fh:
        fh.write('"4","1001_DFA_ANG_XX","S","60","S","70","S","80"\n')  # listed twice, another vote
    voice = read_crema_d(root, label="voice")
    assert "conflicting VoiceVote rows ('A' and 'S')" in reasons(voice)["1001_DFA_ANG_XX"]
    assert "1001_DFA_ANG_XX" not in set(voice["utt_id"])
    (root / "VideoDemographics.csv").write_text('"ActorID","Age","Sex"\n1001,51,"Female"\n1002,21,"Unknown"\n')
    assert dict(zip(read_crema_d(root)["speaker"], read_crema_d(root)["gender"])) == {"1001": "F", "1002": ""}
    improv = improv_tree(tmp_path / "I", IMPROV_STEMS + ["MSP-IMPROV-S04Z-M02-S-MF01"])
    (improv / "mfa").mkdir()
    (improv / "mfa" / "MSP-IMPROV-S09N-F03-P-FM01.TextGrid").write_text("x")
    why = reasons(read_msp_improv(improv))
    assert "unknown emotion code 'Z'" in why["MSP-IMPROV-S04Z-M02-S-MF01"]
    assert why["MSP-IMPROV-S09N-F03-P-FM01"] == "MFA TextGrid without a WAV"


# ----------------------------------------------------------------------------- MSP-IMPROV variants
def test_second_layout_with_wav_and_avi_side_by_side(tmp_path):
    first = read_msp_improv(improv_tree(tmp_path / "one"))
    second = read_msp_improv(improv_tree(tmp_path / "two", audio_folder=False))
    cols = ["utt_id", "speaker", "session", "emotion"]
    pd.testing.assert_frame_equal(first[cols], second[cols])
    assert second["audio_path"].str.contains("/session1/S01A/P/").any()


EVALUATION = ("UTD-IMPROV-S01A-F01-P-FM01.avi; Angry; A:3.2; V:2.1; D:3.0 ; N:2.5;\n"   # word label
              "rater1; Angry; Angry; A:3; V:2; D:3; N:2;\n"
              "UTD-IMPROV-S02H-M01-T-MF01.avi, H, A:3.0, V:4.1, D:3.0 , N:NaN,\n"       # commas
              "UTD-IMPROV-S03S-F02-R-FM01.avi; S; A:2.0; V:1.9; D:2.2 ; N:3.1;\n"
              "UTD-IMPROV-S03S-F02-R-FM01.avi; H; A:2.0; V:1.9; D:2.2 ; N:3.1;\n"        # conflicting
              "this line is neither\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le"])
def test_evaluation_file_variants_are_read_or_reported(tmp_path, encoding):
    root = improv_tree(tmp_path / "I", IMPROV_STEMS + ["MSP-IMPROV-S04N-M02-S-MF01"])
    (root / "Evalution.txt").write_bytes(EVALUATION.encode(encoding))  # utf-16: with BOM; utf-16-le: without
    table = read_evaluation(root)
    assert dict(zip(table["utt_id"], table["label"]))["MSP-IMPROV-S02H-M01-T-MF01"] == "H"
    df = read_msp_improv(root, label="consensus")
    assert dict(zip(df["utt_id"], df["emotion"])) == {"MSP-IMPROV-S01A-F01-P-FM01": "anger",
                                                     "MSP-IMPROV-S02H-M01-T-MF01": "happiness",
                                                     "MSP-IMPROV-S04N-M02-S-MF01": "unlabeled"}
    why = reasons(df)
    assert "conflicting consensus lines (S and H" in why["MSP-IMPROV-S03S-F02-R-FM01"]
    assert why["Evalution.txt line 6"] == "Evalution.txt: line not understood"


def test_unknown_consensus_label_and_a_label_file_of_no_clip(tmp_path):
    root = improv_tree(tmp_path / "I")
    (root / "Evaluation.txt").write_text("UTD-IMPROV-S01A-F01-P-FM01.avi; Q; A:3.2; V:2.1; D:3.0 ; N:2.5;\n"
                                         "UTD-IMPROV-S02H-M01-T-MF01.avi; H; A:3.2; V:2.1; D:3.0 ; N:2.5;\n")
    why = reasons(read_msp_improv(root, label="consensus"))
    assert "unknown consensus label 'Q'" in why["MSP-IMPROV-S01A-F01-P-FM01"]
    (root / "Evaluation.txt").write_text("UTD-IMPROV-S19N-F06-P-FM01.avi; N; A:3.2; V:2.1; D:3.0 ; N:2.5;\n")
    with pytest.raises(ValueError, match="consensus label to none of the 3 clips"):
        read_msp_improv(root, label="consensus")


def test_reader_skips_are_counted_in_the_data_quality_table():
    quality = pd.DataFrame({"utt_id": ["a", "b"], "corpus": ["crema_d", "crema_d"], "status": ["used", "SER only"],
                            "stage": ["", "alignment"], "reason": ["", "no MFA TextGrid"]})
    skips = pd.DataFrame({"utt_id": ["c", "d"], "corpus": ["crema_d"] * 2,
                          "reason": ["listed in summaryTable.csv but no WAV"] * 2})
    table = quality_table(quality, skips).set_index(["status", "reason"])["utterances"]
    assert table[("skipped by reader", "listed in summaryTable.csv but no WAV")] == 2
    assert table[("used", "(used)")] == 1 and table.sum() == 4


def test_utf16_detection_does_not_touch_utf8(tmp_path):
    from agcc.corpora.files import read_text

    text = "UTD-IMPROV-S01A-F01-P-FM01.avi; A; é\n"
    for data in (text.encode("utf-8"), codecs.BOM_UTF8 + text.encode("utf-8"), text.encode("utf-16"),
                 text.encode("utf-16-be")):
        (tmp_path / "e.txt").write_bytes(data)
        assert read_text(tmp_path / "e.txt") == text
