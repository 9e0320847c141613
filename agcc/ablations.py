"""Ablations of AG-CC (Sec. II-B, II-C, III; Eq. 2-4): the cross-corpus UAR as each setting of the
AG-anchored loss is varied alone.

The paper fixes the margin alpha = 0.3 (Eq. 2), the soft-weight scale beta = 0.2 and the soft
weights themselves (Eq. 3), k = 10 AG clusters (Sec. II-C, by the elbow method), the 25 % rule
that makes a cluster "common" (Sec. II-C.1) and six vowels (Sec. II-B); it leaves the loss weight
gamma (Eq. 4) and the emotion of a target anchor open. Each factor is varied with the others held
at the *default setting* -- the AG-CC configuration of notebooks 05-06, with the gamma chosen there
on source validation UAR -- and every value is trained with the same seeds as the default, so a
value's effect is the UAR difference paired by seed (:func:`ablation_summary`).

Factors (:data:`FACTORS`):

* ``gamma`` (Eq. 4), ``beta`` (Eq. 3), ``soft_weights`` (Eq. 3 on, or w = 1), ``alpha`` (Eq. 2);
* ``k``: AG clusterings with other numbers of clusters, fitted like notebook 02's model
  (:func:`k_variant_data`, one folder per k under ``ablations/``), each with its training data
  (its groupings; the frames are the default setting's, shared on disk, not copied);
* ``ag_speaker_norm``: the AG clustering fitted on raw or per-speaker normalised landmarks
  (:func:`agcc.clustering.speaker_normalised`; the paper's conclusion leaves speaker variability in
  AG clustering to future work), like ``k`` one clustering and its training data per value
  (:func:`speaker_norm_variant_data`);
* ``overlap_threshold`` (the common AG clusters), ``vowels`` (the anchoring vowels);
* ``pseudo_threshold``: the confidence a target utterance's pseudo-label needs;
* ``target_labels``: ``oracle`` gives the anchors their *true* emotion, read from the target
  corpus's labels -- a diagnostic of what the loss could do with perfect labels, **not** a
  transfer result (:data:`DIAGNOSTIC`).

The grid is built here (:func:`ablation_design`), executed by :func:`agcc.experiments.run_design`
(stored runs are reused: the default setting's runs are those of notebook 05) and summarised with
the statistics of :mod:`agcc.experiments`.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .corpora import cross_directions
from .clustering import SPEAKER_NORMS, ClusteringRun
from .grid import task_key
from .methods import proposed
from .segments import SegmentSet
from .stages import ag_clustering
from .stats import CANNOT, FAILS, HOLDS, interval_verdict, paired_interval, t_interval
from .train import TrainConfig, cached_training_data, canonical, task_for, vowel_set
from .vocab import VOWELS

FACTORS = ("gamma", "beta", "soft_weights", "alpha", "k", "ag_speaker_norm", "overlap_threshold", "vowels",
           "pseudo_threshold", "target_labels")
DIAGNOSTIC = ("target_labels",)  # uses target labels: never a transfer result
TITLES = {
    "gamma": "γ, weight of the anchored loss (Eq. 4)",
    "beta": "β, scale of the soft weight (Eq. 3)",
    "soft_weights": "soft weights (Eq. 3) on or off (w = 1)",
    "alpha": "α, margin of the triplet loss (Eq. 2)",
    "k": "k, number of AG clusters (Sec. II-C)",
    "ag_speaker_norm": "per-speaker normalisation of the AG clustering's landmarks (Sec. V: future work)",
    "overlap_threshold": "overlap threshold of the common AG clusters (Sec. II-C.1)",
    "vowels": "anchoring vowels (Sec. II-B)",
    "pseudo_threshold": "confidence threshold of the targets' pseudo-labels",
    "target_labels": "emotion of target anchors: pseudo-labels or TRUE target labels (diagnostic)",
}
# the notebook parameter holding each factor's values (a list; vowels: a list of vowel sets)
PARAMETER = {"gamma": "ablation_gamma", "beta": "ablation_beta", "alpha": "ablation_alpha", "k": "ablation_k",
             "overlap_threshold": "ablation_overlap", "vowels": "ablation_vowels",
             "pseudo_threshold": "ablation_pseudo"}
ALL_VOWELS = tuple(VOWELS)
# a paired difference's reading: value higher or lower than the default (interval wholly above or
# below 0), no clear difference (it includes 0) or no interval (one seed); agcc.stats' verdicts
EFFECTS = ("higher", "lower", "no clear difference", "no interval")


def effect(low: float, high: float, n: int) -> str:
    """:func:`agcc.stats.interval_verdict` of a value-minus-default difference, as one of
    :data:`EFFECTS`."""
    return {HOLDS: "higher", FAILS: "lower", CANNOT: "no interval"}.get(interval_verdict(low, high, n)[0],
                                                                         "no clear difference")


def ablation_values(params: dict) -> dict[str, list]:
    """The values of each factor named in ``params["ablation_factors"]``, from the notebook
    parameters (``ablation_gamma``, ...); ``soft_weights`` and ``target_labels`` take both their
    values. The default setting's value is added by :func:`ablation_design`."""
    wanted = params["ablation_factors"]
    unknown = sorted(set(wanted) - set(FACTORS))
    if unknown:  # profiles.yml's choices are FACTORS (a test checks): only a hand-made dict gets here
        raise ValueError(f"unknown ablation factors {unknown}; choose from {', '.join(FACTORS)}")
    out = {}
    for factor in (f for f in FACTORS if f in wanted):  # the order of FACTORS, whatever the order given
        if factor == "soft_weights":
            out[factor] = [True, False]
        elif factor == "target_labels":
            out[factor] = ["pseudo", "oracle"]
        elif factor == "ag_speaker_norm":
            out[factor] = list(SPEAKER_NORMS)
        elif factor == "vowels":
            out[factor] = [vowel_set(s) for s in params[PARAMETER[factor]]]
        else:
            out[factor] = list(params[PARAMETER[factor]])
    return out


