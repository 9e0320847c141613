"""Table II (Sec. IV): this run's cells beside the paper's, AG-CC against each baseline paired by
seed, the upper bounds against the cross-corpus models, and the paper's claims on them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import methods, paper
from ..corpora import cross_directions, upper_bound_pairs, within_directions
from ..vocab import METRICS
from ..stats import (CANNOT, FAILS, HOLDS, NOT_SHOWN, combine, comparison_power, finite, interval_verdict,
                     welch_interval)
from .artifacts import read_csv_artifact
from .claims import Claim

# The models and baselines of Table II, from the registered methods (agcc.methods), imported by the
# rest of the report (the directions and upper bounds derive from the registered corpora, agcc.corpora).
MODELS = methods.names()  # Table II's rows, in the registry's order (agcc.methods)
BASELINES = methods.names("baseline")  # the paper's comparisons of AG-CC (Table II)
RUNS_COLUMNS = ("model", "direction", "seed", *METRICS, "val_uar", "best_epoch", "wall_s", "gamma")
SUMMARY_COLUMNS = ("model", "direction", "metric", "mean", "ci_low", "ci_high", "n")
PAIRED_COLUMNS = ("baseline", "direction", "metric", "diff_mean", "ci_low", "ci_high", "n")


@dataclass
class TableII:
    """The Table II artifacts of notebooks 05-06 (each ``None`` when missing) and why."""

    runs: pd.DataFrame | None
    summary: pd.DataFrame | None
    paired: pd.DataFrame | None
    why: dict


def read_table_ii(paths) -> TableII:
    """Read ``table_ii_runs.csv``, ``table_ii.csv`` and ``table_ii_paired.csv``."""
    runs, w1 = read_csv_artifact(paths, "table_ii_runs", RUNS_COLUMNS[:3] + METRICS)
    summary, w2 = read_csv_artifact(paths, "table_ii", SUMMARY_COLUMNS)
    paired, w3 = read_csv_artifact(paths, "table_ii_paired", PAIRED_COLUMNS)
    return TableII(runs, summary, paired, {"runs": w1, "summary": w2, "paired": w3})


def _row_order(frame: pd.DataFrame) -> pd.DataFrame:
    rank = {m: i for i, m in enumerate(MODELS)}
    order = {d: i for i, d in enumerate(within_directions() + cross_directions())}
    key = frame["model"].map(lambda m: rank.get(m, len(rank))) * 10 + frame["direction"].map(
        lambda d: order.get(d, 9))
    return frame.assign(_k=key).sort_values(["_k", "model", "direction"]).drop(columns="_k")


def table_ii_long(summary: pd.DataFrame | None) -> pd.DataFrame:
    """Measured and paper value of every Table II cell: columns ``model, direction, metric, n,
    mean, ci_low, ci_high, paper, measured - paper, paper in interval``. Cells of the paper that
    this run lacks appear with NaN measured values; cells this run adds (e.g. "Source only")
    with NaN paper values."""
    ref = paper.table_ii().reset_index().melt(id_vars=["model", "direction"], var_name="metric",
                                              value_name="paper")
    if summary is None:
        summary = pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    out = summary[list(SUMMARY_COLUMNS)].merge(ref, on=["model", "direction", "metric"], how="outer")
    out["measured - paper"] = out["mean"] - out["paper"]
    known = out[["ci_low", "ci_high", "paper"]].notna().all(axis=1)
    bounds = out[["ci_low", "paper", "ci_high"]].astype(float).fillna(0.0)
    inside = (bounds["ci_low"] <= bounds["paper"]) & (bounds["paper"] <= bounds["ci_high"])
    out["paper in interval"] = np.where(known, np.where(inside, "yes", "no"), "")
    out["metric"] = pd.Categorical(out["metric"], METRICS, ordered=True)
    return _row_order(out.sort_values("metric")).reset_index(drop=True)


def table_ii_wide(long: pd.DataFrame, what: str = "measured", digits: int = 2) -> pd.DataFrame:
    """Table II laid out as the paper's (rows model x direction, columns the five metrics).

    ``what``: ``"measured"`` (``mean [low, high]``), ``"paper"`` or ``"delta"`` (measured - paper)."""
    def cell(r):
        if what == "paper":
            return "" if pd.isna(r["paper"]) else f"{r['paper']:.{digits}f}"
        if what == "delta":
            return "" if pd.isna(r["measured - paper"]) else f"{r['measured - paper']:+.{digits}f}"
        if pd.isna(r["mean"]):
            return "not run"
        if pd.isna(r["ci_low"]) or pd.isna(r["ci_high"]):
            return f"{r['mean']:.{digits}f} (n = {int(r['n'])})"
        return f"{r['mean']:.{digits}f} [{r['ci_low']:.{digits}f}, {r['ci_high']:.{digits}f}]"

    if long.empty:
        return pd.DataFrame(columns=list(METRICS))
    frame = long.assign(cell=long.apply(cell, axis=1))
    wide = frame.pivot_table(index=["model", "direction"], columns="metric", values="cell",
                             aggfunc="first", observed=False)
    wide = wide.reindex(columns=[m for m in METRICS if m in wide.columns])
    order = _row_order(wide.reset_index()[["model", "direction"]])
    return wide.reindex(pd.MultiIndex.from_frame(order)).fillna("")


def paper_difference(baseline: str, direction: str, metric: str, model: str = "AG-CC") -> float:
    """``model - baseline`` in the paper's Table II (NaN when a cell is absent)."""
    t = paper.table_ii()
    try:
        return float(t.loc[(model, direction), metric] - t.loc[(baseline, direction), metric])
    except KeyError:
        return float("nan")


