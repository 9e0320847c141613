"""The GPU path (issue 17, item 5), checked on the CPU: batches assembled one step ahead in a
background thread give the same numbers; pinned memory only for a CUDA device; a grid of CUDA runs
shares the one GPU instead of starting a process per core."""
import os
import threading

import numpy as np
import pandas as pd
import torch

from agcc.grid import local_workers, run_grid
from agcc.train import Batches, train_run
from test_train import config, toy_data, FAST


def _batches(device="cpu"):
    data = toy_data((12, 4, 4))
    batches = Batches(data, torch.device(device))
    u = data.utterances
    for corpus in ("crema_d", "msp_improv"):  # standardised per corpus, as normalise_inputs does
        rows = np.flatnonzero((u["corpus"] == corpus).to_numpy())
        batches.standardise(rows, torch.full((data.n_features,), 0.5), torch.full((data.n_features,), 2.0))
    return batches, len(u)


def test_stream_gives_the_inputs_of_each_item_assembled_ahead_in_a_thread(monkeypatch):
    batches, n = _batches()
    rng = np.random.default_rng(0)
    items = [(rng.choice(n, 5, replace=False), rng.choice(n, 3, replace=False) if i % 2 else None) for i in range(6)]
    threads, pulled = [], []
    gather = batches.gather
    monkeypatch.setattr(batches, "gather", lambda rows: threads.append(threading.current_thread().name) or gather(rows))

    def source():
        for i, item in enumerate(items):
            pulled.append(i)
            yield item

    seen = 0
    for (item, inputs), expected in zip(batches.stream(source()), items):
        assert item is expected
        assert pulled[-1] == min(seen + 1, len(items) - 1)  # the next item is read (and assembled) ahead
        for rows, got in zip(item, inputs):
            if rows is None:
                assert got is None
            else:
                want = batches.inputs(rows)
                assert all(torch.equal(a, b) for a, b in zip(got, want))
        seen += 1
    assert seen == len(items)
    assert threads[0].startswith("agcc-batches")  # assembled off the training thread


def test_inputs_are_pinned_for_a_cuda_device_only(monkeypatch):
    pinned = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: pinned.append(self.shape) or self)
    cpu, _ = _batches("cpu")
    cpu.assemble(np.arange(4))
    assert pinned == []
    cuda, _ = _batches("cuda")  # no GPU here: only the CPU side of the path is exercised
    x, mask = cuda.assemble(np.arange(4))
    assert pinned == [x.shape, mask.shape]


def test_training_with_read_ahead_equals_training_without(monkeypatch):
    """The background thread changes when batches are assembled, never what a run computes
    (target batches drawn one step ahead come from the same generator in the same order)."""
    data = toy_data((24, 8, 8))
    cfg = config(method="AG-CC", direction="C->I", seed=3, **{**FAST, "max_epochs": 3, "patience": 3})
    ahead = train_run(data, cfg, progress=False)

    def one_by_one(self, items):
        for item in items:
            yield item, tuple(None if rows is None else self.inputs(rows) for rows in item)

    monkeypatch.setattr(Batches, "stream", one_by_one)
    plain = train_run(data, cfg, progress=False)
    assert ahead.metrics == plain.metrics
    np.testing.assert_array_equal(ahead.predictions, plain.predictions)
    pd.testing.assert_frame_equal(ahead.history, plain.history)


def test_a_grid_of_cuda_runs_shares_the_gpu_one_run_at_a_time(monkeypatch, tmp_path):
    cpu_tasks = [{"device": "auto", "i": i} for i in range(4)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert local_workers(cpu_tasks) == (os.cpu_count() or 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert local_workers(cpu_tasks) == 1  # auto resolves to the GPU
    assert local_workers([{"device": "cpu"}] * 3) == 16  # CPU runs: one per core
    assert local_workers(cpu_tasks, workers=3) == 3  # runs per device, asked for explicitly
    # run_grid itself: runs in this process (no pool of 16 CUDA contexts)
    out = run_grid(_where, cpu_tasks, tmp_path / "runs", progress=False)
    assert set(out["pid"]) == {os.getpid()}


def _where(task: dict) -> dict:
    return {"pid": os.getpid()}
