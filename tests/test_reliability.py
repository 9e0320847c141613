"""Reliability: readers that check what they trust, one ledger of utterances from reading to
training, caches and runs that cannot lie, one build per artifacts folder, workers that die with
the build, and a training grid killed half-way that resumes to the table of a clean run.

Every case runs on tiny files written here (issue 18's probes, and issue 17's real-format cases:
``-nan(ind)`` values, an implausible frame rate, several speakers in a TextGrid)."""
import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from agcc import cli, io
from agcc.alignment import read_textgrid
from agcc.audio import inspect_audio
from agcc.clustering import ClusteringRun
from agcc.features import extract_features, make_extractor
from agcc.grid import pending, results_table, run_grid
from agcc.io import BuildLocked, atomic_write, build_lock, cached_by_key
from agcc.landmarks import read_openface
from agcc.params import defaults
from agcc.segments import SegmentSet, build_segments, utterance_tokens
from agcc.simulate import corpora as sim
from agcc.train import TrainConfig, TrainingData, prepare_training_data, run_task, task_for

from test_data_layer import face, textgrid_text
from test_train import toy_data

SR = 16000
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


# ----------------------------------------------------------------------------- tiny inputs
def wav(path, seconds=1.0, channels=1, scale=(1.0,)):
    """A 220 Hz tone; ``scale`` per channel (``(1, -1)``: stereo channels that cancel)."""
    x = 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * SR)) / SR)
    data = np.stack([s * x for s in scale], 1) if channels > 1 else x * scale[0]
    sf.write(path, data, SR, subtype="PCM_16")
    return str(path)


LM_COLUMNS = (["frame", "face_id", "timestamp", "confidence", "success"]
              + [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)])


def landmark_lines(n=40, fps=30.0, face_id=0, confidence=0.9, t0=0.0):
    """Data lines of an OpenFace CSV (values as text, so tests can write what Windows builds do)."""
    xy = face(n)
    return [[str(i + 1), str(face_id), f"{t0 + i / fps:.3f}", str(confidence), "1",
             *[f"{v:.3f}" for v in xy[i, :, 0]], *[f"{v:.3f}" for v in xy[i, :, 1]]] for i in range(n)]


def write_landmarks(path, lines):
    Path(path).write_text(",".join(LM_COLUMNS) + "\n" + "".join(",".join(r) + "\n" for r in lines))
    return str(path)


def write_alignment(path, phones, xmax, speakers=None):
    tiers = {}
    for spk in speakers or [None]:
        prefix = f"{spk} - " if spk else ""
        tiers[f"{prefix}words"] = [(0, xmax, "x")]
        tiers[f"{prefix}phones"] = phones if spk in (None, (speakers or [None])[-1]) else [(0, xmax, "S")]
    Path(path).write_text(textgrid_text(tiers, xmax))
    return str(path)


PHONES = [(0.0, 0.2, ""), (0.2, 0.4, "AA1"), (0.4, 0.5, "T"), (0.5, 0.7, "IY1"), (0.7, 1.0, "")]


def utterance(tmp_path, name, *, emotion="anger", audio=None, lm=True, tg=True, split="train"):
    """One row of the utterance table with good side files unless told otherwise."""
    audio = audio or wav(tmp_path / f"{name}.wav")
    return {"utt_id": name, "corpus": "crema_d", "speaker": "1001", "session": "1001", "split": split,
            "emotion": emotion, "audio_path": audio,
            "landmarks_path": write_landmarks(tmp_path / f"{name}.csv", landmark_lines()) if lm else "",
            "alignment_path": write_alignment(tmp_path / f"{name}.TextGrid", PHONES, 1.0) if tg else ""}


def tokens_of(row):
    feats = make_extractor("logmel")(__import__("agcc.audio", fromlist=["x"]).load_audio(row["audio_path"]))
    return utterance_tokens(row, feats, None)


