"""The SER model, token pooling, anchor groupings, training runs, UAR and Table II statistics."""
from dataclasses import MISSING

import numpy as np
import pandas as pd
import pytest
import torch

from agcc.vocab import FOUR_CLASSES
from agcc.experiments import format_table_ii, paired_differences, summarize
from agcc.stats import t_interval
from agcc.losses import ag_anchored_loss
from agcc.model import SERModel, pool_frames, pool_spans, pooled_span
from agcc.methods import anchor_set, common_groups, scale_distances
from agcc.params import defaults, resolve
from agcc.train import (TrainConfig, TrainingData, build_model, frame_rows, prepare_training_data,
                        start_run, token_frame_spans, train_run, uar_scores)


def toy_data(n_per_split=(40, 12, 16), n_features=8, seed=0, shift=3.0) -> TrainingData:
    """Two corpora whose frames carry the emotion in their mean (the target with a channel
    offset), two vowel tokens per utterance, AG cluster = vowel % 3."""
    rng = np.random.default_rng(seed)
    utt, frames, tokens, offset = [], [], [], 0
    for corpus, bias in (("crema_d", 0.0), ("msp_improv", shift)):
        for split, n in zip(("train", "val", "test"), n_per_split):
            for i in range(n):
                label = i % 4
                length = int(rng.integers(18, 30))
                x = rng.normal(0, 1, (length, n_features)) + bias
                x[:, label] += 2.0
                row = len(utt)
                utt.append({"utt_id": f"{corpus}_{split}_{i}", "corpus": corpus, "session": f"{split}{i % 2}",
                            "split": split,
                            "emotion": FOUR_CLASSES[label], "label": label, "n_frames": length, "offset": offset,
                            "n_tokens": 2, "first_token": 2 * row})
                for start, end in ((2, 6), (10, 15)):
                    vowel = int(rng.integers(0, 6))
                    tokens.append({"token_id": len(tokens), "utt_row": row, "start": start, "end": end,
                                   "vowel": vowel, "ag_cluster": vowel % 3, "corpus": corpus, "split": split})
                frames.append(x.astype(np.float32))
                offset += length
    k = np.arange(3.0)
    return TrainingData(utterances=pd.DataFrame(utt), frames=np.concatenate(frames), tokens=pd.DataFrame(tokens),
                        ag_distance=np.abs(k[:, None] - k[None, :]) * 50.0,
                        vowel_distance=np.abs(np.arange(6.0)[:, None] - np.arange(6.0)[None, :]),
                        dropped=pd.DataFrame(columns=["utt_id", "corpus", "reason"]),
                        token_notes=pd.DataFrame(columns=["reason", "tokens"]))


FAST = dict(d_model=16, n_heads=2, n_layers=1, d_ff=32, fc_sizes=(16, 16, 8), batch_size=16, lr=3e-3,
            max_epochs=12, patience=12, threads=1, frame_pool=1)


def config(**settings) -> TrainConfig:
    """A config of the declared defaults (gamma 1 unless given) with ``settings`` replaced."""
    return TrainConfig.from_params(defaults(), **{"gamma": 1.0, **settings})


def test_pool_spans_is_the_mean_of_each_span():
    x = torch.arange(2 * 6 * 3, dtype=torch.float32).view(2, 6, 3)
    b, s, e = torch.tensor([0, 1, 1]), torch.tensor([1, 0, 4]), torch.tensor([4, 2, 6])
    out = pool_spans(x, b, s, e)
    expect = torch.stack([x[0, 1:4].mean(0), x[1, 0:2].mean(0), x[1, 4:6].mean(0)])
    torch.testing.assert_close(out, expect)


def test_pool_frames_respects_the_mask():
    x = torch.tensor([[[1.0], [3.0], [5.0], [100.0]]])
    mask = torch.tensor([[True, True, True, False]])
    pooled, m = pool_frames(x, mask, 2)
    assert pooled[0, :, 0].tolist() == [2.0, 5.0]  # the padded frame does not enter the mean
    assert m.tolist() == [[True, True]]
    start, end = pooled_span(torch.tensor([2, 3]), torch.tensor([5, 4]), 2)
    assert start.tolist() == [1, 1] and end.tolist() == [3, 2]