def value_label(factor: str, value) -> str:
    """How a value is printed: ``all six`` for the full vowel set, ``on``/``off`` for the soft
    weights, ``%g`` for numbers."""
    if factor == "vowels":
        return "all six" if tuple(value) == ALL_VOWELS else "{" + " ".join(value) + "}"
    if factor == "soft_weights":
        return "on" if value else "off (w = 1)"
    if factor == "ag_speaker_norm":
        return "raw" if value == "none" else "per speaker"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def default_value(factor: str, cfg: TrainConfig, default_k: int, default_norm: str | None = None):
    """The default setting's value of ``factor``."""
    if factor == "k":
        return default_k
    if factor == "ag_speaker_norm":  # a setting of the clustering, not of the training run
        return default_norm
    return getattr(cfg, factor)


def ablation_design(base: TrainConfig, gammas: dict, values: dict, *, directions, seeds, data_folder,
                    k_folders: dict | None = None, default_k: int = 10, norm_folders: dict | None = None,
                    default_norm: str | None = None) -> pd.DataFrame:
    """Every run of the ablations: one row per (factor, value, direction, seed).

    Parameters
    ----------
    base
        The shared settings (:meth:`TrainConfig.from_params`).
    gammas
        The default gamma per direction (the one notebook 05 chose).
    values
        Factor -> values (:func:`ablation_values`); the default value is added where missing.
    directions, seeds
        Cross-corpus directions and training seeds.
    data_folder
        The training data of the default setting (notebook 05's).
    k_folders
        k -> training data folder of the clustering with k clusters (:func:`k_variant_data`).
    default_k
        The number of clusters of ``data_folder``'s clustering.
    norm_folders, default_norm
        ``ag_speaker_norm`` value -> training data folder of the clustering fitted with it
        (:func:`speaker_norm_variant_data`), and the value of ``data_folder``'s clustering (needed
        with the ``ag_speaker_norm`` factor).

    Returns
    -------
    DataFrame
        ``factor, value, label, position, is_default, direction, seed, key, task``: ``key`` names
        the stored run (:func:`agcc.grid.task_key`); runs shared by factors (the default setting
        belongs to all of them) have the same key.
    """
    k_folders = dict(k_folders or {})
    k_folders.setdefault(default_k, data_folder)
    norm_folders = {**(norm_folders or {}), default_norm: data_folder}
    rows = []
    for factor, vals in values.items():
        if factor not in FACTORS:
            raise ValueError(f"unknown ablation factor {factor!r}")
        for direction in directions:
            default = replace(base, method=proposed(), direction=direction, gamma=float(gammas[direction]),
                              threads=1)
            d_value = default_value(factor, default, default_k, default_norm)
            if factor == "ag_speaker_norm" and default_norm is None:
                raise ValueError("the ag_speaker_norm factor needs default_norm (the main clustering's)")
            if factor in ("vowels", "soft_weights", "target_labels", "ag_speaker_norm"):  # categories: default first
                vals_all = [d_value] + [v for v in vals if v != d_value]
            else:
                vals_all = sorted(set(vals) | {d_value})
            for position, value in enumerate(vals_all):
                if factor == "k":
                    if value not in k_folders:
                        raise ValueError(f"no training data for k = {value}")
                    cfg, folder = default, k_folders[value]
                elif factor == "ag_speaker_norm":
                    if value not in norm_folders:
                        raise ValueError(f"no training data for ag_speaker_norm = {value}")
                    cfg, folder = default, norm_folders[value]
                else:
                    cfg, folder = replace(default, **{factor: value}), data_folder
                for seed in seeds:
                    task = task_for(canonical(replace(cfg, seed=int(seed))), folder)
                    rows.append({"factor": factor, "value": value, "label": value_label(factor, value),
                                 "position": position, "is_default": value == d_value, "direction": direction,
                                 "seed": int(seed), "key": task_key(task), "task": task})
    return pd.DataFrame(rows, columns=["factor", "value", "label", "position", "is_default", "direction", "seed",
                                       "key", "task"])


