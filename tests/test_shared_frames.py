"""Training data of the k ablation share the default setting's frames on disk (issue 17, item 1):
a variant differs only in its groupings, saves a digest-checked reference instead of a frames copy,
and is recomputed, never trusted, when the frames it stands for change."""
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from agcc import io
from agcc.clustering import ClusteringRun
from agcc.io import CacheError, cached_by_key
from agcc.train import FRAMES_REF, LAYERS_REF, TrainingData, regroup
from agcc.vocab import VOWELS
from test_train import toy_data


def _segments_and_run(data: TrainingData, k: int = 4, seed: int = 1):
    """A segment set whose tokens are ``data``'s (in another order, as notebook 01 lists them) and a
    clustering with ``k`` clusters of them."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.tokens))
    tokens = pd.DataFrame({"token_id": data.tokens["token_id"].to_numpy()[order],
                           "vowel": [VOWELS[v] for v in data.tokens["vowel"].to_numpy()[order]],
                           "split": ["val"] * len(order)})
    ag = rng.normal(size=(len(order), 5, 24))
    segments = SimpleNamespace(tokens=tokens, ag_frames=ag.reshape(-1, 24), ag=lambda i: ag[i])
    run = ClusteringRun(ks=[k], inertias=[1.0], elbow=k, k=k, labels=rng.integers(0, k, len(order)),
                        barycenters=np.zeros((k, 5, 24)), divergence=rng.uniform(1, 2, (k, k)),
                        mean=np.zeros(24), std=np.ones(24), speaker_norm="none")
    return segments, run


def _base(tmp_path):
    folder = tmp_path / "training"
    cached_by_key(folder, "base", lambda: TrainingData.load(folder, verify=False), lambda: toy_data((6, 3, 3)),
                  lambda d: d.save(folder))
    return TrainingData.load(folder), folder


def _variant(tmp_path, base, base_folder, calls=None):
    folder = tmp_path / "k4"
    segments, run = _segments_and_run(base)

    def compute():
        (calls if calls is not None else []).append(1)
        return regroup(base, base_folder / "frames.npy", segments, run)

    return cached_by_key(folder, "k4", lambda: TrainingData.load(folder, verify=False), compute,
                         lambda d: d.save(folder)), folder, segments, run


def test_a_k_variant_changes_only_the_groupings_and_shares_the_frames(tmp_path):
    base, base_folder = _base(tmp_path)
    _, folder, segments, run = _variant(tmp_path, base, base_folder)
    assert not (folder / "frames.npy").exists() and (folder / FRAMES_REF).is_file()  # no copy
    assert (folder / FRAMES_REF).stat().st_size < 1000
    variant = TrainingData.load(folder)
    assert isinstance(variant.frames, np.memmap) and Path(variant.frames.filename).resolve() == (base_folder / "frames.npy").resolve()
    np.testing.assert_array_equal(variant.frames, base.frames)
    pd.testing.assert_frame_equal(variant.utterances, base.utterances)
    pd.testing.assert_frame_equal(variant.tokens.drop(columns="ag_cluster"), base.tokens.drop(columns="ag_cluster"))
    label_of = dict(zip(segments.tokens["token_id"], run.labels))  # each token keeps its own new cluster
    assert variant.tokens["ag_cluster"].tolist() == [label_of[t] for t in base.tokens["token_id"]]
    np.testing.assert_array_equal(variant.ag_distance, run.divergence)
    assert variant.vowel_distance.shape == (6, 6)
    variant.save(folder)  # saved again: still a reference
    assert not (folder / "frames.npy").exists()


@pytest.mark.parametrize("damage", ["flip", "truncate", "recomputed"])
def test_a_variant_whose_shared_frames_changed_is_recomputed_with_one_line(tmp_path, capsys, damage):
    base, base_folder = _base(tmp_path)
    calls = []
    _variant(tmp_path, base, base_folder, calls)
    _variant(tmp_path, base, base_folder, calls)
    assert len(calls) == 1 and capsys.readouterr().err == ""  # intact: loaded, silently
    frames = base_folder / "frames.npy"
    if damage == "flip":  # same size, other bytes: only the digest sees it
        raw = bytearray(frames.read_bytes())
        raw[-3] ^= 0x10
        frames.write_bytes(bytes(raw))
    elif damage == "truncate":
        frames.write_bytes(frames.read_bytes()[:-40])
    else:  # the base set recomputed with other frames: its stamp lists another digest
        cached_by_key(base_folder, "base2", lambda: None, lambda: toy_data((6, 3, 3), seed=5),
                      lambda d: d.save(base_folder))
    _variant(tmp_path, base, base_folder, calls)
    err = capsys.readouterr().err
    assert len(calls) == 2 and err.count("\n") == 1 and "recomputing" in err and str(frames.resolve()) in err


def test_a_worker_loading_without_verification_still_refuses_changed_frames(tmp_path):
    base, base_folder = _base(tmp_path)
    _, folder, _, _ = _variant(tmp_path, base, base_folder)
    TrainingData.load(folder, verify=False)
    (base_folder / "frames.npy").write_bytes((base_folder / "frames.npy").read_bytes()[:-40])
    with pytest.raises(CacheError, match="frames.npy: .* bytes, the reference recorded"):
        TrainingData.load(folder, verify=False)
    with pytest.raises(CacheError, match=f"referenced by .*{FRAMES_REF}"):
        io.verify_folder(folder)


@pytest.mark.parametrize("ddof", [0, 1])
def test_frame_statistics_in_chunks_equal_those_in_one_piece(monkeypatch, ddof):
    """At paper scale the statistics of a corpus's training frames are accumulated in chunks (no
    copy of the corpus in each worker); they must be the one-piece values, to float32 rounding."""
    import torch

    import agcc.train as train

    data = toy_data((20, 4, 4))
    data.frames = data.frames * 3.0 + 100.0  # a large mean: a one-pass variance must not cancel
    batches = train.Batches(data, torch.device("cpu"))
    rows = np.flatnonzero((data.utterances["split"] == "train").to_numpy())
    whole = train.frame_statistics(batches, rows, ddof)
    monkeypatch.setattr(train, "STATS_CHUNK", 8 * 7)  # chunks of 7 frames
    gathered = []
    frames = batches.frames
    batches.frames = type("Spy", (), {"shape": frames.shape,
                                      "__getitem__": lambda self, i: gathered.append(len(i)) or frames[i]})()
    chunked = train.frame_statistics(batches, rows, ddof)
    assert max(gathered) == 7 and sum(gathered) == int(data.utterances["n_frames"].to_numpy()[rows].sum())
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)


def test_frames_assembled_in_place_are_saved_without_a_copy_and_byte_identical(tmp_path):
    """At paper scale the training frames are written into their folder utterance by utterance
    (no concatenated copy in memory); the saved file is the one np.save writes, so cache keys and
    stored runs are unchanged."""
    from agcc.train import PARTIAL_FRAMES, prepare_training_data
    from test_train import prepare_example

    inputs = prepare_example()
    prepare_training_data(*inputs, max_frames=8).save(tmp_path / "a")
    (tmp_path / "b").mkdir()
    in_place = prepare_training_data(*inputs, max_frames=8, frames_file=tmp_path / "b" / PARTIAL_FRAMES)
    assert isinstance(in_place.frames, np.memmap)
    in_place.save(tmp_path / "b")
    assert not (tmp_path / "b" / PARTIAL_FRAMES).exists()
    assert (tmp_path / "a" / "frames.npy").read_bytes() == (tmp_path / "b" / "frames.npy").read_bytes()


def test_a_k_variant_shares_the_pre_trained_layer_means_too(tmp_path):
    """With wav2vec2 features a set also holds every layer's utterance means (LA-CC [32]): a k
    variant refers to the default set's ``layers.npy`` instead of a copy, and a damaged one is
    refused, never read."""
    from test_layer_anchoring import with_layers

    folder = tmp_path / "training"
    cached_by_key(folder, "base", lambda: TrainingData.load(folder, verify=False),
                  lambda: with_layers(toy_data((6, 3, 3))), lambda d: d.save(folder))
    base = TrainingData.load(folder)
    _, variant_folder, _, _ = _variant(tmp_path, base, folder)
    assert not (variant_folder / "layers.npy").exists() and (variant_folder / LAYERS_REF).is_file()
    variant = TrainingData.load(variant_folder)
    assert Path(variant.layers.filename).resolve() == (folder / "layers.npy").resolve()
    np.testing.assert_array_equal(variant.layers, base.layers)
    variant.save(variant_folder)  # saved again: still a reference
    assert not (variant_folder / "layers.npy").exists()
    (folder / "layers.npy").write_bytes((folder / "layers.npy").read_bytes()[:-40])
    with pytest.raises(CacheError, match=f"referenced by .*{LAYERS_REF}"):
        io.verify_folder(variant_folder)
