"""LA-CC [32] on pre-trained layers (agcc.layer_anchoring, agcc.methods.LACC): the similarity
analysis reads no label and no held-out utterance, selects the layers its ranking says, and the
loss aligns those layers and no other."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from agcc import methods
from agcc.layer_anchoring import layer_distances, layer_similarity, selected_layers, similarity_wide
from agcc.losses import coral_loss
from agcc.train import Batches, TrainingData, start_run, train_run
from test_train import config, toy_data

TINY = dict(d_model=8, n_heads=2, n_layers=1, d_ff=16, fc_sizes=(8, 8, 8), batch_size=16, lr=3e-3, max_epochs=2,
            patience=2, threads=1, frame_pool=1)
# the target corpus's version of each of the four toy layers: x * scale + shift of the source's
SCALES, SHIFTS = (1.0, 3.0, 1.3, 2.5), (0.0, 0.0, 0.0, 3.0)


def with_layers(data: TrainingData, seed: int = 0) -> TrainingData:
    """``data`` with four toy pre-trained layers: every layer carries the emotion; the target's
    (msp_improv) layer l is the source's scaled by SCALES[l] and shifted by SHIFTS[l], so that the
    covariance gap ranks the layers 0 < 2 < 3 < 1 and the mean gap puts layer 3 last."""
    rng = np.random.default_rng(seed)
    u, width = data.utterances, data.n_features  # the features are one of the model's layers: as wide
    x = rng.normal(0.0, 1.0, (len(u), len(SCALES), width))
    x[np.arange(len(u)), :, u["label"].to_numpy() % width] += 1.0
    target = (u["corpus"] == "msp_improv").to_numpy()
    x[target] = x[target] * np.array(SCALES)[:, None] + np.array(SHIFTS)[:, None]
    return replace(data, layers=x.astype(np.float32))


def _train_rows(data, corpus):
    u = data.utterances
    return np.flatnonzero(((u["corpus"] == corpus) & (u["split"] == "train")).to_numpy())


def _selection(data, **settings) -> list[int]:
    table = layer_similarity(data.layers, _train_rows(data, "crema_d"), _train_rows(data, "msp_improv"), **settings)
    return selected_layers(table).tolist()


def test_the_similarity_ranks_and_selects_the_layers_it_measures():
    data = with_layers(toy_data(n_per_split=(200, 8, 8)))
    assert _selection(data, measure="coral", n_layers=2) == [0, 2]
    assert _selection(data, measure="coral", n_layers=1, pick="least_similar") == [1]
    assert _selection(data, measure="mean", n_layers=1, pick="least_similar") == [3]
    table = layer_similarity(data.layers, _train_rows(data, "crema_d"), _train_rows(data, "msp_improv"), n_layers=2)
    assert table["rank"].tolist() == [1, 4, 2, 3]
    both = methods.layer_anchors(data, config(method="LA-CC", lacc_n_layers=2, target_protocol="split"),
                                 ["C->I", "I->C"])
    assert set(both["direction"]) == {"C->I", "I->C"} and both.groupby("direction")["selected"].sum().eq(2).all()
    pd.testing.assert_frame_equal(both[both["direction"] == "C->I"].drop(columns="direction"), table)
    wide = similarity_wide(both)
    assert wide.columns.tolist() == ["C->I", "I->C"] and wide.loc[0, "C->I"].endswith("(1) *")
    assert not wide.loc[1, "C->I"].endswith("*")
    with pytest.raises(ValueError, match="lacc_n_layers = 5"):
        _selection(data, n_layers=5)
    with pytest.raises(ValueError, match="lacc_similarity"):
        layer_distances(data.layers[:4], data.layers[4:8], "cka")


def test_the_distance_is_zero_for_identical_corpora_and_scale_free():
    x = np.random.default_rng(0).normal(size=(50, 2, 3))
    assert layer_distances(x, x.copy()).tolist() == [0.0, 0.0]
    assert layer_distances(x, x * 10.0, "coral")[0] > 0.1  # a covariance gap, whatever the scale
    np.testing.assert_allclose(layer_distances(x[:25], x[25:]), layer_distances(x[:25] * 7.0, x[25:] * 7.0))


@pytest.mark.parametrize("protocol", ["transductive", "split"])
def test_target_labels_and_held_out_utterances_never_reach_the_selection(protocol):
    """Permuting the target's labels, or changing the utterances a run does not read (the source's
    validation and test utterances; under ``split`` the target's too), leaves LA-CC's similarity
    table and anchors unchanged; changing what it reads does change them."""
    data = with_layers(toy_data(n_per_split=(40, 8, 8)))
    cfg = config(method="LA-CC", lacc_n_layers=2, target_protocol=protocol, **TINY)

    def analysis(d):
        method = start_run(d, cfg).method
        return method.similarity, method.anchors

    table, anchors = analysis(data)
    shuffled = replace(data, utterances=data.utterances.copy())
    target = (shuffled.utterances["corpus"] == "msp_improv").to_numpy()
    shuffled.utterances.loc[target, "label"] = shuffled.utterances.loc[target, "label"].to_numpy()[::-1]
    shuffled.utterances.loc[target, "emotion"] = shuffled.utterances.loc[target, "emotion"].to_numpy()[::-1]
    held_out = (data.utterances["split"] != "train").to_numpy() & (~target if protocol == "transductive" else True)
    changed = data.layers.copy()
    changed[held_out] = changed[held_out] * 5.0 + 1.0
    for other in (shuffled, replace(data, layers=changed)):
        other_table, other_anchors = analysis(other)
        pd.testing.assert_frame_equal(other_table, table)
        assert other_anchors.tolist() == anchors.tolist()
    read = data.layers.copy()
    read[~held_out] = read[~held_out] * 5.0 + 1.0
    assert not analysis(replace(data, layers=read))[0]["distance"].equals(table["distance"])


def test_the_loss_aligns_the_selected_layers_through_the_models_projection():
    """LA-CC's term on a step is, by hand, the sum over the selected layers of CORAL between the
    source and target batches' projected anchors (each layer standardised over both corpora's
    training utterances); a change to a layer it did not select leaves the term unchanged."""
    data = with_layers(toy_data(n_per_split=(40, 8, 8)))
    run = start_run(data, config(method="LA-CC", lacc_n_layers=2, target_protocol="split", **TINY))
    assert run.method.anchors.tolist() == [0, 2]
    u = data.utterances
    train = torch.from_numpy((u["split"] == "train").to_numpy().copy())  # "split": both corpora's train splits
    s_rows = np.flatnonzero((u["corpus"] == "crema_d").to_numpy() & train.numpy())[:16]
    t_rows = np.flatnonzero((u["corpus"] == "msp_improv").to_numpy() & train.numpy())[:16]
    x = torch.from_numpy(data.layers)
    mean, std = x[train].mean(0), x[train].to(torch.float64).std(0, unbiased=False).float() + 1e-5  # (L, H)
    with torch.no_grad():
        want = sum(coral_loss(run.model.project((x[s_rows, k] - mean[k]) / std[k]),
                              run.model.project((x[t_rows, k] - mean[k]) / std[k])) for k in (0, 2))
        got = run.method.term(methods.Step(s_rows, t_rows, None, None)).loss
        assert float(got) == pytest.approx(float(want), rel=1e-4)
        changed = data.layers.copy()
        changed[:, 1] = changed[:, 1] * 3.0 + 2.0  # layer 1 is not an anchor
        other = start_run(replace(data, layers=changed), config(method="LA-CC", lacc_n_layers=2,
                                                                target_protocol="split", **TINY))
        assert float(other.method.term(methods.Step(s_rows, t_rows, None, None)).loss) == pytest.approx(float(got))
    got = run.method.term(methods.Step(s_rows, t_rows, None, None)).loss
    got.backward()
    assert run.model.input.weight.grad.abs().sum() > 0  # it trains the projection the classifier reads


def test_la_cc_without_pre_trained_layers_is_the_coral_variant():
    """On features without pre-trained layers (log-mel) LA-CC aligns the downstream layers with
    CORAL, exactly LA-CC (CORAL) on the same data; LA-CC (CORAL) runs only where the layers exist."""
    plain = toy_data(n_per_split=(24, 8, 8))
    layered = with_layers(plain)
    a = train_run(plain, config(method="LA-CC", **TINY), progress=False)
    b = train_run(layered, config(method="LA-CC (CORAL)", **TINY), progress=False)
    np.testing.assert_array_equal(a.predictions, b.predictions)
    assert a.history["anchor"].equals(b.history["anchor"]) and a.history["anchor"].gt(0).all()
    c = train_run(layered, config(method="LA-CC", **TINY), progress=False)
    assert not c.history["anchor"].equals(a.history["anchor"])  # the anchors are the pre-trained layers
    with pytest.raises(ValueError, match="no pre-trained layers"):
        start_run(plain, config(method="LA-CC (CORAL)", **TINY))
    assert "LA-CC (CORAL)" in methods.names(data=layered) and "LA-CC (CORAL)" not in methods.names(data=plain)


def test_layers_are_saved_memory_mapped_and_checked(tmp_path):
    data = with_layers(toy_data(n_per_split=(8, 4, 4)))
    data.save(tmp_path / "t")
    back = TrainingData.load(tmp_path / "t", verify=False)
    assert isinstance(back.layers, np.memmap) and np.array_equal(back.layers, data.layers)
    assert Batches(back, torch.device("cpu")).frames is back.frames
    replace(data, layers=None).save(tmp_path / "t")  # saved again without: no stale layers.npy
    assert TrainingData.load(tmp_path / "t", verify=False).layers is None
    with pytest.raises(ValueError, match="layers.npy has shape"):
        replace(data, layers=data.layers[:-1]).validate()
    with pytest.raises(ValueError, match="as wide as the input frames"):
        start_run(replace(data, layers=data.layers[:, :, :3]), config(method="LA-CC", lacc_n_layers=2, **TINY))