def paired_comparisons(paired: pd.DataFrame | None, baselines=BASELINES, directions=None,
                       metrics=METRICS) -> pd.DataFrame:
    """AG-CC minus each baseline per direction and metric: measured mean difference and interval
    (from ``table_ii_paired.csv``), the paper's difference, a verdict on "AG-CC is better", and
    the power of the comparison: ``mde``, the smallest difference these seeds detect with 80 %
    power at the 5 % level, and ``seeds for paper``, the seeds the paper's difference would need
    (:mod:`agcc.stats`; from the paired differences' standard deviation ``sd``)."""
    rows = []
    for baseline in baselines:
        for direction in cross_directions() if directions is None else directions:
            for metric in metrics:
                r = None
                if paired is not None:
                    hit = paired[(paired["baseline"] == baseline) & (paired["direction"] == direction)
                                 & (paired["metric"] == metric)]
                    r = hit.iloc[0] if len(hit) else None
                if r is None:
                    verdict, why = CANNOT, ("table_ii_paired.csv missing" if paired is None
                                            else "no such row in table_ii_paired.csv")
                    diff = low = high = n = sd = np.nan
                else:
                    diff, low, high, n = (float(r["diff_mean"]), float(r["ci_low"]),
                                          float(r["ci_high"]), r["n"])
                    sd = float(r["sd"]) if "sd" in r.index else np.nan
                    verdict, why = interval_verdict(low, high, n)
                ref = paper_difference(baseline, direction, metric)
                mde = need = np.nan
                if finite(sd, n):
                    mde, need, note = comparison_power(sd, int(n), ref, (low, high))
                    if verdict != CANNOT:
                        why += "; " + note
                rows.append({"baseline": baseline, "direction": direction, "metric": metric,
                             "paper": ref, "measured": diff, "ci_low": low, "ci_high": high, "n": n,
                             "mde": mde, "seeds for paper": need, "verdict": verdict, "why": why})
    return pd.DataFrame(rows)


