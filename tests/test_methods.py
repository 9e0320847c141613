"""The registry of methods (agcc.methods), what a run's key holds, and tests that would catch a wrong
experiment: Eq. 3's distance, the common-cluster filter, UAR, and target labels kept out of training."""
import sys
import textwrap
from dataclasses import replace
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import torch

from agcc import methods, report
from agcc.experiments import directions_of, summarize, table_ii_runs
from agcc.methods import common_groups
from agcc.params import defaults
from agcc.train import (Batches, canonical, code_key, run_task, source_key, start_run, task_for, train_epoch,
                        train_run, uar_scores)
from test_layer_anchoring import with_layers
from test_train import config, toy_data

TINY = dict(d_model=8, n_heads=2, n_layers=1, d_ff=16, fc_sizes=(8, 8, 8), batch_size=16, lr=3e-3, max_epochs=2,
            patience=2, threads=1, frame_pool=1)


class MeanMatching(methods.Method):
    """A toy method: the squared distance between the source and target batches' mean utterance
    embeddings, weighted by gamma."""

    name, description, colour, role = "Mean matching", "mean matching (toy)", "C9", "added"
    uses_target, hyperparameters = True, ("gamma",)

    def term(self, step):
        gap = step.out_s["utterance"].mean(0) - step.out_t["utterance"].mean(0)
        return methods.Term((gap ** 2).sum())


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test (methods registered in a test stay in it)."""
    monkeypatch.setattr(methods, "REGISTRY", dict(methods.REGISTRY))
    return methods.REGISTRY


def test_the_registry_holds_table_ii_in_order():
    assert methods.names() == ("Upper Bound", "Source only", "PA-CC", "LA-CC", "LA-CC (CORAL)", "AG-CC", "Hard-AG")
    assert methods.proposed() == "AG-CC" and report.BASELINES == ("PA-CC", "LA-CC", "Hard-AG")
    assert methods.names(within=True) == ("Upper Bound",)
    # features without pre-trained layers (log-mel): LA-CC is the CORAL variant, which has no row of its own
    assert methods.names(data=toy_data(n_per_split=(4, 2, 2))) == (
        "Upper Bound", "Source only", "PA-CC", "LA-CC", "AG-CC", "Hard-AG")
    assert directions_of("Upper Bound") == ("C->C", "I->I") and directions_of("LA-CC") == ("C->I", "I->C")
    assert [m for m in methods.names() if methods.get(m).uses_target] == [
        "PA-CC", "LA-CC", "LA-CC (CORAL)", "AG-CC", "Hard-AG"]
    with pytest.raises(ValueError, match="registered methods: Upper Bound"):
        methods.get("AG-C")
    with pytest.raises(ValueError, match="cross-corpus directions"):
        config(method="AG-CC", direction="C->C")


def test_register_refuses_a_taken_name_and_an_unknown_role(registry):
    with pytest.raises(ValueError, match="already registered"):
        methods.register(type("Copy", (methods.Method,), dict(name="AG-CC", description="x", colour="k",
                                                             role="added")))
    with pytest.raises(ValueError, match="role must be"):
        methods.register(type("Odd", (methods.Method,), dict(name="Odd", description="x", colour="k", role="mine")))
    with pytest.raises(ValueError, match="'colour'"):
        methods.register(type("Bare", (methods.Method,), dict(name="Bare", description="x", role="added")))


def test_canonical_keeps_only_the_hyperparameters_a_method_reads(registry):
    default = config()
    for name in ("Source only", "Upper Bound", "LA-CC"):
        cfg = config(method=name, direction=directions_of(name)[0], beta=5.0, vowels=["a", "i"])
        assert (canonical(cfg).beta, canonical(cfg).vowels) == (default.beta, default.vowels)
    assert canonical(config(method="LA-CC", lacc_layers=[1])).lacc_layers == (1,)
    assert canonical(config(method="AG-CC", lacc_layers=[1])).lacc_layers == default.lacc_layers
    pa = canonical(config(method="PA-CC", alpha=0.5, beta=5.0))  # w = 1: beta unread
    assert (pa.alpha, pa.beta) == (0.5, default.beta)
    assert canonical(config(method="Source only", gamma=3.0)).gamma == defaults()["gamma_grid"][0]
    methods.register(type("Typo", (methods.Method,), dict(name="Typo", description="x", colour="k", role="added",
                                                          hyperparameters=("gama",))))
    with pytest.raises(ValueError, match="gama"):
        canonical(config())


def test_a_toy_method_trains_and_reaches_table_ii(registry, tmp_path):
    """Registering a method is all it takes to train it in a grid and see it in Table II's frames."""
    methods.register(MeanMatching)
    toy_data(n_per_split=(24, 8, 12)).save(tmp_path / "data")
    runs, choice = table_ii_runs(config(**TINY), ["Source only", "Mean matching"], tmp_path / "data",
                                 tmp_path / "runs", n_seeds=2, gammas=[0.3, 1.0], directions=["C->I"], workers=1,
                                 progress=False)
    toy = runs[runs["model"] == "Mean matching"]
    assert len(toy) == 2 and set(choice[choice["model"] == "Mean matching"]["gamma"]) == {0.3, 1.0}
    assert all(max(h["anchor"]) > 0 for h in toy["history"])  # its term entered the loss
    assert (runs[runs["model"] == "Source only"]["gamma"] == 0.0).all()
    long = report.table_ii_long(summarize(runs))
    rows = long[long["model"] == "Mean matching"]
    assert len(rows) == 5 and rows["mean"].notna().all() and rows["paper"].isna().all()
    assert rows["n"].eq(2).all()