def paired_effects(results: pd.DataFrame, by, metric: str = "4-CAT") -> pd.DataFrame:
    """Per group of ``by`` columns (rows of one factor and direction): the mean and 95 %
    t-interval of ``metric`` over seeds for each value, and its difference from the default
    value's run with the same seed (``diff_*``; 0 for the default itself) with its :func:`effect`.

    ``results`` needs ``by``, ``value``, ``label``, ``position``, ``is_default``, ``seed`` and
    ``metric``.
    """
    rows = []
    for group, part in results.groupby(list(by), sort=False):
        group = group if isinstance(group, tuple) else (group,)
        ref = part[part["is_default"]].set_index("seed")[metric]
        for (position, label), runs in part.groupby(["position", "label"], sort=True):
            runs = runs.set_index("seed")
            m, lo, hi, n = t_interval(runs[metric])
            dm, dlo, dhi, dn = paired_interval(runs[metric], ref)
            default = bool(runs["is_default"].iloc[0])
            rows.append({**dict(zip(by, group)), "position": position, "label": label, "is_default": default,
                         "n": n, "mean": m, "ci_low": lo, "ci_high": hi,
                         "diff_mean": dm, "diff_low": dlo, "diff_high": dhi,
                         "effect": "default" if default else effect(dlo, dhi, dn),
                         "anchor_label_acc": float(runs["anchor_label_acc"].mean())
                         if "anchor_label_acc" in runs else float("nan"),
                         "triplets_per_step": float(runs["triplets_per_step"].mean())
                         if "triplets_per_step" in runs else float("nan")})
    return pd.DataFrame(rows)


def ablation_summary(results: pd.DataFrame, metric: str = "4-CAT") -> pd.DataFrame:
    """:func:`paired_effects` per factor and direction: ``factor, direction, position, label,
    is_default, n, mean, ci_low, ci_high, diff_mean, diff_low, diff_high, effect,
    anchor_label_acc, triplets_per_step``."""
    return paired_effects(results, ("factor", "direction"), metric)


def _fmt_interval(m: float, lo: float, hi: float) -> str:
    return f"{m:+.1f}" if np.isnan(lo) else f"{m:+.1f} [{lo:+.1f}, {hi:+.1f}]"


def reading(summary: pd.DataFrame, factor: str, metric: str = "4-CAT") -> str:
    """One sentence saying what an ablation shows, generated from its paired differences: each
    non-default value's difference from the default with its 95 % interval, and which of them (if
    any) lie wholly above or below 0."""
    part = summary[summary["factor"] == factor]
    if part.empty:
        return f"The {factor} ablation was not run."
    clauses = []
    for direction, rows in part.groupby("direction", sort=False):
        default = rows[rows["is_default"]]["label"].iloc[0]
        others = rows[~rows["is_default"]]
        n = int(rows["n"].max())
        listed = ", ".join(f"{r.label}: {_fmt_interval(r.diff_mean, r.diff_low, r.diff_high)}"
                           for r in others.itertuples())
        if others["diff_low"].isna().all():
            clauses.append(f"in {direction} the {n} seed{'s' if n != 1 else ''} give no interval "
                           f"(differences from the default {default}: {listed} points)")
            continue
        clear = others[others["effect"].isin(["higher", "lower"])]
        if clear.empty:
            clauses.append(f"in {direction} no value differed clearly from the default {default} "
                           f"(paired differences {listed} points; every 95 % interval includes 0; {n} seeds)")
        else:
            said = " and ".join(f"{r.label} {'raised' if r.effect == 'higher' else 'lowered'} it" for r in clear.itertuples())
            clauses.append(f"in {direction}, against the default {default}, {said} "
                           f"(paired differences {listed} points; {n} seeds)")
    name = TITLES[factor].split(",")[0].split(" (")[0]
    lead = ("With the true target labels standing in for pseudo-labels (a diagnostic, not a transfer result), "
            if factor in DIAGNOSTIC else f"Varying {name}, ")
    return lead + f"{metric} UAR: " + "; ".join(clauses) + "."


