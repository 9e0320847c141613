"""Sensitivity of AG-CC's gain to the corpora: a study only the simulated corpora allow.

The paper's premise (Sec. I) is that acoustic features are "vulnerable to noise, microphone
quality, and recording environment variations", while mouth articulation is more stable, so that
AG clusters are better anchors than acoustics. On real corpora neither side can be dialled; the
simulator (:mod:`agcc.simulate`) has a knob for each:

* ``sim_channel_shift``: how far the MSP-IMPROV-like recording channel (microphone response,
  reverberation, noise) departs from CREMA-D's clean one -- the acoustic mismatch;
* ``sim_landmark_noise``: the landmark tracking noise of both corpora -- how unreliable the
  articulatory view is;
* ``sim_improv_intensity``: how strongly the MSP-IMPROV-like speakers express emotion;
* ``sim_articulatory_deviation``: how far the articulated vowels depart from the dictionary's
  label (token deviation and spontaneous substitutions; :class:`agcc.simulate.articulation.Realisation`).

The study asks the paper's open question -- when do articulatory clusters anchor better than the
vowel label? -- so its arms (:data:`ARMS`) are AG-CC and PA-CC, which differ only in how they
group the anchoring tokens, each with pseudo-labelled target anchors (the transfer setting) and with
the target corpus's *true* labels (``target_labels: oracle``, analysis only, never a transfer
result), beside source-only training. AG-CC's paired gain over PA-CC with oracle labels is what the
*data* allow the AG clusters to add; with pseudo-labels, what the method obtains from them
(:data:`COMPARISONS`).

Each *setting* changes one knob from the profile's own value (the *centre*, shared by every
knob) and re-runs the data pipeline of notebooks 01-02 -- simulation, features, vowel segments,
AG clustering with the profile's k -- on smaller corpora (``sens_*`` parameters) into its own
folder ``sensitivity/<setting>/`` (:func:`agcc.stages.prepare_artifacts`, cached). Source only, PA-CC and
AG-CC are then trained on every setting with the same seeds and the gamma notebooks 05-06 chose
on the main corpora (the oracle arms take their method's; :func:`sensitivity_design`), and AG-CC's
gain over each baseline is read as a difference paired by seed (:func:`sensitivity_gains`, with
:func:`agcc.stats.paired_interval`).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from . import methods as registry
from .corpora import corpora
from .ablations import effect
from .grid import task_key
from .io import parallel_map
from .stages import prepare_artifacts
from .stats import paired_interval, t_interval
from .train import TrainConfig, TrainingData, canonical, task_for

KNOBS = {"channel_shift": "sim_channel_shift", "landmark_noise": "sim_landmark_noise",
         "improv_intensity": "sim_improv_intensity", "articulatory_deviation": "sim_articulatory_deviation"}
TITLES = {"channel_shift": "acoustic channel shift (sim_channel_shift)",
          "landmark_noise": "landmark tracking noise (sim_landmark_noise)",
          "improv_intensity": "MSP-IMPROV-like emotion intensity (sim_improv_intensity)",
          "articulatory_deviation": "articulatory deviation from the dictionary (sim_articulatory_deviation)"}
AG = registry.proposed()
# the study's arms: a registered method (agcc.methods) and the emotion of its target anchors,
# "pseudo" (the transfer setting) or "oracle" (the true target labels: analysis only). The proposed
# method against the reference without alignment and against the baseline that differs from it only
# by its anchors' grouping (PA-CC: the vowel label), the latter two also with oracle labels.
ARMS = (("Source only", "pseudo"), ("PA-CC", "pseudo"), (AG, "pseudo"), ("PA-CC", "oracle"), (AG, "oracle"))


def arm_name(method: str, labels: str) -> str:
    """How an arm is named in the tables: the method, with `` (oracle)`` for true target labels."""
    return method if labels == "pseudo" else f"{method} (oracle)"


METHODS = tuple(dict.fromkeys(m for m, _ in ARMS))  # the registered methods the arms train
# AG-CC's paired comparisons (reference arm, baseline arm): over PA-CC with pseudo-labels (what the
# method obtains), over PA-CC with oracle labels on both sides (what the data allow), over source only
COMPARISONS = ((AG, "PA-CC"), (arm_name(AG, "oracle"), arm_name("PA-CC", "oracle")), (AG, "Source only"))
# the corpus sizes of a setting, from the sens_* parameters
SIZES = {"sim_crema_actors": "sens_crema_actors", "sim_crema_sentences": "sens_crema_sentences",
         "sim_improv_sessions": "sens_improv_sessions", "sim_improv_per_speaker": "sens_improv_per_speaker"}


def setting_name(values: dict) -> str:
    """Folder name of a setting, e.g. ``shift1_noise1_intensity0.5`` (``_deviation<v>`` appended
    when the articulatory deviation is among ``values``)."""
    name = (f"shift{values['sim_channel_shift']:g}_noise{values['sim_landmark_noise']:g}"
            f"_intensity{values['sim_improv_intensity']:g}")
    if "sim_articulatory_deviation" in values:
        name += f"_deviation{values['sim_articulatory_deviation']:g}"
    return name


def sensitivity_settings(params: dict) -> pd.DataFrame:
    """The settings of the study: one row per (knob, value), the centre (the profile's values)
    belonging to every knob. Columns ``knob, value, position, is_centre, name`` and the
    simulator parameters of :data:`KNOBS`. A knob whose ``sens_<knob>`` list is empty is not varied."""
    centre = {p: params[p] for p in KNOBS.values()}
    rows = []
    for knob, param in KNOBS.items():
        if not params[f"sens_{knob}"]:
            continue
        values = sorted(set(params[f"sens_{knob}"]) | {centre[param]})
        for position, value in enumerate(values):
            sim = {**centre, param: value}
            rows.append({"knob": knob, "value": value, "position": position, "is_centre": value == centre[param],
                         "name": setting_name(sim), **sim})
    return pd.DataFrame(rows, columns=["knob", "value", "position", "is_centre", "name", *KNOBS.values()])


def setting_params(params: dict, sim: dict) -> dict:
    """The parameters of one setting: the notebook's, with the simulator's knobs from ``sim`` and
    the corpus sizes from the ``sens_*`` parameters (real corpora are never used)."""
    out = dict(params)
    out.update({name: params[source] for name, source in SIZES.items()})
    out.update({k: sim[k] for k in KNOBS.values() if k in sim})  # a knob not in sim keeps the profile value
    out.update({c.root_param: "" for c in corpora()}, require_real_corpora=False)
    return out


def _prepare_task(task: dict) -> tuple[str, str, float]:
    """Worker-process wrapper of :func:`agcc.stages.prepare_artifacts` (module level, so workers import it)."""
    data, seconds = prepare_artifacts(task["params"], task["root"], feature_cache=task["feature_cache"])
    return task["name"], str(data), seconds


def prepare_settings(params: dict, settings: pd.DataFrame, folder, *, progress: bool = True) -> pd.DataFrame:
    """:func:`agcc.stages.prepare_artifacts` for every distinct setting, under ``folder/<name>`` (one feature
    cache, ``folder/cache/features``, for all); returns one row per setting: ``name``, the knobs,
    ``data`` (training data folder), ``seconds``, ``utterances`` and ``tokens`` (used for training).

    Settings run in parallel, one per worker process (``params["workers"]``, 0 = one per core),
    each on one core: small corpora pay less for starting processes that way than with a pool per
    step of every setting."""
    unique = settings.drop_duplicates("name")
    sims = {row.name: {p: getattr(row, p) for p in KNOBS.values()} for row in unique.itertuples(index=False)}
    tasks = [{"name": name, "params": {**setting_params(params, sim), "workers": 1}, "root": str(Path(folder) / name),
              "feature_cache": str(Path(folder) / "cache" / "features")} for name, sim in sims.items()]
    done = parallel_map(_prepare_task, tasks, workers=params["workers"], desc="settings", unit="setting",
                        progress=progress, min_items=2, chunksize=1)
    rows = []
    for name, data, seconds in done:
        loaded = TrainingData.load(data)
        rows.append({"name": name, **sims[name], "data": data, "seconds": round(seconds, 1),
                     "utterances": len(loaded.utterances), "tokens": len(loaded.tokens)})
    return pd.DataFrame(rows)


def sensitivity_design(base: TrainConfig, gammas: dict, settings: pd.DataFrame, prepared: pd.DataFrame, *,
                       directions, seeds, arms=ARMS) -> pd.DataFrame:
    """Every run of the study: one row per (knob, value, arm, direction, seed), with the stored
    run's ``key`` and ``task``; ``method`` is the arm's name (:func:`arm_name`), ``labels`` its
    target labels. ``gammas`` maps (registered method, direction) to gamma (ignored for Source
    only; an oracle arm takes its method's)."""
    folder = dict(zip(prepared["name"], prepared["data"]))
    rows = []
    for s in settings.itertuples(index=False):
        for method, labels in arms:
            for direction in directions:
                cfg = replace(base, method=method, direction=direction, threads=1, target_labels=labels,
                              gamma=float(gammas.get((method, direction), base.gamma)))
                for seed in seeds:
                    task = task_for(canonical(replace(cfg, seed=int(seed))), folder[s.name])
                    rows.append({"knob": s.knob, "value": s.value, "position": s.position, "is_centre": s.is_centre,
                                 "name": s.name, "method": arm_name(method, labels), "labels": labels,
                                 "direction": direction, "seed": int(seed), "key": task_key(task), "task": task})
    return pd.DataFrame(rows)


def method_levels(results: pd.DataFrame, metric: str = "4-CAT") -> pd.DataFrame:
    """Mean and 95 % t-interval of ``metric`` per knob, value, direction and method."""
    rows = []
    keys = ["knob", "position", "value", "direction", "method"]
    for group, part in results.groupby(keys, sort=True):
        m, lo, hi, n = t_interval(part[metric])
        rows.append({**dict(zip(keys, group)), "n": n, "mean": m, "ci_low": lo,
                     "ci_high": hi, "anchor_label_acc": float(part["anchor_label_acc"].mean())})
    return pd.DataFrame(rows)


def sensitivity_gains(results: pd.DataFrame, metric: str = "4-CAT", comparisons=COMPARISONS) -> pd.DataFrame:
    """Each comparison's reference arm minus its baseline arm on the same setting, direction and
    seed (:func:`agcc.stats.paired_interval`): ``knob, position, value, direction, reference,
    baseline, comparison, n, diff_mean, ci_low, ci_high, effect`` (``higher``: the 95 % interval
    lies above 0, ``lower``: below, ``no clear difference``: it includes 0;
    :func:`agcc.ablations.effect`). A comparison whose arms were not run is left out."""
    rows = []
    keys = ["knob", "position", "value", "direction"]
    for group, part in results.groupby(keys, sort=True):
        for reference, baseline in comparisons:
            if not {reference, baseline} <= set(part["method"]):
                continue
            ref = part[part["method"] == reference].set_index("seed")[metric]
            other = part[part["method"] == baseline].set_index("seed")[metric]
            m, lo, hi, n = paired_interval(ref, other)
            rows.append({**dict(zip(keys, group)), "reference": reference, "baseline": baseline,
                         "comparison": f"{reference} − {baseline}", "n": n, "diff_mean": m,
                         "ci_low": lo, "ci_high": hi, "effect": effect(lo, hi, n)})
    return pd.DataFrame(rows)


def sensitivity_reading(gains: pd.DataFrame, knob: str, metric: str = "4-CAT") -> str:
    """One sentence per knob, generated from the gains: how AG-CC's gain over each baseline moves
    from the knob's lowest to its highest value, and where its interval excludes 0."""
    part = gains[gains["knob"] == knob]
    if part.empty:
        return f"The {knob} setting was not varied."
    clauses = []
    for (direction, reference, baseline), rows in part.groupby(["direction", "reference", "baseline"], sort=False):
        rows = rows.sort_values("value")
        first, last = rows.iloc[0], rows.iloc[-1]
        clear = rows[rows["effect"].isin(["higher", "lower"])]
        where = ("its 95 % interval includes 0 at every value" if clear.empty else
                 "; ".join(f"{'above' if r.effect == 'higher' else 'below'} 0 at {r.value:g}"
                           for r in clear.itertuples()))
        span = ("no interval (one seed)" if rows["ci_low"].isna().all() else where)
        clauses.append(f"of {reference} over {baseline} in {direction} goes from {first.diff_mean:+.1f} at "
                       f"{first.value:g} to {last.diff_mean:+.1f} at {last.value:g} ({span})")
    return (f"As the {TITLES[knob].split(' (')[0]} varies, the {metric} gain " + "; ".join(clauses) + ".")