def test_a_worker_imports_the_module_that_registers_a_method(registry, tmp_path, monkeypatch):
    (tmp_path / "toy_registered.py").write_text(textwrap.dedent('''
        from agcc import methods

        @methods.register
        class Plain(methods.Method):
            name, description, colour, role = "Plain toy", "toy", "k", "added"
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    import toy_registered  # noqa: F401  (registers "Plain toy" in this process)

    toy_data(n_per_split=(16, 8, 8)).save(tmp_path / "data")
    task = task_for(config(method="Plain toy", **{**TINY, "max_epochs": 1}), tmp_path / "data")
    assert task["method_module"] == "toy_registered"
    assert "method_module" not in task_for(config(method="AG-CC"), tmp_path / "data")
    del registry["Plain toy"], sys.modules["toy_registered"]  # a fresh worker process knows neither
    assert run_task(task)["model"] == "Plain toy"
    with pytest.raises(ValueError, match="workers=1"):
        run_task({**task, "method": "Notebook toy", "method_module": "__main__"})


def test_code_key_ignores_docstrings_and_comments_not_code():
    source = resources.files("agcc").joinpath("train.py").read_text(encoding="utf-8")
    key = source_key(source)
    edited = source.replace('"""Cross-corpus SER training', '"""Edited: cross-corpus SER training', 1)
    edited = edited.replace("def train_run(", "# a comment\n\ndef train_run(", 1)
    edited = edited.replace("Record epoch ``epoch`` (1-based)", "Record the epoch", 1)  # a method's docstring
    assert edited != source and source_key(edited) == key
    assert "std + 1e-5" in source and source_key(source.replace("std + 1e-5", "std + 1e-6", 1)) != key
    assert source_key(source.replace("epoch - self.epoch >= self.patience", "epoch - self.epoch > self.patience")) != key


def test_code_key_of_a_method_leaves_out_the_other_methods():
    two = "class A:\n    x = 1\n\nclass B:\n    y = 2\n"
    assert source_key(two, {"B"}) == source_key(two.replace("y = 2", "y = 3"), {"B"})
    assert source_key(two, {"B"}) != source_key(two.replace("x = 1", "x = 2"), {"B"})
    assert code_key("AG-CC") != code_key("PA-CC") != code_key("LA-CC")
    assert len(code_key("AG-CC")) == 16


def test_eq3_weighs_the_negative_by_the_anchors_and_the_negatives_clusters():
    """One anchor in a common cluster (0), one in a cluster that is not common (2): only the first
    gives a triplet, and its soft weight is exp(-beta d(C_0, C_1)) with cluster 1 the negative's."""
    data = toy_data(n_per_split=(8, 4, 4))
    cfg = config(method="AG-CC", alpha=0.3, beta=0.2, **TINY)
    batches = Batches(data, torch.device("cpu"))
    labels = torch.from_numpy(batches.label)
    agcc = methods.AGCC(cfg, data, batches, labels, torch.Generator().manual_seed(0))
    agcc.common = torch.tensor([True, True, False])
    agcc.distance = torch.tensor([[0.0, 2.0, 1.0], [2.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    z_t = torch.tensor([[0.0, 0.0], [5.0, 5.0]])  # anchors in clusters 0 and 2
    z_s = torch.tensor([[1.0, 0.0], [0.0, 1.5], [5.0, 6.0]])  # source tokens in clusters 0, 1, 2
    emotion = torch.tensor([1, 1])
    loss, used = agcc.triplet_loss(z_t, torch.tensor([0, 2]), emotion, torch.tensor([True, True]),
                                   z_s, torch.tensor([0, 1, 2]), torch.tensor([1, 1, 1]))
    assert used.tolist() == [0]  # the anchor of cluster 2 is not in a common cluster
    w = np.exp(-0.2 * 2.0)  # d(anchor's cluster 0, negative's cluster 1)
    assert float(loss) == pytest.approx(1.0 - w * 1.5 + 0.3, abs=1e-5)


def test_common_clusters_come_from_the_training_splits_only():
    group = np.array([0, 1, 2, 0, 1, 2])
    corpus = np.array(["a", "a", "a", "b", "b", "b"])
    split = np.array(["train", "train", "train", "train", "val", "test"])
    assert common_groups(group, corpus, split, 3, "a", "b").tolist() == [True, False, False]


def test_4cat_is_uar_not_accuracy_on_an_unbalanced_test_set():
    y_true = np.array([0] * 8 + [1, 2])
    y_pred = np.array([0] * 8 + [0, 2])  # accuracy 90 %; recalls 1, 0, 1
    assert uar_scores(y_true, y_pred)["4-CAT"] == pytest.approx(100 * 2 / 3)


def _one_method_per_loss_term() -> list[str]:
    """The proposed method and one more method of each other loss term that reads target batches."""
    seen = {}
    for m in (methods.proposed(), *methods.names()):
        if methods.get(m).uses_target:
            seen.setdefault(methods.get(m).term, m)
    return list(seen.values())


@pytest.mark.parametrize("protocol", [dict(init="source_only", model_selection="last"),
                                      dict(init="scratch", model_selection="best_val")], ids=["fine-tuned", "scratch"])
@pytest.mark.parametrize("method", _one_method_per_loss_term())
def test_target_labels_never_reach_training(method, protocol):
    """Permuting the target corpus's labels (every split) leaves training, model selection and the
    predictions identical; only the diagnostic share of anchors with the right emotion moves.
    (Small batches and a large step, so that the model learns within 4 epochs: selecting the epoch
    on the target test labels would then pick another epoch.)"""
    data = with_layers(toy_data(n_per_split=(24, 8, 12)))  # LA-CC on pre-trained layers, LA-CC (CORAL) runs
    cfg = config(method=method, direction="C->I", pseudo_threshold=0.0,
                 **{**TINY, "batch_size": 4, "lr": 1e-2, "max_epochs": 4, "patience": 4, "finetune_epochs": 3, **protocol})
    shuffled = replace(data, utterances=data.utterances.copy())
    target = (shuffled.utterances["corpus"] == cfg.target).to_numpy()
    shuffled.utterances.loc[target, "label"] = np.random.default_rng(1).permutation(
        shuffled.utterances.loc[target, "label"].to_numpy())
    a, b = train_run(data, cfg, progress=False), train_run(shuffled, cfg, progress=False)
    np.testing.assert_array_equal(a.predictions, b.predictions)
    assert (a.val_uar, a.best_epoch) == (b.val_uar, b.best_epoch)
    pd.testing.assert_frame_equal(a.history.drop(columns="anchor_label_acc"), b.history.drop(columns="anchor_label_acc"))
    if a.history["triplets"].sum():
        assert not a.history["anchor_label_acc"].equals(b.history["anchor_label_acc"])  # the labels did move


def test_methods_of_one_seed_start_from_the_same_weights():
    data = toy_data(n_per_split=(16, 8, 8))
    states = [start_run(data, config(method=m, direction=directions_of(m)[0], seed=3, **TINY))
              .model.state_dict() for m in methods.names(within=False, data=data)]
    for state in states[1:]:
        assert all(torch.equal(state[k], states[0][k]) for k in state if not k.endswith(("mean", "std")))


def test_methods_of_one_seed_draw_the_same_source_batches_and_dropout():
    """Common random numbers (issue 14): after an epoch, every cross-corpus method of one seed is
    at the same place of its source batch order and of its source dropout stream, however many
    target batches (and target dropout masks) it drew; other seeds draw otherwise."""
    data = with_layers(toy_data(n_per_split=(16, 8, 8)))  # every method runs, LA-CC on pre-trained layers
    runs = {m: start_run(data, config(method=m, direction="C->I", seed=3, pseudo_threshold=0.0, **TINY))
            for m in methods.names(within=False)}
    for run in runs.values():
        train_epoch(run)
    assert any(r.targets is not None for r in runs.values()) and any(r.targets is None for r in runs.values())
    orders = {m: r.order.permutation(r.splits.src_train) for m, r in runs.items()}
    states = {m: r.source_dropout.state for m, r in runs.items()}
    first = methods.names(within=False)[0]
    for m in runs:
        np.testing.assert_array_equal(orders[m], orders[first])
        assert torch.equal(states[m], states[first]), m
    other = start_run(data, config(method=first, direction="C->I", seed=4, **TINY))
    assert not np.array_equal(other.order.permutation(other.splits.src_train), orders[first])


def test_gamma_is_chosen_on_the_mean_source_validation_uar_of_all_seeds(tmp_path):
    """Several gammas: every seed runs each, and the kept gamma has the best mean source-validation
    UAR over the seeds (not the first seed's); the table keeps that gamma's runs of every seed."""
    toy_data(n_per_split=(24, 8, 12)).save(tmp_path / "data")
    fast = {**TINY, "batch_size": 4, "lr": 1e-2, "max_epochs": 3}  # learns within 3 epochs
    runs, choice = table_ii_runs(config(pseudo_threshold=0.0, **fast), ["AG-CC"], tmp_path / "data", tmp_path / "runs",
                                 n_seeds=3,
                                 gammas=[0.3, 1.0], directions=["C->I"], workers=1, progress=False)
    assert len(choice) == 2 and choice["chosen"].sum() == 1
    chosen = choice.loc[choice["chosen"], "gamma"].item()
    assert choice.loc[choice["chosen"], "val_uar"].item() == choice["val_uar"].max()
    assert len(runs) == 3 and (runs["gamma"] == chosen).all() and sorted(runs["seed"]) == [0, 1, 2]
    assert runs["val_uar"].mean() == pytest.approx(choice.loc[choice["chosen"], "val_uar"].item())