def test_frame_rows_and_token_spans():
    assert frame_rows(np.array([10, 0]), np.array([2, 3])).tolist() == [10, 11, 0, 1, 2]
    # frame k is centred at 0.02 k + 0.0125 s: [0.03, 0.09) holds the centres of frames 1, 2, 3
    first, end = token_frame_spans([0.03], [0.09])
    assert (first[0], end[0]) == (1, 4)


def test_model_shapes_and_padding_invariance():
    torch.manual_seed(0)
    model = SERModel(8, d_model=16, n_heads=2, n_layers=1, d_ff=32, fc_sizes=(16, 8), frame_pool=2).eval()
    x = torch.randn(2, 10, 8)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 6:] = False
    out = model(x, mask)
    assert out["frames"].shape == (2, 5, 16) and out["logits"].shape == (2, 4)
    assert len(out["layers"]) == 3
    # the padded utterance gives the same output as the same frames without padding
    alone = model(x[1:, :6], mask[1:, :6])
    torch.testing.assert_close(alone["logits"], out["logits"][1:], atol=1e-5, rtol=1e-5)
    assert [r[0] for r in model.describe()][-1].startswith("FC 3")


def test_gradients_of_the_anchored_loss_reach_the_encoder():
    torch.manual_seed(0)
    model = SERModel(8, d_model=16, n_heads=2, n_layers=1, d_ff=32, fc_sizes=(8,))
    out = model(torch.randn(3, 12, 8), torch.ones(3, 12, dtype=torch.bool))
    z = pool_spans(out["frames"], torch.tensor([0, 1, 2]), torch.tensor([0, 2, 4]), torch.tensor([4, 6, 9]))
    loss = ag_anchored_loss(z[:1], z[1:2], z[2:], torch.tensor([0.0]), alpha=10.0)  # hinge surely active
    loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if n.startswith(("encoder", "input"))]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    assert model.output.weight.grad is None  # the classifier is not on the token path


def test_uar_scores_hand_computed():
    y_true = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    y_pred = np.array([0, 0, 1, 0, 2, 0, 3, 3])
    s = uar_scores(y_true, y_pred)
    assert s["4-CAT"] == pytest.approx(100 * (1 + 0.5 + 0.5 + 1) / 4)
    # neutral (class 0) vs rest: recall 2/2 on neutral, 4/6 on the rest
    assert s["Neu"] == pytest.approx(100 * (1 + 4 / 6) / 2)
    assert np.isnan(uar_scores(np.array([0, 0, 1]), np.array([0, 1, 1]))["Sad"])  # sadness absent