def paired_wide(pairs: pd.DataFrame, what: str = "paper", digits: int = 2) -> pd.DataFrame:
    """:func:`paired_comparisons` laid out like Table II (rows baseline x direction, columns the
    metrics): ``what`` is ``"paper"`` (the paper's AG-CC - baseline) or ``"measured"``."""
    frame = pairs.assign(metric=pd.Categorical(pairs["metric"], METRICS, ordered=True))
    wide = frame.pivot_table(index=["baseline", "direction"], columns="metric", values=what,
                             aggfunc="first", observed=False, dropna=False).round(digits)
    order = [(b, d) for b in BASELINES for d in cross_directions() if (b, d) in wide.index]
    return wide.reindex(order)


def _fmt_diff(x) -> str:
    return "-" if not finite(x) else f"{x:+.2f}"


def table_ii_claims(paired_table: pd.DataFrame, runs: pd.DataFrame | None, why_runs: str = "") -> list[Claim]:
    """The paper's claims on Table II (Sec. IV)."""
    claims = []
    words = {m: f"{methods.get(m).description} ({m})" for m in BASELINES}
    k = 0
    for baseline in BASELINES:
        for direction in cross_directions():
            k += 1
            r = paired_table[(paired_table["baseline"] == baseline) & (paired_table["direction"] == direction)
                             & (paired_table["metric"] == "4-CAT")].iloc[0]
            text = f"AG-CC beats {words[baseline]} in 4-class UAR, {direction}."
            stated = paper.text_gains().get((baseline, direction))
            if stated is not None and abs(stated - r["paper"]) > 0.005:
                text += f" (The text says {stated:+.2f}; the table gives {r['paper']:+.2f}.)"
            measured = ("-" if not finite(r["measured"]) else
                        f"{r['measured']:+.2f}" + ("" if not finite(r["ci_low"], r["ci_high"])
                                                   else f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]")
                        + (f" (n = {int(r['n'])})" if finite(r["n"]) else ""))
            claims.append(Claim(f"T2-{k}", "Table II", text,
                                "paired difference over seeds, 95 % t interval above zero",
                                _fmt_diff(r["paper"]), measured, r["verdict"], r["why"]))
    binary = paired_table[paired_table["metric"] != "4-CAT"]
    paper_best = _paper_binary_best()
    verdict = combine(binary["verdict"])
    counts = binary["verdict"].value_counts()
    claims.append(Claim(
        "T2-7", "Table II", "AG-CC outperforms all other models in the binary (one-vs-rest) "
        "per-emotion columns.",
        "AG-CC minus each of PA-CC, LA-CC, Hard-AG, per direction and emotion (24 comparisons): "
        "every 95 % interval above zero",
        f"AG-CC highest in {paper_best} of 8 binary columns of the paper's own table",
        ", ".join(f"{n} {v}" for v, n in counts.items()), verdict,
        "every comparison holds" if verdict == HOLDS else
        f"{int(counts.get(FAILS, 0))} below zero, {int(counts.get(NOT_SHOWN, 0))} include zero, "
        f"{int(counts.get(CANNOT, 0))} without interval",
        detail=binary.reset_index(drop=True)))
    claims.append(upper_bound_claim(runs, why_runs))
    return claims


def _paper_binary_best() -> int:
    t = paper.table_ii()
    cross = t[t.index.get_level_values("model").isin(methods.names(("proposed", "baseline")))]
    best = 0
    for direction in cross_directions():
        part = cross.xs(direction, level="direction")
        best += int(sum(part[m].idxmax() == "AG-CC" for m in METRICS[1:]))
    return best


