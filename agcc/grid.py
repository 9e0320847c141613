"""Experiment grids (methods x directions x seeds x ablation values), resumable, on local cores
or on an existing Dask cluster.

A grid is a list of *tasks*: flat dicts of literals (a :class:`agcc.train.TrainConfig` plus the
data folder). Each finished task is written at once to ``folder/<key>.json`` (key: a hash of the
task), so a grid killed half-way and started again runs only the missing tasks, and several
notebooks can share runs (the baselines notebook reuses the AG-CC runs of the training notebook).
A run file embeds the digest of its content (:func:`agcc.io.dumps_checked`): one that is empty,
truncated, edited by hand or stored under another task's name counts as not done, is reported
in one line and run again.
:func:`results_table` gives one tidy row per run: its parameters, metrics and wall time.

Engines, one code path: joblib runs the tasks, with its ``loky`` process pool on the local cores
(``engine="local"``, the default), or with the Dask backend of ``dask.distributed``
(``engine="dask"``): ``address`` names a running scheduler (``tcp://host:8786``), empty starts a
local Dask cluster. Dask rather than Ray because it installs as two pure-Python wheels, runs on
HPC schedulers through dask-jobqueue, and is a documented joblib backend. On a cluster the workers
must see the data folder at the same path (a shared filesystem); results come back to this
process, which writes them.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
from joblib import Parallel, delayed, parallel_config
from tqdm import tqdm

from .io import CacheError, atomic_write, dumps_checked, exit_with_parent, loads_checked, report

ENGINES = ("local", "dask")


def task_key(task: dict) -> str:
    """A stable 16-hex-digit name of a task (sha256 of its canonical JSON)."""
    return hashlib.sha256(json.dumps(task, sort_keys=True, default=str).encode()).hexdigest()[:16]


def local_workers(tasks: Sequence[dict], workers: int = 0) -> int:
    """Processes of a grid run on this machine: ``workers`` when given (> 0); else one per CPU
    core, or, when the tasks train on a CUDA device (their ``device`` field, resolved by
    :func:`agcc.io.torch_device`), **one**: every process would hold a CUDA context of its own
    (several hundred MB each) and one per core would contend for one GPU, so the grid shares the
    device by running its runs one after the other. A ``workers`` given puts that many runs on the
    device at once (a documented choice, sized to fit its memory: see the performance page). Runs
    name ``cuda`` (the first GPU); several GPUs are used through Dask, one worker per GPU."""
    if workers:
        return int(workers)
    devices = {str(t["device"]) for t in tasks if "device" in t}
    if devices:
        from .io import torch_device

        if any(torch_device(d).type == "cuda" for d in devices):
            return 1
    return os.cpu_count() or 1


def _timed(fn: Callable, task: dict, build_pid: int | None = None) -> tuple[dict, dict, float]:
    if build_pid is not None:  # a local worker process ends when the build that started it dies
        exit_with_parent(build_pid)
    start = time.perf_counter()
    result = fn(task)
    return task, result, time.perf_counter() - start


def _save(folder: Path, task: dict, result: dict, wall_s: float) -> None:
    record = {"key": task_key(task), "task": task, "result": result, "wall_s": round(wall_s, 3),
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    text = dumps_checked(record)
    atomic_write(folder / f"{record['key']}.json", lambda fh: fh.write(text))


def read_run(folder, task: dict) -> dict | None:
    """The stored record of ``task`` in ``folder``, or ``None`` when there is none or it cannot
    be trusted (unreadable, truncated, changed since written, or another task's record): such a
    file is reported in one line naming it and removed, so the run is done again."""
    path = Path(folder) / f"{task_key(task)}.json"
    if not path.is_file():
        return None
    try:
        record = loads_checked(path)
        if record.get("key") != path.stem or task_key(record.get("task", {})) != path.stem \
                or not isinstance(record.get("result"), dict):
            raise CacheError(f"{path}: holds another task's result")
    except CacheError as err:
        report(f"{err}; running it again")
        path.unlink(missing_ok=True)
        return None
    return record


def pending(tasks: Sequence[dict], folder) -> list[dict]:
    """The tasks with no trustworthy result in ``folder`` yet (see :func:`read_run`)."""
    return [t for t in tasks if read_run(folder, t) is None]


def run_grid(fn: Callable[[dict], dict], tasks: Sequence[dict], folder, *, engine: str = "local",
             workers: int = 0, address: str = "", progress: bool = True, desc: str = "runs") -> pd.DataFrame:
    """Run ``fn(task)`` for every task without a stored result, then return :func:`results_table`.

    Parameters
    ----------
    fn
        A module-level function (workers import it) mapping a task to a flat dict of results.
    tasks
        Flat dicts of JSON literals; equal dicts are the same run.
    folder
        Where results are stored, one JSON file per finished run.
    engine
        ``"local"`` (joblib's loky processes) or ``"dask"`` (joblib's Dask backend).
    workers
        Local processes (0 = :func:`local_workers`: one per CPU core, one in all for runs on a
        GPU; 1 = in this process, no pool). With Dask, the number of workers of a cluster started
        here (ignored with ``address``).
    address
        Dask scheduler address; empty starts a local Dask cluster.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    unique = list({task_key(t): t for t in tasks}.values())
    todo = pending(unique, folder)
    if progress:
        print(f"{len(unique) - len(todo)} of {len(unique)} runs already done; running {len(todo)}"
              + (f" ({engine})" if todo else ""), flush=True)
    if todo:
        workers = local_workers(todo, workers)
        # local workers watch this process (a task may reach a worker after the build died)
        jobs = (delayed(_timed)(fn, t, os.getpid() if engine == "local" and workers > 1 else None) for t in todo)
        bar = tqdm(total=len(todo), desc=desc, disable=not progress, mininterval=1.0)
        if engine == "local":
            config = parallel_config(backend="loky", n_jobs=min(workers, len(todo))) if workers > 1 else \
                parallel_config(backend="sequential")
            client = None
        else:
            from dask.distributed import Client, LocalCluster

            client = Client(address) if address else Client(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=workers > 1, dashboard_address=None))
            config = parallel_config(backend="dask", n_jobs=-1)
        try:
            with config:
                for task, result, wall in Parallel(return_as="generator_unordered")(jobs):
                    _save(folder, task, result, wall)  # at once: a killed grid keeps what finished
                    bar.update()
        finally:
            bar.close()
            if client is not None:
                cluster = client.cluster if not address else None
                client.close()
                if cluster is not None:
                    cluster.close()
    return results_table(unique, folder)


def results_table(tasks: Sequence[dict], folder) -> pd.DataFrame:
    """One row per task with a stored result: the task's fields (without ``data``), the result's
    fields, ``wall_s`` and ``key``; tasks without a result are left out."""
    folder = Path(folder)
    rows = []
    for task in tasks:
        record = read_run(folder, task)
        if record is not None:
            params = {k: v for k, v in record["task"].items() if k != "data"}
            rows.append({**params, **record["result"], "run_wall_s": record["wall_s"], "key": record["key"]})
    return pd.DataFrame(rows)
