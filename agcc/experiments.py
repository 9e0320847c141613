"""Many training runs: Table II's grid, the choice of gamma, and the statistics over seeds.

Table II (Sec. IV) compares AG-CC with PA-CC, LA-CC and Hard-AG in both directions, plus the
within-corpus upper bounds; this book adds the plain source-only model, the reference every
anchoring method must beat. Every (model, direction) is trained with ``n_seeds`` seeds and
reported as a mean with a 95 % t-interval; AG-CC is compared with each baseline by the paired
difference over the same seeds.

The weight gamma of the anchored loss (Eq. 4) is not given by the paper. With one value in
``gamma_grid`` (the default profile) it is fixed in advance for every method; with several, every
seed is trained with each and the value with the best mean **source-validation** UAR over all
seeds is kept per method and direction (no target label; :func:`table_ii_runs`). Every method
that takes a gamma gets the same budget. The runs of one seed share their random numbers across
methods (:data:`agcc.train.STREAMS`), so that paired differences measure the methods; a run tests
the target utterances its ``target_protocol`` says (:func:`agcc.train.run_splits`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from . import methods as registry
from .corpora import cross_directions, within_directions
from .grid import run_grid
from .stats import minimum_detectable, paired_interval, t_interval
from .train import (TrainConfig, canonical, checkpoint_folder, checkpoint_task, pretrain_task, run_task, task_config,
                    task_for, warm_starts)
from .vocab import METRICS


def directions_of(method: str) -> tuple[str, ...]:
    """The directions ``method`` runs on: each corpus with itself for a within-corpus method (the
    upper bound), every ordered pair of corpora otherwise (:mod:`agcc.corpora`)."""
    return tuple(within_directions() if registry.get(method).within_corpus else cross_directions())


def takes_gamma(method: str) -> bool:
    """Whether ``method`` has a loss term weighted by gamma (Eq. 4), so that gamma is chosen for it."""
    return "gamma" in registry.get(method).hyperparameters


def folds_of(base: TrainConfig) -> list[int]:
    """The target folds a configuration's runs test: ``0 .. target_folds - 1`` under
    ``target_protocol: folds``, the single ``0`` otherwise (:func:`agcc.train.run_splits`)."""
    return list(range(base.target_folds)) if base.target_protocol == "folds" else [0]


def combine_folds(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per ``model, direction, seed`` (and ``gamma``) from the runs of its target folds:
    Table II's metrics and ``val_uar`` averaged with the folds' test sizes ``n_test`` as weights
    (every target utterance counts once), ``wall_s`` and ``n_test`` summed, ``folds`` counted, the
    other columns of the first fold."""
    keys = [k for k in ("model", "direction", "seed", "gamma") if k in runs]
    if runs.empty or not runs.duplicated(keys).any():
        return runs.assign(folds=1)
    rows = []
    for _, part in runs.groupby(keys, sort=False):
        row = part.iloc[0].to_dict()
        w = part["n_test"].to_numpy(float)
        for metric in (*METRICS, "val_uar"):
            values = part[metric].to_numpy(float)
            ok = ~np.isnan(values)
            row[metric] = float(np.average(values[ok], weights=w[ok])) if ok.any() else float("nan")
        row.update(wall_s=float(part["wall_s"].sum()), n_test=int(part["n_test"].sum()), folds=len(part))
        rows.append(row)
    return pd.DataFrame(rows)