def test_common_groups_and_scaled_distances():
    group = np.array([0, 0, 1, 1, 2, 0, 1, 3, 3])
    corpus = np.array(["a"] * 5 + ["b"] * 4)
    split = np.array(["train"] * 9)
    common = common_groups(group, corpus, split, 4, "a", "b", threshold=0.25)
    assert common.tolist() == [True, True, False, False]  # 2 only in a, 3 only in b
    d = scale_distances(np.array([[0, 2.0], [2.0, 0]]), "normalized")
    assert d[0, 1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        scale_distances(d, "log")


def test_anchor_sets_of_the_three_triplet_methods():
    data = toy_data()
    ag, pa, hard = (anchor_set(data, config(method=m)) for m in ("AG-CC", "PA-CC", "Hard-AG"))
    assert ag.distance.shape == (3, 3) and pa.distance.shape == hard.distance.shape == (6, 6)
    assert not pa.distance.any()  # w = 1
    assert hard.distance[0, 5] > 0
    np.testing.assert_array_equal(ag.group, data.tokens["ag_cluster"])
    assert not anchor_set(data, config(method="AG-CC", soft_weights=False)).distance.any()
    with pytest.raises(ValueError, match="does not anchor on triplets"):
        anchor_set(data, config(method="LA-CC"))


def test_config_validation():
    with pytest.raises(ValueError):
        config(method="Upper Bound", direction="C->I")
    with pytest.raises(ValueError):
        config(method="AG-CC", direction="C->C")
    with pytest.raises(ValueError):
        config(target_labels="peek")
    with pytest.raises(TypeError, match="no setting"):
        config(loss_alpha=0.5)  # one name per setting: the parameter's


def test_config_takes_every_setting_from_the_parameters():
    """No second set of defaults: every field but the run's name is the parameter of the same
    name, so a changed parameter always reaches the run."""
    from dataclasses import fields

    base = resolve("smoke")
    run_fields = {"method", "direction", "gamma", "threads", "fold"}
    settings = {f.name for f in fields(TrainConfig)} - run_fields
    assert settings <= set(base), settings - set(base)
    for f in fields(TrainConfig):
        assert f.default is MISSING and f.default_factory is MISSING, f"{f.name} has a default of its own"
    for name in settings:  # a value unlike the profile's reaches the config
        value = base[name]
        changed = {bool: lambda v: not v, int: lambda v: v + 1, float: lambda v: v / 2,
                   list: lambda v: v[:1]}.get(type(value))
        if changed is None:
            continue
        cfg = TrainConfig.from_params({**base, name: changed(value)})
        got = getattr(cfg, name)
        assert (list(got) if isinstance(got, tuple) else got) == changed(value), name
    cfg = TrainConfig.from_params(resolve("smoke", {"lr": "0.5", "alpha": "0.7"}), method="PA-CC")
    assert (cfg.alpha, cfg.lr, cfg.method, cfg.seed) == (0.7, 0.5, "PA-CC", 0)
    assert cfg.gamma == base["gamma_grid"][0]


def test_short_run_beats_chance_and_anchors_are_mined():
    data = toy_data()
    # the anchored loss at weight 0.3 and a constant lr: on these toy corpora a weight of 1 pulls the
    # few target anchors hard enough to keep the model at chance for some seeds
    result = train_run(data, config(method="AG-CC", direction="C->I", pseudo_threshold=0.3, gamma=0.3,
                                    lr_schedule="constant", **FAST), progress=False)
    assert result.metrics["4-CAT"] > 40.0  # chance is 25 (68 test utterances)
    assert result.history["triplets"].max() > 0
    assert result.history["anchor"].max() > 0


@pytest.mark.parametrize("method", ["LA-CC", "Hard-AG", "Source only"])
def test_other_methods_run(method):
    result = train_run(toy_data(), config(method=method, direction="I->C", **{**FAST, "max_epochs": 2}),
                       progress=False)
    assert set(result.metrics) == {"4-CAT", "Neu", "Ang", "Hap", "Sad"}


def test_same_seed_same_numbers():
    data = toy_data()
    cfg = config(method="PA-CC", direction="C->I", seed=4, pseudo_threshold=0.3, **{**FAST, "max_epochs": 4})
    a, b = train_run(data, cfg, progress=False), train_run(data, cfg, progress=False)
    assert a.metrics == b.metrics
    pd.testing.assert_frame_equal(a.history, b.history)
    np.testing.assert_array_equal(a.predictions, b.predictions)


def test_oracle_labels_and_empty_target_split():
    data = toy_data()
    r = train_run(data, config(method="AG-CC", direction="C->I", target_labels="oracle",
                                    **{**FAST, "max_epochs": 1}), progress=False)
    assert r.history["triplets"].iloc[0] > 0  # every target token with a true label can anchor
    data.utterances.loc[data.utterances["corpus"] == "msp_improv", "split"] = "val"
    with pytest.raises(ValueError, match="target test split is empty"):
        train_run(data, config(method="AG-CC", direction="C->I", target_protocol="split", **FAST), progress=False)


def prepare_example():
    """A small utterance table, features, segments and ledger: the inputs of prepare_training_data."""
    from agcc.clustering import ClusteringRun
    from agcc.segments import SegmentSet

    utts = pd.DataFrame({"utt_id": ["u1", "u2", "u3", "u4"], "corpus": ["crema_d"] * 4,
                         "session": ["1001", "1002", "1003", "1001"], "split": ["train", "val", "test", "train"],
                         "emotion": ["anger", "fear", "sadness", "neutral"],
                         "audio_path": ["a1", "a2", "a3", "a4"]})
    feats = {"a1": np.ones((30, 4), np.float32), "a2": np.ones((30, 4), np.float32),
             "a4": np.ones((8, 4), np.float32)}
    tokens = pd.DataFrame({"token_id": [0, 1, 2], "utt_id": ["u1", "u1", "u4"], "corpus": "crema_d",
                           "split": ["train", "train", "val"], "emotion": ["anger", "anger", "neutral"],
                           "vowel": ["a", "i", "u"], "start": [0.03, 0.2, 0.1], "end": [0.09, 0.3, 0.3],
                           "n_frames": [3, 5, 10], "offset": [0, 3, 8]})
    ledger = pd.DataFrame({"utt_id": ["u1", "u2", "u3", "u4"], "corpus": "crema_d",
                           "status": ["used", "dropped", "dropped", "used"], "stage": ["", "labels", "audio", ""],
                           "reason": ["", "emotion 'fear' is not one of the four classes", "audio unusable: empty", ""],
                           "n_tokens": [2, 0, 0, 1], "note": ""})
    segs = SegmentSet(tokens=tokens, ag_frames=np.random.default_rng(0).normal(size=(18, 24)).astype(np.float32),
                      acoustic_frames=np.zeros((18, 4), np.float32), quality=ledger)
    run = ClusteringRun(ks=[2], inertias=[1.0], elbow=2, k=2, labels=np.array([0, 1, 1]), barycenters=np.zeros((2, 3, 24)),
                        divergence=np.zeros((2, 2)), mean=np.zeros(24), std=np.ones(24), speaker_norm="none")
    return utts, segs, np.array([0, 1, 1]), run, feats, {"a3": "AudioError: empty"}


def test_prepare_training_data_accounts_for_every_utterance():
    data = prepare_training_data(*prepare_example(), max_frames=8)
    assert data.utterances["utt_id"].tolist() == ["u1", "u4"]
    assert dict(zip(data.dropped["utt_id"], data.dropped["reason"].str[:10])) == {
        "u2": "emotion 'f", "u3": "audio unus"}
    assert data.dropped["stage"].tolist() == ["labels", "audio"]
    # u1 cropped to 8 frames keeps its first token (frames 1-3) and loses the second (10-14);
    # u4 (8 frames) loses its token (frames 4-14)
    assert data.tokens["token_id"].tolist() == [0]
    assert data.token_notes["tokens"].sum() == 2
    assert data.utterances["n_tokens"].tolist() == [1, 0]
    assert len(data.frames) == 16
    assert data.layers is None  # log-mel: no pre-trained layers
    # wav2vec2: each utterance's layer means, in the utterances' order; one without them is dropped, with its reason
    means = {"a1": np.arange(12, dtype=np.float32).reshape(3, 4), "a2": np.zeros((3, 4), np.float32)}
    layered = prepare_training_data(*prepare_example(), max_frames=8, layers=means)
    assert layered.utterances["utt_id"].tolist() == ["u1"] and layered.layers.shape == (1, 3, 4)
    np.testing.assert_array_equal(layered.layers[0], means["a1"])
    assert layered.dropped.set_index("utt_id").loc["u4", "reason"] == "no pre-trained layer means"


def test_t_interval_summary_and_paired_differences():
    m, lo, hi, n = t_interval([1.0, 2.0, 3.0])
    assert (m, n) == (2.0, 3) and lo == pytest.approx(2 - 4.302653 / np.sqrt(3), rel=1e-5)
    assert np.isnan(t_interval([5.0])[1])
    runs = pd.DataFrame([{"model": mdl, "direction": "C->I", "seed": s, "4-CAT": base + s, "Neu": 50.0,
                          "Ang": 50.0, "Hap": 50.0, "Sad": 50.0}
                         for mdl, base in (("AG-CC", 60.0), ("PA-CC", 55.0)) for s in range(3)])
    summary = summarize(runs)
    assert summary.set_index(["model", "metric"]).loc[("AG-CC", "4-CAT"), "mean"] == 61.0
    diff = paired_differences(runs).set_index("metric")
    assert diff.loc["4-CAT", "diff_mean"] == pytest.approx(5.0)
    assert diff.loc["4-CAT", "ci_low"] == pytest.approx(5.0)  # same offset every seed: zero width
    from agcc.paper import table_ii

    table = format_table_ii(summary, table_ii(), ["AG-CC", "PA-CC"])
    assert table.loc[("AG-CC", "C->I"), "4-CAT (paper)"] == "57.37"
    assert table.loc[("AG-CC", "C->I"), "4-CAT"].startswith("61.0\u00a0±\u00a0")  # one unbreakable cell


def test_vowel_set_restricts_anchors_and_has_one_spelling():
    data = toy_data()
    assert config(vowels=["u", "a", "i"]).vowels == ("a", "i", "u")  # canonical order: one task key per set
    with pytest.raises(ValueError):
        config(vowels=["a", "o"])
    with pytest.raises(ValueError):
        config(vowels=[])
    every = anchor_set(data, config(method="AG-CC"))
    assert every.usable.all()
    some = anchor_set(data, config(method="PA-CC", vowels=["a", "i"]))
    vowel = data.tokens["vowel"].to_numpy()
    np.testing.assert_array_equal(some.usable, np.isin(vowel, [0, 3]))
    assert set(np.flatnonzero(some.common)) <= {0, 3}  # PA-CC's groups are vowels: only a and i remain
    # anchored on two vowels (AG clusters 0 and 1 in the toy data), a run finds fewer triplets than
    # on all six; on /a/ alone every usable token is in cluster 0, so no negative exists
    cfg = dict(method="AG-CC", direction="C->I", target_labels="oracle", **{**FAST, "max_epochs": 1})
    triplets = {v: train_run(data, config(vowels=v.split(","), **cfg), progress=False).history["triplets"].iloc[0]
                for v in ("a", "a,ə", "a,ə,ɛ,i,æ,u")}
    assert triplets["a"] == 0 < triplets["a,ə"] < triplets["a,ə,ɛ,i,æ,u"]


def test_vowels_only_in_the_keys_of_the_methods_that_read_them(tmp_path):
    from agcc.train import canonical, task_for

    for method in ("Source only", "LA-CC"):
        assert canonical(config(method=method, vowels=["a", "i"])).vowels == config().vowels
    a, b = (task_for(config(method="AG-CC", vowels=v), tmp_path) for v in (["a", "i"], ["i", "a"]))
    assert a == b
    assert task_for(config(method="AG-CC", vowels=["a"]), tmp_path) != a


def test_build_model_follows_the_config():
    cfg = config(d_model=16, n_heads=2, n_layers=3, d_ff=32, fc_sizes=[12, 10, 8], frame_pool=2)
    model = build_model(cfg, 8)
    rows = model.describe()
    assert sum(name.startswith("transformer encoder layer") for name, _ in rows) == 3
    assert [shape for name, shape in rows if name.startswith("FC")] == ["12", "10", "8", "4"]


def test_torch_device_falls_back_to_the_cpu():
    from agcc.io import torch_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert torch_device().type == torch_device("auto").type == expected
    assert torch_device("cuda").type == expected  # a CUDA request without CUDA runs on the CPU
    assert torch_device(torch.device("cpu")).type == "cpu"


def test_paired_interval_pairs_by_seed():
    from agcc.stats import paired_interval

    a = pd.Series([60.0, 62.0, 64.0, 99.0], index=[0, 1, 2, 7])  # seed 7 has no partner
    b = pd.Series([55.0, 56.0, 58.0], index=[2, 1, 0])  # other order: matched by seed, not position
    m, lo, hi, n = paired_interval(a, b)
    assert n == 3 and m == pytest.approx(((60 - 58) + (62 - 56) + (64 - 55)) / 3)
    assert lo < m < hi


def test_batches_read_the_memory_mapped_frames_without_copying_them(tmp_path):
    """Issue 17: a run keeps the frames memory-mapped (workers share the pages) and standardises
    each batch with its corpus's training statistics: the same values as standardising every
    frame first, for a cross-corpus and a within-corpus run."""
    from agcc.train import Batches, frame_rows, normalise_inputs, run_splits

    toy_data().save(tmp_path / "training")
    data = TrainingData.load(tmp_path / "training", verify=False)  # a bare folder: no cache stamp
    assert isinstance(data.frames, np.memmap)
    for direction, method, protocol, fit_splits in (
            ("C->I", "AG-CC", "split", {"crema_d": ["train"], "msp_improv": ["train"]}),
            ("C->I", "AG-CC", "transductive", {"crema_d": ["train"], "msp_improv": ["train", "val", "test"]}),
            ("C->C", "Upper Bound", "transductive", {"crema_d": ["train"]})):
        cfg = config(method=method, direction=direction, feature_norm="per_corpus", target_protocol=protocol)
        batches = Batches(data, torch.device("cpu"))
        assert batches.frames is data.frames  # not copied
        normalise_inputs(batches, data, cfg, run_splits(data, cfg, method == "AG-CC"))
        u = data.utterances
        expected = np.array(data.frames)
        for corpus in dict.fromkeys((cfg.source, cfg.target)):
            rows = lambda splits=None: np.flatnonzero(((u["corpus"] == corpus) & (  # noqa: E731
                u["split"].isin(splits) if splits else True)).to_numpy())
            fit = torch.from_numpy(expected[frame_rows(u["offset"].to_numpy()[rows(fit_splits[corpus])],
                                                       u["n_frames"].to_numpy()[rows(fit_splits[corpus])])])
            every = frame_rows(u["offset"].to_numpy()[rows()], u["n_frames"].to_numpy()[rows()])
            expected[every] = ((torch.from_numpy(expected[every]) - fit.mean(0)) / (fit.std(0) + 1e-5)).numpy()
        corpus_rows = np.flatnonzero((u["corpus"] == cfg.target).to_numpy())[:5]
        x, mask = batches.inputs(corpus_rows)
        for b, row in enumerate(corpus_rows):
            n = int(u["n_frames"].iloc[row])
            want = expected[int(u["offset"].iloc[row]):int(u["offset"].iloc[row]) + n]
            np.testing.assert_array_equal(x[b, :n].numpy(), want)
            assert not x[b, n:].any() and mask[b].sum() == n
        assert np.array_equal(np.asarray(data.frames), np.load(tmp_path / "training" / "frames.npy"))  # untouched


def _sets(data, cfg):
    from agcc.train import run_splits

    s = run_splits(data, cfg, uses_target=True)
    ids = data.utterances["utt_id"].to_numpy()
    return {name: set(ids[getattr(s, name)]) for name in ("src_train", "src_val", "tgt_train", "tgt_test")}


def test_transductive_runs_test_every_target_utterance_once():
    data = toy_data()
    target = set(data.utterances.loc[data.utterances["corpus"] == "msp_improv", "utt_id"])
    s = _sets(data, config(method="AG-CC", direction="C->I", target_protocol="transductive"))
    assert s["tgt_test"] == target and s["tgt_train"] == target  # adapts, unlabelled, on what it tests
    assert not (s["src_train"] | s["src_val"]) & target


@pytest.mark.parametrize("direction", ["C->I", "C->C"])
def test_target_folds_partition_the_target_and_never_train_on_the_test_fold(direction):
    """Under ``folds`` the test folds cover the target once; a fold's test utterances are in
    none of the run's training data, labelled or not (within-corpus: never labelled)."""
    data = toy_data()
    corpus = "msp_improv" if direction == "C->I" else "crema_d"
    target = data.utterances.loc[data.utterances["corpus"] == corpus]
    tested = []
    for fold in range(3):
        s = _sets(data, config(method="AG-CC" if direction == "C->I" else "Upper Bound", direction=direction,
                               target_protocol="folds", target_folds=3, fold=fold))
        assert s["tgt_test"] and not s["tgt_test"] & (s["src_train"] | s["src_val"] | s["tgt_train"])
        sessions = set(target.loc[target["utt_id"].isin(s["tgt_test"]), "session"])
        assert set(target.loc[target["session"].isin(sessions), "utt_id"]) == s["tgt_test"]  # whole sessions
        tested += sorted(s["tgt_test"])
    assert sorted(tested) == sorted(target["utt_id"])  # each target utterance tested once
    with pytest.raises(ValueError, match="fold 3 does not exist"):
        config(target_protocol="folds", target_folds=3, fold=3)


def test_session_folds_are_balanced_and_fixed_by_the_corpus():
    from agcc.splits import session_folds

    sessions = pd.Series(["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 2 + ["e"] * 2)
    folds = session_folds(sessions, 2)
    sizes = np.bincount(folds)
    assert sizes.sum() == 16 and sizes.max() - sizes.min() <= 5  # within the largest unit
    assert all(len(set(folds[sessions == s])) == 1 for s in "abcde")
    np.testing.assert_array_equal(folds, session_folds(sessions.sample(frac=1, random_state=1).sort_index(), 2))
    with pytest.raises(ValueError, match="cannot make 6 folds"):
        session_folds(sessions, 6)


def test_folds_are_combined_weighted_by_their_test_sizes():
    from agcc.experiments import combine_folds

    runs = pd.DataFrame({"model": "AG-CC", "direction": "C->I", "seed": 0, "gamma": 1.0, "fold": [0, 1],
                         "n_test": [100, 300], "wall_s": [1.0, 2.0], "val_uar": [50.0, 60.0],
                         **{m: [40.0, 80.0] for m in ("4-CAT", "Neu", "Ang", "Hap", "Sad")}})
    one = combine_folds(runs)
    assert len(one) == 1 and one["4-CAT"].item() == pytest.approx(70.0) and one["n_test"].item() == 400
    assert one["folds"].item() == 2 and one["wall_s"].item() == 3.0


def test_source_validation_may_add_the_source_test_split_never_the_target():
    data = toy_data()
    u = data.utterances
    for choice, splits in (("val", {"val"}), ("val+test", {"val", "test"})):
        s = _sets(data, config(method="AG-CC", direction="C->I", source_validation=choice))
        assert s["src_val"] == set(u.loc[(u["corpus"] == "crema_d") & u["split"].isin(splits), "utt_id"])


def test_cosine_schedule_anneals_the_learning_rate_per_epoch():
    data = toy_data(n_per_split=(16, 8, 8))
    r = start_run(data, config(method="Source only", direction="C->I", lr_schedule="cosine",
                               **{**FAST, "max_epochs": 4}))
    lrs = []
    for _ in range(4):
        lrs.append(r.optimizer.param_groups[0]["lr"])
        r.scheduler.step()
    assert lrs[0] == FAST["lr"] and all(a > b for a, b in zip(lrs, lrs[1:]))
    assert start_run(data, config(method="Source only", direction="C->I", lr_schedule="constant", **FAST)).scheduler is None


def test_model_selection_last_trains_every_epoch_and_keeps_the_last():
    data = toy_data(n_per_split=(16, 8, 8))
    cfg = config(method="Source only", direction="C->I", model_selection="last", init="scratch",
                 **{**FAST, "max_epochs": 4, "patience": 1})
    r = train_run(data, cfg, progress=False)
    assert len(r.history) == 4 and r.best_epoch == 4 and r.val_uar == r.history["val_uar"].iloc[-1]
