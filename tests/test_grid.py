"""Experiment grids: resumable after a kill, local processes and Dask's local mode."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd

from agcc.grid import pending, results_table, run_grid, task_key
from agcc.params import defaults
from agcc.train import TrainConfig, run_task, task_for

from test_train import toy_data

SCRIPT = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from agcc.grid import run_grid

    log = Path(sys.argv[2])

    def work(task):
        with open(log, "a") as fh:           # one line per execution started
            fh.write(json.dumps(task["i"]) + "\\n")
        time.sleep(task["sleep"])
        return {"square": task["i"] ** 2}

    tasks = [{"i": i, "sleep": 0.4} for i in range(8)]
    run_grid(work, tasks, sys.argv[1], workers=1, progress=False)
""")


def test_task_key_is_stable_and_order_free():
    assert task_key({"a": 1, "b": "x"}) == task_key({"b": "x", "a": 1})
    assert task_key({"a": 1}) != task_key({"a": 2})


def test_killed_grid_redoes_only_missing_runs(tmp_path):
    script, log, out = tmp_path / "grid.py", tmp_path / "log.txt", tmp_path / "runs"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(log)], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("*.json"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # half-way: some runs finished, one in flight, the rest not started
    proc.wait()
    finished = {json.loads(p.read_text())["task"]["i"] for p in out.glob("*.json")}
    assert 3 <= len(finished) < 8
    first = [int(x) for x in log.read_text().split()]

    subprocess.run([sys.executable, str(script), str(out), str(log)], env=env, check=True)
    second = [int(x) for x in log.read_text().split()][len(first):]
    assert sorted(second) == sorted(set(range(8)) - finished)  # only the missing runs, each once
    table = results_table([{"i": i, "sleep": 0.4} for i in range(8)], out)
    assert sorted(table["square"]) == [i * i for i in range(8)]


def test_results_table_and_pending(tmp_path):
    calls = []

    def work(task):
        calls.append(task["i"])
        return {"double": 2 * task["i"]}

    tasks = [{"i": i} for i in range(3)]
    first = run_grid(work, tasks[:2], tmp_path, workers=1, progress=False)
    assert list(first["double"]) == [0, 2]
    assert pending(tasks, tmp_path) == [{"i": 2}]
    table = run_grid(work, tasks + tasks[:1], tmp_path, workers=1, progress=False)  # duplicates run once
    assert calls == [0, 1, 2] and list(table["i"]) == [0, 1, 2]
    assert {"run_wall_s", "key"} <= set(table.columns)


def _training_tasks(tmp_path):
    data = toy_data(n_per_split=(16, 8, 8))
    data.save(tmp_path / "data")
    small = dict(d_model=8, n_heads=2, n_layers=1, d_ff=16, fc_sizes=(8, 8, 8), max_epochs=1, threads=1)
    return [task_for(TrainConfig.from_params(defaults(), method=m, direction="C->I", seed=s, **small), tmp_path / "data")
            for m in ("Source only", "AG-CC") for s in (0, 1)]


def test_training_grid_on_local_processes(tmp_path):
    tasks = _training_tasks(tmp_path)
    table = run_grid(run_task, tasks, tmp_path / "runs", workers=2, progress=False)
    assert len(table) == 4 and set(table["model"]) == {"Source only", "AG-CC"}
    assert table["4-CAT"].between(0, 100).all()
    # the same tasks in this process give the same numbers: worker processes change nothing
    again = run_grid(run_task, tasks, tmp_path / "again", workers=1, progress=False)
    pd.testing.assert_series_equal(table["4-CAT"], again["4-CAT"])


def test_training_grid_on_dask_local_mode(tmp_path):
    tasks = _training_tasks(tmp_path)[:2]
    table = run_grid(run_task, tasks, tmp_path / "runs", engine="dask", workers=1, progress=False)
    assert len(table) == 2 and table["4-CAT"].notna().all()


def test_training_grid_on_a_two_process_dask_cluster(tmp_path):
    """joblib's Dask backend with ``return_as="generator_unordered"`` on a real multi-process
    LocalCluster: every run comes back, is stored, and gives the same numbers as in-process."""
    tasks = _training_tasks(tmp_path)
    table = run_grid(run_task, tasks, tmp_path / "runs", engine="dask", workers=2, progress=False)
    assert len(table) == 4 and len(list((tmp_path / "runs").glob("*.json"))) == 4
    again = run_grid(run_task, tasks, tmp_path / "again", workers=1, progress=False)
    pd.testing.assert_series_equal(table["4-CAT"], again["4-CAT"])