def table_ii_runs(base: TrainConfig, methods, data_folder, runs_folder, *, n_seeds: int, gammas,
                  first_seed: int = 0, directions=None, engine: str = "local", workers: int = 0,
                  address: str = "", progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train (or load from ``runs_folder``) every run of ``methods`` and return
    ``(runs, gamma_choice)``.

    Parameters
    ----------
    base
        The shared settings (:meth:`TrainConfig.from_params`); method, direction, seed, fold and
        gamma are set here.
    methods
        Registered method names (:func:`agcc.methods.names`), in the order of the returned rows.
    n_seeds, first_seed
        Seeds ``first_seed .. first_seed + n_seeds - 1``; each runs every target fold
        (:func:`folds_of`).
    gammas
        The values of gamma, for the methods that take one (:func:`takes_gamma`). One value: gamma
        is fixed in advance. Several: every seed is trained with each, and the value with the best
        mean source-validation UAR over all seeds is kept per method and direction (no target
        label; the replication notes say why the default fixes it).
    directions
        Restrict the cross-corpus directions (default both; within-corpus methods, the upper
        bounds, always run on theirs).
    engine, workers, address
        As in :func:`agcc.grid.run_grid`.

    Returns
    -------
    runs : DataFrame
        One row per seed kept for the table (its folds combined, :func:`combine_folds`):
        ``model, direction, seed, gamma``, Table II's metrics, ``val_uar``, ``best_epoch``,
        ``epochs``, ``wall_s``, ``n_test``, ``folds``, ``history``. ``runs.attrs["folds"]`` holds
        the runs of each fold.
    gamma_choice : DataFrame
        ``model, direction, gamma, val_uar, chosen``: the mean source-validation UAR over seeds of
        every gamma tried.
    """
    seeds = list(range(first_seed, first_seed + n_seeds))
    gammas = list(gammas)
    pairs = [(m, d) for m in methods for d in directions_of(m) if registry.get(m).within_corpus
             or directions is None or d in directions]

    def cfg(method, direction, seed, gamma, fold):
        # one torch thread per run: runs are parallel, and numbers do not depend on the worker count
        return canonical(replace(base, method=method, direction=direction, seed=seed, gamma=gamma, fold=fold,
                                 threads=1))

    configs = [cfg(m, d, s, g, f) for m, d in pairs for g in (gammas if takes_gamma(m) else gammas[:1])
               for s in seeds for f in folds_of(base)]
    tasks = [task_for(c, data_folder) for c in configs]
    grid = dict(engine=engine, workers=workers, address=address, progress=progress)
    pretrain(tasks, **grid)
    done = run_grid(run_task, tasks, runs_folder, desc="runs", **grid)
    choice = done.groupby(["model", "direction", "gamma"], as_index=False, sort=False)["val_uar"].mean()
    best = (choice.sort_values(["val_uar", "gamma"], ascending=[False, True])
            .groupby(["model", "direction"], sort=False)["gamma"].first())
    choice["chosen"] = [best[(m, d)] == g for m, d, g in zip(choice["model"], choice["direction"], choice["gamma"])]
    kept = done[[best[(m, d)] == g for m, d, g in zip(done["model"], done["direction"], done["gamma"])]]
    order = {m: i for i, m in enumerate(methods)}
    by_fold = kept.sort_values(["model", "direction", "seed", "fold"],
                               key=lambda col: col.map(order) if col.name == "model" else col)
    columns = ["model", "direction", "seed", "gamma", *METRICS, "val_uar", "best_epoch", "epochs", "wall_s",
               "n_test", "folds", "triplets_per_step", "anchor_label_acc", "history"]
    runs = combine_folds(by_fold)[columns].reset_index(drop=True)
    runs.attrs["folds"] = by_fold.drop(columns="history").reset_index(drop=True)
    return runs, choice


def pretrain(tasks, **grid) -> None:
    """Train (or find stored) the source-only models that the warm-started runs among ``tasks``
    fine-tune (``init: source_only``; :func:`agcc.train.source_model`), one per seed, direction,
    fold and data, before those runs start, so that parallel workers never train one twice.
    ``grid`` as in :func:`agcc.grid.run_grid`."""
    by_folder: dict = {}
    for task in tasks:
        if warm_starts(task_config(task)):
            pre = checkpoint_task(task)
            by_folder.setdefault(checkpoint_folder(pre["data"]), []).append(pre)
    for folder, pre in by_folder.items():
        run_grid(pretrain_task, pre, folder, desc="source-only models", **grid)


RESULT_COLUMNS = ("4-CAT", "Neu", "Ang", "Hap", "Sad", "val_uar", "best_epoch", "epochs", "wall_s",
                  "triplets_per_step", "anchor_label_acc")


def run_design(design: pd.DataFrame, runs_folder, **grid) -> pd.DataFrame:
    """Train (or read back) every run of a design and join its results: the design's columns
    without ``task``, plus :data:`RESULT_COLUMNS`. ``grid`` goes to :func:`agcc.grid.run_grid`
    (``engine``, ``workers``, ``address``, ``progress``, ``desc``)."""
    tasks = list({k: t for k, t in zip(design["key"], design["task"])}.values())
    pretrain(tasks, **{k: v for k, v in grid.items() if k != "desc"})
    table = run_grid(run_task, tasks, runs_folder, **grid)
    results = table[["key", *[c for c in RESULT_COLUMNS if c in table.columns]]]
    return design.drop(columns="task").merge(results, on="key", how="left")


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Long table ``model, direction, metric, mean, ci_low, ci_high, n`` over seeds."""
    rows = []
    for (model, direction), part in runs.groupby(["model", "direction"], sort=False):
        for metric in METRICS:
            m, lo, hi, n = t_interval(part[metric], bounds=(0.0, 100.0))  # a UAR lies in [0, 100]
            rows.append({"model": model, "direction": direction, "metric": metric, "mean": m,
                         "ci_low": lo, "ci_high": hi, "n": n})
    return pd.DataFrame(rows, columns=["model", "direction", "metric", "mean", "ci_low", "ci_high", "n"])


def paired_differences(runs: pd.DataFrame, reference: str = "AG-CC") -> pd.DataFrame:
    """``reference`` minus each other cross-corpus model, paired by direction and seed:
    ``baseline, direction, metric, diff_mean, ci_low, ci_high, n``, the standard deviation of the
    paired differences ``sd`` and the smallest difference these seeds detect with 80 % power at the
    5 % level, ``mde`` (:func:`agcc.stats.minimum_detectable`)."""
    rows = []
    ref = runs[runs["model"] == reference].set_index(["direction", "seed"])
    for (model, direction), part in runs[runs["model"] != reference].groupby(["model", "direction"], sort=False):
        part = part.set_index(["direction", "seed"])
        both = ref.index.intersection(part.index)
        if both.empty:
            continue
        for metric in METRICS:
            m, lo, hi, _ = paired_interval(ref[metric], part[metric])
            diffs = ref.loc[both, metric].to_numpy(float) - part.loc[both, metric].to_numpy(float)
            sd = float(np.std(diffs, ddof=1)) if len(both) > 1 else float("nan")
            rows.append({"baseline": model, "direction": direction, "metric": metric, "diff_mean": m,
                         "ci_low": lo, "ci_high": hi, "n": len(both), "sd": sd,
                         "mde": minimum_detectable(sd, len(both))})
    return pd.DataFrame(rows, columns=["baseline", "direction", "metric", "diff_mean", "ci_low", "ci_high", "n", "sd",
                                       "mde"])


def format_table_ii(summary: pd.DataFrame, paper: pd.DataFrame, methods) -> pd.DataFrame:
    """Table II as printed: rows (model, direction), per metric the measured ``mean ± half-width``
    beside the paper's value (``—`` where the paper has no such row)."""
    rows = []
    for method in methods:
        for direction in directions_of(method):
            part = summary[(summary["model"] == method) & (summary["direction"] == direction)].set_index("metric")
            if part.empty:
                continue
            row = {"model": method, "direction": direction}
            for metric in METRICS:
                m, lo, hi = part.loc[metric, ["mean", "ci_low", "ci_high"]]
                row[metric] = f"{m:.1f}" + ("" if np.isnan(lo) else f"\u00a0±\u00a0{(hi - lo) / 2:.1f}")
                key = (method, direction)
                row[f"{metric} (paper)"] = f"{paper.loc[key, metric]:.2f}" if key in paper.index else "—"
            rows.append(row)
    out = pd.DataFrame(rows).set_index(["model", "direction"])
    return out[[c for m in METRICS for c in (m, f"{m} (paper)")]]