def upper_bound_comparisons(runs: pd.DataFrame | None, metric: str = "4-CAT") -> pd.DataFrame:
    """Upper bound of each target corpus minus every cross-corpus model into it (unpaired, Welch
    interval over seeds): C->C against the I->C runs, I->I against the C->I runs."""
    rows = []
    models = methods.names(within=False)
    for ub_dir, cross_dir in upper_bound_pairs():
        for model in models:
            if runs is None:
                a = b = np.array([])
            else:
                a = runs[(runs["model"] == "Upper Bound") & (runs["direction"] == ub_dir)][metric].to_numpy(float)
                b = runs[(runs["model"] == model) & (runs["direction"] == cross_dir)][metric].to_numpy(float)
            if runs is not None and b.size == 0 and methods.get(model).role == "added":
                continue  # a run without a source-only baseline: nothing to show
            diff, low, high, n = welch_interval(a, b)
            if a.size == 0 or b.size == 0:
                verdict, why = CANNOT, "no runs" if runs is not None else "table_ii_runs.csv missing"
            else:
                verdict, why = interval_verdict(low, high, n)
            ref = float("nan")
            t = paper.table_ii()
            if ("Upper Bound", ub_dir) in t.index and (model, cross_dir) in t.index:
                ref = float(t.loc[("Upper Bound", ub_dir), metric] - t.loc[(model, cross_dir), metric])
            rows.append({"upper bound": ub_dir, "model": model, "direction": cross_dir,
                         "paper": ref, "measured": diff, "ci_low": low, "ci_high": high, "n": n,
                         "verdict": verdict, "why": why})
    return pd.DataFrame(rows)


def upper_bound_claim(runs: pd.DataFrame | None, why: str = "") -> Claim:
    """Table II's upper bounds (in-corpus) lie above every cross-corpus result into that corpus."""
    detail = upper_bound_comparisons(runs)
    verdict = combine(detail["verdict"])
    measured = "-"
    if detail["measured"].notna().any():
        measured = (f"{detail['measured'].min():+.2f} to {detail['measured'].max():+.2f} "
                    "(upper bound minus cross-corpus, 4-CAT)")
    if runs is None:
        reason = why or "table_ii_runs.csv missing"
    elif verdict == HOLDS:
        reason = "every comparison holds"
    else:
        off = detail[detail["verdict"] != HOLDS]
        reason = "; ".join(f"{r.model} {r.direction}: {r.why}" for r in off.itertuples())
    return Claim("T2-8", "Table II", f"The in-corpus upper bounds ({', '.join(within_directions())}) lie above "
                 "the cross-corpus results into the same corpus.",
                 "upper bound minus each cross-corpus model, 4-CAT, Welch 95 % interval above zero",
                 f"{detail['paper'].min():+.2f} to {detail['paper'].max():+.2f}", measured, verdict,
                 reason, detail=detail)


def runs_overview(runs: pd.DataFrame | None) -> pd.DataFrame:
    """Per model and direction: seeds, mean source-validation UAR, best epoch, wall time and
    gamma of the training runs (``table_ii_runs.csv``)."""
    if runs is None or runs.empty:
        return pd.DataFrame(columns=["model", "direction", "seeds", "val UAR", "best epoch",
                                     "wall s (mean)", "gamma"])
    wanted = {"val UAR": ("val_uar", "mean"), "best epoch": ("best_epoch", "mean"),
              "wall s (mean)": ("wall_s", "mean"),
              "gamma": ("gamma", lambda g: ", ".join(f"{x:g}" for x in sorted(set(g.dropna()))))}
    present = {k: v for k, v in wanted.items() if v[0] in runs.columns}  # optional columns
    out = runs.groupby(["model", "direction"]).agg(seeds=("seed", "nunique"), **present).reset_index()
    return _row_order(out).reset_index(drop=True)


def paper_inconsistencies() -> list[str]:
    """Where the paper's text and its own Table II disagree, computed from the paper's values."""
    notes = []
    for (baseline, direction), stated in paper.text_gains().items():
        table = paper_difference(baseline, direction, "4-CAT")
        if abs(stated - table) > 0.005:
            t = paper.table_ii()
            notes.append(f"AG-CC over {baseline}, {direction}: {stated:+.2f} in the text, "
                         f"{t.loc[('AG-CC', direction), '4-CAT']:.2f} - "
                         f"{t.loc[(baseline, direction), '4-CAT']:.2f} = {table:+.2f} in the table")
    best = _paper_binary_best()
    if best < 2 * (len(METRICS) - 1):
        notes.append(f"the text says AG-CC \"outperforms all other models\" in the binary tasks; "
                     f"its table has AG-CC highest in {best} of {2 * (len(METRICS) - 1)} binary columns")
    return notes