def main_clustering_k(paths) -> int:
    """The number of clusters of notebook 02's AG model."""
    return int(ClusteringRun.load(paths.ag_clusters).k)


def k_variant_data(paths, params: dict, ks, *, progress: bool = True) -> dict[int, Path]:
    """Training data for AG clusterings with each k of ``ks``: k -> training data folder.

    The k of notebook 02's model uses its training data (``training/``). Any other k is fitted by
    :func:`agcc.stages.ag_clustering` with notebook 02's options but that k into
    ``ablations/k<k>/ag_clusters``, and its training data (:func:`agcc.train.cached_training_data`)
    go to ``ablations/k<k>/training``; both are cached. k changes only the groupings (each token's
    cluster and the centroid distances), so a variant's frames are those of ``training/``: a
    digest-checked reference to its ``frames.npy``, not a copy (about 7 GB per k at paper scale).
    """
    main_k = main_clustering_k(paths)
    out, segments = {}, None
    for k in sorted({int(k) for k in ks}):
        if k == main_k:
            out[k] = paths.root / "training"
            continue
        segments = segments or SegmentSet.load(paths.segments)
        out[k] = _regrouped(paths, params, segments, k, paths.root / "ablations" / f"k{k}", progress)
    return out


def _regrouped(paths, params: dict, segments, k: int, folder: Path, progress: bool) -> Path:
    """An AG clustering of ``params`` with ``k`` clusters in ``folder/ag_clusters`` and its
    training data in ``folder/training``, whose frames are a reference to ``training/``'s (only
    the groupings differ); returns the training data folder."""
    ag_clustering(params, paths, segments, k=k, folder=folder / "ag_clusters")
    cached_training_data(paths, params, progress, ag_clusters=folder / "ag_clusters", folder=folder / "training",
                         frames_of=paths.root / "training")
    return folder / "training"


def speaker_norm_variant_data(paths, params: dict, values, *, progress: bool = True) -> dict[str, Path]:
    """Training data for AG clusterings on raw and per-speaker normalised landmarks: value of
    ``ag_speaker_norm`` -> training data folder. The profile's own value uses notebook 02's
    (``training/``); the other is fitted like notebook 02's model, with its k
    (:func:`agcc.stages.clustering_options`), into ``ablations/norm_<value>/`` (cached); like a k
    variant it changes only the groupings, so its frames are a reference to ``training/``'s."""
    main_k, out, segments = main_clustering_k(paths), {}, None
    for value in values:
        if value == params["ag_speaker_norm"]:
            out[value] = paths.root / "training"
            continue
        segments = segments or SegmentSet.load(paths.segments)
        out[value] = _regrouped(paths, {**params, "ag_speaker_norm": value}, segments, main_k,
                                paths.root / "ablations" / f"norm_{value}", progress)
    return out


def seeds_of(params: dict) -> list[int]:
    """The ablation seeds: the first ``ablation_seeds`` of notebook 05's (0 = all ``n_seeds``)."""
    n = params["ablation_seeds"] or params["n_seeds"]
    return list(range(params["seed"], params["seed"] + n))


def directions_of(params: dict) -> list[str]:
    """The cross-corpus directions of the ablations (``ablation_directions``)."""
    out = list(params["ablation_directions"])  # typed and checked against profiles.yml's choices
    allowed = cross_directions()
    bad = [d for d in out if d not in allowed]
    if bad or not out:
        raise ValueError(f"ablation_directions must list cross-corpus directions ({', '.join(allowed)}), "
                         f"got {params['ablation_directions']!r}")
    return out


def reference_levels(runs: pd.DataFrame, model: str = "Source only", metric: str = "4-CAT") -> dict:
    """direction -> (mean, low, high) of ``model``'s ``metric`` over the seeds of ``runs`` (the
    reference line of the ablation plots)."""
    part = runs[runs["model"] == model]
    return {d: t_interval(rows[metric])[:3] for d, rows in part.groupby("direction", sort=False)}
