"""Fine-tuning from the seed's source-only model (``init: source_only``, issue 14's optional common
starting point): every method of a seed starts from one stored model, the store is keyed and
checked like the grid's runs, and a method whose term weighs nothing fine-tunes exactly as source
only does."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from agcc import methods
from agcc.experiments import table_ii_runs
from agcc.grid import pending, task_key
from agcc.train import (canonical, checkpoint_folder, checkpoint_task, pretraining, start_run, stream_seed, task_for,
                        train_run, warm_starts)
from test_layer_anchoring import with_layers
from test_methods import TINY
from test_train import config, toy_data

WARM = dict(TINY, init="source_only", finetune_epochs=2, batch_size=4, lr=1e-2, max_epochs=3, patience=3)


def test_every_method_of_a_seed_fine_tunes_one_source_only_model():
    cfgs = [config(method=m, direction="C->I", seed=3, **WARM) for m in methods.names(within=False)]
    cfgs.append(replace(cfgs[-1], gamma=0.3, alpha=1.0, beta=5.0))  # method settings: same model
    assert all(warm_starts(c) for c in cfgs)
    pre = [pretraining(c) for c in map(canonical, cfgs)]
    assert all(p == pre[0] for p in pre)
    pre = pre[0]
    assert pre.method == methods.SourceOnly.name and pre.init == "scratch" and not warm_starts(pre)
    assert pretraining(replace(cfgs[0], seed=4)) != pre and pretraining(replace(cfgs[0], direction="I->C")) != pre
    # the upper bounds start from scratch, and a scratch run's key ignores the fine-tuning settings
    upper = config(method="Upper Bound", direction="C->C", **WARM)
    assert not warm_starts(upper)
    assert canonical(upper) == canonical(replace(upper, init="scratch", finetune_epochs=7))
    scratch = config(method="AG-CC", direction="C->I", **{**WARM, "init": "scratch"})
    assert canonical(scratch) == canonical(replace(scratch, finetune_epochs=7))
    assert canonical(cfgs[0]) != canonical(replace(cfgs[0], finetune_epochs=7))


def test_a_fine_tuning_run_starts_from_the_given_weights_with_streams_of_its_own():
    data = toy_data(n_per_split=(16, 8, 8))
    cfg = config(method="AG-CC", direction="C->I", seed=2, **WARM)
    source = train_run(data, pretraining(cfg), progress=False).state
    run = start_run(data, cfg, source)
    assert run.epochs == cfg.finetune_epochs
    assert all(torch.equal(v, source[k]) for k, v in run.model.state_dict().items())
    scratch = start_run(data, cfg)
    assert scratch.epochs == cfg.max_epochs
    assert not np.array_equal(run.order.permutation(run.splits.src_train),
                              scratch.order.permutation(scratch.splits.src_train))
    assert stream_seed(2, "init", 1) != stream_seed(2, "init") and stream_seed(2, "init", 0) == stream_seed(2, "init")


@pytest.mark.parametrize("method", ["AG-CC", "LA-CC"])
def test_with_a_weightless_term_a_method_fine_tunes_exactly_as_source_only(method):
    """Common random numbers in the fine-tuning phase: gamma = 0 leaves only the cross-entropy, so
    a method that also draws target batches, target dropout and triplets must end where source only
    ends, to the bit (one starting model, one source batch order, one source dropout stream)."""
    data = with_layers(toy_data(n_per_split=(24, 8, 12)))
    cfg = config(method=method, direction="C->I", seed=1, pseudo_threshold=0.0, **{**WARM, "gamma": 0.0})
    source = train_run(data, pretraining(cfg), progress=False).state
    a = train_run(data, cfg, progress=False, init_state=source)
    b = train_run(data, replace(cfg, method="Source only"), progress=False, init_state=source)
    np.testing.assert_array_equal(a.predictions, b.predictions)
    pd.testing.assert_series_equal(a.history["ce"], b.history["ce"])
    assert a.history["triplets"].sum() > 0 or method == "LA-CC"
    c = train_run(data, replace(cfg, gamma=1.0), progress=False, init_state=source)
    assert not c.history["ce"].equals(b.history["ce"])  # with its term the method does move


def test_the_grid_trains_each_source_only_model_once_and_checks_what_it_stored(tmp_path, capsys):
    data = toy_data(n_per_split=(24, 8, 12))
    data.save(tmp_path / "data")
    base = config(pseudo_threshold=0.0, **WARM)
    grid = dict(n_seeds=2, gammas=[1.0], directions=["C->I"], workers=1, progress=False)
    runs, _ = table_ii_runs(base, ["Source only", "AG-CC"], tmp_path / "data", tmp_path / "runs", **grid)
    store = checkpoint_folder(tmp_path / "data")
    assert store == tmp_path / "checkpoints" and len(list(store.glob("*.json"))) == 2  # one per seed
    assert (runs["epochs"] <= WARM["finetune_epochs"]).all()
    # a warm-started run in a worker reads the stored model: the same numbers as training it in-process
    cfg = canonical(replace(base, method="AG-CC", seed=1, threads=1))
    inline = train_run(data, cfg, progress=False)
    assert runs.loc[(runs["model"] == "AG-CC") & (runs["seed"] == 1), "4-CAT"].item() == inline.metrics["4-CAT"]
    # a damaged stored model is reported and trained again, to the same numbers
    pre = checkpoint_task(task_for(cfg, tmp_path / "data"))
    damaged = store / f"{task_key(pre)}.json"
    damaged.write_text(damaged.read_text()[:-40])
    for f in (tmp_path / "runs").glob("*.json"):
        f.unlink()
    capsys.readouterr()
    again, _ = table_ii_runs(base, ["Source only", "AG-CC"], tmp_path / "data", tmp_path / "runs", **grid)
    assert f"{damaged.name}" in capsys.readouterr().err
    assert not pending([pre], store)
    pd.testing.assert_frame_equal(runs.drop(columns=["wall_s", "history"]), again.drop(columns=["wall_s", "history"]))


def test_a_regrouped_set_fine_tunes_the_source_only_models_of_the_set_whose_frames_it_shares(tmp_path):
    """An ablation's other AG clustering shares the default set's frames and utterances: its runs
    fine-tune the default set's stored source-only models (a source-only run reads no grouping);
    a set with other utterances keeps its own."""
    data = toy_data(n_per_split=(16, 8, 8))
    base, variant, relabelled = (tmp_path / name / "training" for name in ("default", "k5", "other"))
    data.save(base)
    regrouped = replace(data, tokens=data.tokens.assign(ag_cluster=(data.tokens["ag_cluster"] + 1) % 3),
                        shared_frames=base / "frames.npy")
    regrouped.save(variant)
    u = data.utterances.copy()
    u.loc[0, "label"] = (u.loc[0, "label"] + 1) % 4
    replace(regrouped, utterances=u).save(relabelled)
    cfg = canonical(replace(config(method="AG-CC", direction="C->I", **WARM), threads=1))
    on = {name: task_for(cfg, folder) for name, folder in (("base", base), ("variant", variant),
                                                          ("relabelled", relabelled))}
    assert on["variant"] != on["base"]  # the AG-CC runs differ ...
    assert checkpoint_task(on["variant"]) == checkpoint_task(on["base"])  # ... their starting model does not
    assert checkpoint_task(on["base"])["data"] == str(base)
    assert checkpoint_task(on["relabelled"])["data"] == str(relabelled)
    assert checkpoint_folder(checkpoint_task(on["variant"])["data"]) == tmp_path / "default" / "checkpoints"