# ----------------------------------------------------------------------------- audio
def test_audio_is_checked_on_the_mono_mix_and_truncation_is_named(tmp_path):
    assert inspect_audio(wav(tmp_path / "ok.wav")) == (1.0, None)
    duration, why = inspect_audio(wav(tmp_path / "lr.wav", channels=2, scale=(1.0, -1.0)))
    assert duration == 1.0 and "no signal" in why and "mix of its 2 channels" in why  # L = -R: a silent mix
    assert "no signal" in inspect_audio(wav(tmp_path / "zero.wav", scale=(0.0,)))[1]
    full = (tmp_path / "ok.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full[: len(full) // 2])
    assert len(sf.read(cut)[0]) < SR  # a decoder reads it without complaint, only shorter
    assert inspect_audio(cut)[1].startswith("truncated WAV: its header declares 32000 bytes")


# ----------------------------------------------------------------------------- OpenFace
def test_nan_timestamps_fail_their_frames_and_never_give_a_nan_token(tmp_path):
    lines = landmark_lines(40)
    lines[10][2] = "nan"  # inside the clip: interpolated, the frame counts as failed
    lines[0][2] = "-nan(ind)"  # at its start: left out
    track = read_openface(write_landmarks(tmp_path / "a.csv", lines))
    assert len(track.timestamps) == 39 and np.isfinite(track.timestamps).all()
    assert (np.diff(track.timestamps) > 0).all() and not track.success[9] and track.success.sum() == 38
    assert "2 frames without a valid timestamp" in track.notes[0]
    row = utterance(tmp_path, "u")
    row["landmarks_path"] = str(tmp_path / "a.csv")
    quality, tokens, _ = tokens_of(row)
    assert quality["status"] == "used" and "timestamp" in quality["note"]
    assert tokens and all(np.isfinite(ag).all() for _, ag, _ in tokens)
    every = landmark_lines(5)
    for r in every:
        r[2] = "nan"
    with pytest.raises(ValueError, match="fewer than two frames with a finite timestamp"):
        read_openface(write_landmarks(tmp_path / "b.csv", every))


def test_rows_out_of_order_refuse_the_file_with_the_reason(tmp_path):
    lines = landmark_lines(20)
    lines[5], lines[6] = lines[6], lines[5]
    with pytest.raises(ValueError, match=r"timestamps do not increase \(0.167 s after 0.2 s"):
        read_openface(write_landmarks(tmp_path / "a.csv", lines))


def test_implausible_frame_rate_warns_and_refuses(tmp_path):
    path = write_landmarks(tmp_path / "a.csv", landmark_lines(20, fps=1000.0))  # image-sequence timestamps
    with pytest.warns(UserWarning, match="implausible frame rate 1000 fps"), pytest.raises(ValueError, match="1000 fps"):
        read_openface(path)
    row = utterance(tmp_path, "u")
    row["landmarks_path"] = path
    quality, tokens, _ = tokens_of(row)  # the utterance keeps its audio, loses its tokens, says why
    assert quality["status"] == "SER only" and "implausible frame rate" in quality["reason"] and not tokens


@pytest.mark.parametrize("missing", ["-nan(ind)", "-nan", "nan", "-1.#IND"])
def test_windows_nan_values_fail_the_frame_not_the_file(tmp_path, missing):
    lines = landmark_lines(10)
    lines[3][5 + 50] = missing  # x_50
    track = read_openface(write_landmarks(tmp_path / "a.csv", lines))
    assert len(track.success) == 10 and track.success.tolist() == [i != 3 for i in range(10)]
    assert "1 frames with missing landmark values" in track.notes[0]


def test_two_faces_one_kept_by_a_stated_rule(tmp_path):
    many, few = landmark_lines(30, face_id=1), landmark_lines(30, face_id=0)
    for r in few[10:]:
        r[4] = "0"  # face 0 tracked on 10 frames only
    rows = [r for pair in zip(few, many) for r in pair]  # interleaved by frame, as OpenFace writes
    track = read_openface(write_landmarks(tmp_path / "a.csv", rows))
    assert len(track.timestamps) == 30 and track.success.all()
    assert "2 faces tracked (face_id 0, 1); kept face 1: most successful frames (30)" in track.notes[0]
    tie = [r for pair in zip(landmark_lines(30, face_id=0, confidence=0.5), landmark_lines(30, face_id=1, confidence=0.95))
           for r in pair]
    assert "kept face 1" in read_openface(write_landmarks(tmp_path / "b.csv", tie)).notes[0]  # then confidence


def test_header_only_csv_is_named_as_such(tmp_path):
    with pytest.raises(ValueError, match="header only"):
        read_openface(write_landmarks(tmp_path / "a.csv", []))


# ----------------------------------------------------------------------------- TextGrid
def test_textgrid_of_several_speakers_takes_the_utterances_speaker(tmp_path):
    path = write_alignment(tmp_path / "a.TextGrid", PHONES, 1.0, speakers=["1002", "1001"])
    assert read_textgrid(path, speaker="1001")["label"].tolist() == ["AA1", "T", "IY1"]
    assert read_textgrid(path, speaker="1002")["label"].tolist() == ["S"]
    for speaker in (None, "1003"):  # never silently the first tier
        with pytest.raises(ValueError, match=r"several speakers \(1002, 1001\)"):
            read_textgrid(path, speaker=speaker)
    row = utterance(tmp_path, "u")
    row["alignment_path"] = path
    quality, tokens, _ = tokens_of(row)  # speaker 1001's tier: its two vowels
    assert quality["status"] == "used" and [m["phone"] for m, _, _ in tokens] == ["AA1", "IY1"]


def test_vowel_running_past_the_end_of_the_audio_is_dropped_and_counted(tmp_path):
    row = utterance(tmp_path, "u", audio=wav(tmp_path / "short.wav", seconds=0.6))
    quality, tokens, drops = tokens_of(row)
    assert [m["phone"] for m, _, _ in tokens] == ["AA1"]  # IY1 (0.5-0.7 s) is not kept cut at 0.6 s
    assert drops == {"interval past the end of the audio": 1}


# ----------------------------------------------------------------------------- one ledger
def test_an_utterance_dropped_in_segments_is_dropped_in_training(tmp_path):
    good = [utterance(tmp_path, f"g{i}", split=s) for i, s in enumerate(["train", "val", "test"])]
    zero = utterance(tmp_path, "zero", audio=wav(tmp_path / "zero.wav", scale=(0.0,)))
    mix = utterance(tmp_path, "mix", audio=wav(tmp_path / "mix.wav", channels=2, scale=(0.5, -0.5)))
    cut = utterance(tmp_path, "cut", audio=wav(tmp_path / "cut.wav"))
    Path(cut["audio_path"]).write_bytes(Path(cut["audio_path"]).read_bytes()[:20000])
    fear = utterance(tmp_path, "fear", emotion="fear")
    face_less = utterance(tmp_path, "noface", lm=False)
    table = pd.DataFrame(good + [zero, mix, cut, fear, face_less])
    feats, failed = extract_features(table["audio_path"].tolist(), make_extractor("logmel"), None, progress=False)
    assert not failed  # the features stage reads every file: only the ledger keeps them out
    segs = build_segments(table, feats, failed, workers=1, progress=False)
    q = segs.quality.set_index("utt_id")
    assert q.loc[["zero", "mix", "cut", "fear"], "status"].eq("dropped").all()
    assert q.loc["cut", "reason"].startswith("truncated WAV") and "mix of its 2 channels" in q.loc["mix", "reason"]
    assert q.loc["noface", "status"] == "SER only" and q.loc["noface", "stage"] == "landmarks"
    run = ClusteringRun(ks=[2], inertias=[1.0], elbow=2, k=2, labels=np.zeros(2, int), barycenters=np.zeros((2, 3, 24)),
                        divergence=np.zeros((2, 2)), mean=np.zeros(24), std=np.ones(24))
    data = prepare_training_data(table, segs, np.zeros(len(segs.tokens), int), run, feats, failed)
    # notebook 01's table and notebook 05's "used / left out" count agree, stage and reason included
    counts = segs.quality["status"].value_counts()
    assert len(data.utterances) == counts["used"] + counts["SER only"] == 4
    assert len(data.dropped) == counts["dropped"] == 4
    ledger = segs.quality[segs.quality["status"] == "dropped"][["utt_id", "stage", "reason"]]
    pd.testing.assert_frame_equal(data.dropped[["utt_id", "stage", "reason"]].sort_values("utt_id", ignore_index=True),
                                  ledger.sort_values("utt_id", ignore_index=True))


def _html(nb, marker, caption):
    """The HTML output of the code cell containing ``marker`` whose table caption has ``caption``
    (the pages show tables as HTML, agcc.pages), or "" when the cell shows no such table."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and marker in c.source)
    found = [o["data"]["text/html"] for o in cell.outputs if caption in o.get("data", {}).get("text/html", "")]
    return found[0] if found else ""


def _html_rows(html):
    """The cell texts of each body row of an HTML table (index hidden)."""
    body = html.split("<tbody>", 1)[1]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_smoke_references_of_notebooks_01_and_05_agree():
    root = Path(__file__).parent / "notebooks"
    quality = _html(nbformat.read(root / "01_data_prep.ipynb", 4), "quality_table(", "Table 1.6")
    counts = {}
    for row in _html_rows(quality):
        status = row[1]  # corpus, status, stage, reason, utterances
        assert status in ("used", "SER only", "dropped", "skipped by reader"), row
        if status != "skipped by reader":  # never in the utterance table
            status = "dropped" if status == "dropped" else "used"  # "used" and "SER only" both train
            counts[status] = counts.get(status, 0) + int(row[-1])
    nb05 = nbformat.read(root / "05_anchored_training.ipynb", 4)
    used = int(re.search(r"Table 5.1: the (\d+) utterances used", _html(nb05, "left out", "Table 5.1")).group(1))
    left_table = _html(nb05, "left out", "Table 5.2")
    left = int(re.search(r"Table 5.2: the (\d+) utterances left out", left_table).group(1)) if left_table else 0
    assert (used, left) == (counts["used"], counts.get("dropped", 0))


# ----------------------------------------------------------------------------- caches and runs
def _segment_set():
    tokens = pd.DataFrame({"token_id": [0, 1], "utt_id": ["u", "u"], "corpus": "crema_d", "speaker": "1", "session": "1",
                           "split": "val", "emotion": "anger", "vowel": ["a", "i"], "phone": ["AA1", "IY1"],
                           "start": [0.1, 0.3], "end": [0.16, 0.4], "n_frames": [3, 5], "offset": [0, 3]})
    quality = pd.DataFrame([{"utt_id": "u", "corpus": "crema_d", "status": "used", "stage": "", "reason": "",
                             "n_tokens": 2, "note": ""}])
    rng = np.random.default_rng(0)
    return SegmentSet(tokens=tokens, ag_frames=rng.normal(size=(8, 24)).astype(np.float32),
                      acoustic_frames=rng.normal(size=(8, 4)).astype(np.float32), quality=quality)


def _clustering():
    rng = np.random.default_rng(0)
    return ClusteringRun(ks=[2, 3], inertias=[2.0, 1.0], elbow=2, k=2, labels=np.arange(50) % 2,
                         barycenters=rng.normal(size=(2, 4, 24)), divergence=np.ones((2, 2)),
                         mean=np.zeros(24), std=np.ones(24))


def _shorten(path):  # a table loses its last line
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def _flip(path):
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10
    path.write_bytes(bytes(data))


CACHES = {"segments": (_segment_set, SegmentSet.load),
          "clustering": (_clustering, ClusteringRun.load),
          "training": (lambda: toy_data(n_per_split=(4, 2, 2)), TrainingData.load)}


@pytest.mark.parametrize("kind,file,damage", [
    ("segments", "tokens.csv", _shorten), ("segments", "ag_frames.npy", _truncate),
    ("segments", "acoustic_frames.npy", _flip), ("clustering", "ag_model.npz", _truncate),
    ("clustering", "ag_elbow.json", _flip), ("training", "frames.npy", _truncate),
    ("training", "tokens.csv", _shorten), ("training", "frames.npy", _flip),
])
def test_a_damaged_cache_is_recomputed_with_one_line_naming_it(tmp_path, capsys, kind, file, damage):
    make, load = CACHES[kind]
    folder, calls = tmp_path / kind, []

    def compute():
        calls.append(1)
        return make()

    cached_by_key(folder, "k", lambda: load(folder), compute, lambda r: r.save(folder))
    assert cached_by_key(folder, "k", lambda: load(folder), compute, lambda r: r.save(folder)) is not None
    assert len(calls) == 1 and capsys.readouterr().err == ""  # intact: loaded, silently
    damage(folder / file)
    cached_by_key(folder, "k", lambda: load(folder), compute, lambda r: r.save(folder))
    err = capsys.readouterr().err
    assert len(calls) == 2 and err.count("\n") == 1 and f"{folder / file}" in err and "recomputing" in err
    load(folder)  # rewritten whole


def test_a_later_stage_reading_a_damaged_set_gets_a_clear_error(tmp_path):
    folder = tmp_path / "segments"
    cached_by_key(folder, "k", lambda: None, _segment_set, lambda r: r.save(folder))
    assert len(SegmentSet.load(folder).tokens) == 2
    _truncate(folder / "ag_frames.npy")
    with pytest.raises(io.CacheError, match=r"ag_frames.npy: truncated \(.*\); run the data preparation notebook"):
        SegmentSet.load(folder)


def test_a_stamp_without_digests_or_a_failing_load_is_not_trusted(tmp_path, capsys):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "inputs.sha256").write_text("k")  # as written before digests existed
    assert cached_by_key(folder, "k", lambda: "stale", lambda: "fresh", lambda r: None) == "fresh"
    assert "lists no file digests" in capsys.readouterr().err

    def broken():
        raise KeyError("labels")

    (folder / "x.bin").write_bytes(b"1")
    cached_by_key(folder, "k2", broken, lambda: "fresh", lambda r: None)
    assert cached_by_key(folder, "k2", broken, lambda: "again", lambda r: None) == "again"
    assert "unreadable (KeyError" in capsys.readouterr().err


def test_a_bit_flipped_feature_file_is_recomputed(tmp_path, capsys):
    path = wav(tmp_path / "a.wav")
    ext = make_extractor("logmel")
    first, _ = extract_features([path], ext, tmp_path / "cache", progress=False)
    first = {k: np.array(v) for k, v in first.items()}  # a copy: features are memory-mapped from the entry
    entry = next((tmp_path / "cache").rglob("*.npy"))
    _flip(entry)  # edited in place (the cache itself only ever replaces files whole)
    again, _ = extract_features([path], ext, tmp_path / "cache", progress=False)
    assert f"{entry}: content changed" in capsys.readouterr().err
    np.testing.assert_array_equal(first[path], again[path])
    io.check_file(entry)  # rewritten with its digest


@pytest.mark.parametrize("damage", ["empty", "truncated", "edited", "other task"])
def test_a_damaged_run_file_is_run_again(tmp_path, capsys, damage):
    tasks = [{"i": i} for i in range(3)]
    run_grid(lambda t: {"square": t["i"] ** 2}, tasks, tmp_path, workers=1, progress=False)
    files = {json.loads(p.read_text())["task"]["i"]: p for p in tmp_path.glob("*.json")}
    path = files[1]
    if damage == "empty":
        path.write_text("")
    elif damage == "truncated":
        path.write_text(path.read_text()[:40])
    elif damage == "edited":  # valid JSON, a better number typed in by hand
        path.write_text(path.read_text().replace('"square": 1', '"square": 99'))
    else:
        path.write_bytes(files[2].read_bytes())
    assert pending(tasks, tmp_path) == [{"i": 1}]
    assert path.name in capsys.readouterr().err
    table = run_grid(lambda t: {"square": t["i"] ** 2}, tasks, tmp_path, workers=1, progress=False)
    assert table["square"].tolist() == [0, 1, 4]


def test_simulated_corpus_manifest_checked_and_generation_renamed_into_place(tmp_path, capsys):
    root, calls = tmp_path / "corpus", []

    def build(folder):
        calls.append(folder)
        (folder / "a.wav").write_bytes(b"x")
        if len(calls) == 1:
            raise KeyboardInterrupt  # killed half-way
        return {}, 1

    with pytest.raises(KeyboardInterrupt):
        sim._ensure(root, {"n": 1}, build, False)
    assert not root.exists() and calls[0] != root  # generation never writes into the corpus folder
    sim._ensure(root, {"n": 1}, build, False)
    assert sim.manifest(root)["n_utterances"] == 1 and not calls[1].exists()
    (root / sim.MANIFEST).write_text((root / sim.MANIFEST).read_text()[:30])  # truncated
    sim._ensure(root, {"n": 1}, build, False)
    assert len(calls) == 3 and "simulation.json: unreadable" in capsys.readouterr().err
    assert sim.manifest(root)["params"] == {"n": 1}


# ----------------------------------------------------------------------------- builds and processes
HOLD = "import sys, time\nfrom agcc.io import build_lock\nwith build_lock(sys.argv[1]):\n" \
       "    print('held', flush=True)\n    time.sleep(60)\n"


def test_one_build_per_artifacts_folder_and_a_dead_holders_lock_taken_over(tmp_path, capsys):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BuildLocked, match=f"another build is using .* \\(pid {holder.pid} on .*, started "):
            with build_lock(tmp_path):
                pass
    finally:
        holder.kill()  # SIGKILL: no clean-up runs
        holder.wait()
    with build_lock(tmp_path):
        assert f"pid {os.getpid()}" in (tmp_path / ".build.lock").read_text()
    assert f"taking over the lock left by a build that is gone (pid {holder.pid}" in capsys.readouterr().err


WORKERS = textwrap.dedent("""
    import os, sys, time
    from agcc.io import parallel_map

    def work(i):
        open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
        time.sleep(60)

    if __name__ == "__main__":
        parallel_map(work, [0, 1], workers=2, min_items=1, chunksize=1, progress=False)
""")


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_workers_end_when_the_build_is_killed(tmp_path):
    script = tmp_path / "w.py"
    script.write_text(WORKERS)
    build = subprocess.Popen([sys.executable, str(script), str(tmp_path / "pids")], env=ENV)
    (tmp_path / "pids").mkdir()
    deadline = time.time() + 30
    while len(list((tmp_path / "pids").iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.05)
    pids = [int(p.name) for p in (tmp_path / "pids").iterdir()]
    assert len(pids) == 2
    build.send_signal(signal.SIGKILL)
    build.wait()
    deadline = time.time() + 10
    while any(map(_running, pids)) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, pids)), "worker processes outlived the build"


def test_files_are_group_readable(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a", lambda fh: fh.write(b"x"), digest=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "a.sha256").stat().st_mode) == 0o644


def test_ctrl_c_ends_with_one_line(monkeypatch, capsys):
    import agcc.runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(agcc.runner, "run", interrupted)
    assert cli.main(["build", "--profile", "smoke", "--no-book"]) == 130
    err = capsys.readouterr().err
    assert err.strip().startswith("interrupted") and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks the build to kill it")
def test_training_grid_killed_half_way_resumes_to_the_table_of_a_clean_run(tmp_path):
    import torch

    data = toy_data(n_per_split=(8, 4, 4), n_features=4)
    data.save(tmp_path / "data")
    (tmp_path / "data" / "inputs.sha256").write_text("toy\n")
    tiny = dict(d_model=8, n_heads=2, n_layers=1, d_ff=8, fc_sizes=(8, 8, 8), max_epochs=2, threads=1, batch_size=8)
    tasks = [task_for(TrainConfig.from_params(defaults(), method=m, direction="C->I", seed=s, **tiny), tmp_path / "data")
             for m in ("Source only", "AG-CC") for s in (0, 1)]
    runs = tmp_path / "runs"
    pid = os.fork()  # the build: a copy of this process (torch already imported), killed mid-way
    if pid == 0:
        try:
            torch.set_num_threads(1)  # no OpenMP team in a forked child
            for i, task in enumerate(tasks):
                run_grid(run_task, tasks[: i + 1], runs, workers=1, progress=False)
                time.sleep(0.3)  # the parent's kill lands between runs or inside one
        except BaseException:  # noqa: BLE001 - shown by the parent's assertion
            import traceback

            (tmp_path / "child.txt").write_text(traceback.format_exc())
        finally:
            os._exit(0)
    deadline = time.time() + 60
    while not list(runs.glob("*.json")) and time.time() < deadline:
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    child = tmp_path / "child.txt"
    assert 0 < len(list(runs.glob("*.json"))) < len(tasks), child.read_text() if child.is_file() else ""
    resumed = run_grid(run_task, tasks, runs, workers=1, progress=False)
    clean = run_grid(run_task, tasks, tmp_path / "clean", workers=1, progress=False)
    timing = ["wall_s", "run_wall_s", "history"]
    pd.testing.assert_frame_equal(resumed.drop(columns=timing), clean.drop(columns=timing))
    assert resumed["history"].tolist() == clean["history"].tolist()  # every epoch, the same numbers
