"""The report's opening: what this run reproduced, how closely, on which data, with which setup
differences from the paper, and what the ablations and the sensitivity study found — every
sentence generated from the run's artifacts and parameters.

The paper's setup is its text (Sec. II-A corpora, Sec. IV training: wav2vec2 features, Adam at
1e-4 for up to 70 epochs, batch 64) as encoded in the ``paper`` profile of
``agcc/profiles/profiles.yml``; where the paper is silent (the transformer's size, the seeds),
that profile holds this book's reading, and the table says so.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from .. import paper
from ..corpora import get
from ..params import resolve
from ..stats import HOLDS, RULED_OUT, finite
from ..vocab import FOUR_CLASSES
from .artifacts import artifact, is_simulated
from .claims import Claim, verdict_counts
from .table_ii import METRICS, _row_order

# (what, parameter names, whether the paper states it): the settings a reader weighs Table II by.
SETUP = (
    ("acoustic features", ("features", "n_mels"), True),
    ("transformer (width, layers, feed-forward)", ("d_model", "n_layers", "d_ff"), False),
    ("frames pooled before the transformer", ("frame_pool",), False),
    ("learning rate, weight decay", ("lr", "weight_decay"), True),
    ("epochs (most), early-stopping patience", ("max_epochs", "patience"), False),
    ("learning-rate schedule, model kept", ("lr_schedule", "model_selection"), False),
    ("cross-corpus runs start from (fine-tuning epochs)", ("init", "finetune_epochs"), False),
    ("batch size", ("batch_size",), True),
    ("AG clusters k", ("n_ag_clusters",), True),
    ("training seeds per cell", ("n_seeds",), False),
)


def run_params(params: Mapping) -> dict:
    """The run's parameters: those the report notebook was given, completed from its profile."""
    return {**resolve(params.get("profile", "default")), **params}


def _value(params: Mapping, names: Iterable[str]) -> str:
    names = list(names)
    if names[:1] == ["features"] and params.get("features") != "logmel":
        names = ["features"]  # the mel bands matter only for log-mel features
    if names[:1] == ["init"] and params.get("init") == "scratch":
        names = ["init"]  # fine-tuning epochs matter only when fine-tuning
    return ", ".join(f"{params[n]:g}" if isinstance(params.get(n), float) else str(params.get(n, "?"))
                     for n in names)


def corpus_sizes(utterances: pd.DataFrame | None) -> dict[str, tuple[int, int]]:
    """``{corpus: (speakers, utterances)}`` of the run's four-class utterances."""
    if utterances is None or utterances.empty or "speaker" not in utterances:
        return {}
    four = utterances[utterances["emotion"].isin(FOUR_CLASSES)]
    return {c: (int(p["speaker"].nunique()), len(p)) for c, p in four.groupby("corpus")}


def setup_differences(params: Mapping, utterances: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per setting a reader weighs Table II by: ``setting``, ``paper`` (the paper's
    value, or this book's reading of it where the paper is silent, marked so), ``this run`` and
    ``differs`` ("yes"/"no"). ``params`` as :func:`run_params` returns them."""
    ref = resolve("paper")
    rows = []
    sizes = corpus_sizes(utterances)
    for code, spec in paper.corpora().items():
        if code not in sizes:
            continue
        speakers, n = sizes[code]
        kind = "simulated " if is_simulated(params) else ""
        rows.append({"setting": f"{get(code).display}: speakers, four-class utterances",
                     "paper": spec["words"], "this run": f"{kind}{speakers} speakers, {n} utterances",
                     "differs": "yes" if is_simulated(params) or n < 0.9 * spec["utterances"] else "no"})
    for what, names, stated in SETUP:
        mine, theirs = _value(params, names), _value(ref, names)
        rows.append({"setting": what, "paper": theirs + ("" if stated else " (not stated; the book's reading)"),
                     "this run": mine, "differs": "yes" if mine != theirs else "no"})
    return pd.DataFrame(rows, columns=["setting", "paper", "this run", "differs"])


def closeness(long: pd.DataFrame) -> str:
    """How close this run's Table II is to the paper's (:func:`agcc.report.table_ii_long`): the
    mean absolute difference over the cells both have, its range, and in how many cells the
    paper's value lies inside the measured 95 % interval."""
    both = long.dropna(subset=["mean", "paper"])
    if both.empty:
        return "no Table II cell was measured"
    delta = both["measured - paper"].astype(float)
    judged = both[both["paper in interval"] != ""]
    inside = int((judged["paper in interval"] == "yes").sum())
    text = (f"the measured UAR lies {delta.mean():+.1f} points from the paper's on average over "
            f"{len(both)} cells (from {delta.min():+.1f} to {delta.max():+.1f})")
    if len(judged):
        text += f"; the paper's value is inside the measured 95 % interval in {inside} of {len(judged)}"
    return text


def ablation_finding(summary: pd.DataFrame | None, why: str = "") -> str:
    """One sentence on the ablations (``tables/ablations.csv``): how many settings moved 4-CAT UAR
    clearly away from AG-CC's default (paired 95 % interval off zero), and which."""
    if summary is None or summary.empty:
        return f"The ablations are not available in this build ({why or 'no tables/ablations.csv'})."
    varied = summary[summary["effect"] != "default"]
    clear = varied[varied["effect"].isin(["higher", "lower"])]
    no_interval = int((varied["effect"] == "no interval").sum())
    factors = summary["factor"].nunique()
    text = (f"Of {len(varied)} settings of {factors} factors varied one at a time (each against AG-CC's "
            f"default on the same seeds), ")
    if clear.empty:
        text += "none moved the 4-class UAR clearly"
    else:
        named = ", ".join(f"{r.factor} = {r.label} ({r.direction}, {r.diff_mean:+.1f})" for r in clear.itertuples())
        text += f"{len(clear)} moved the 4-class UAR clearly: {named}"
    if no_interval:
        text += f"; {no_interval} have no interval (too few seeds)"
    return text + "."


def sensitivity_finding(gains: pd.DataFrame | None, why: str = "") -> str:
    """One sentence on the sensitivity study (``tables/sensitivity_gains.csv``): per knob, each
    comparison's paired 4-CAT difference (AG-CC over PA-CC with pseudo-labels, the same with oracle
    labels on both sides, AG-CC over source only) at the knob's lowest and highest value (mean over
    the directions), and how many differences have an interval above and below zero."""
    if gains is None or gains.empty:
        return f"The sensitivity study is not available in this build ({why or 'no tables/sensitivity_gains.csv'})."
    parts = []
    for knob, part in gains.groupby("knob", sort=False):
        values = sorted(part["value"].unique())
        moves = []
        for (reference, baseline), rows in part.groupby(["reference", "baseline"], sort=False):
            by_value = rows.groupby("value")["diff_mean"].mean()
            moves.append(f"{reference} over {baseline} {by_value[values[0]]:+.1f} → {by_value[values[-1]]:+.1f}")
        parts.append(f"as the {knob.replace('_', ' ')} goes from {values[0]:g} to {values[-1]:g}, "
                     + ", ".join(moves))
    above, below = (int((gains["effect"] == e).sum()) for e in ("higher", "lower"))
    return ("The paired 4-class gains (points, mean over directions) move " + "; ".join(parts)
            + f" — of {len(gains)} paired gains, the 95 % interval lies above zero for {above} and below zero for {below}.")


def _reproduced(present: Iterable[str]) -> str:
    present = list(present)
    return ", ".join(present) if present else "nothing yet"


def opening(params: Mapping, claims: list[Claim], long: pd.DataFrame, *, utterances=None,
            present: Iterable[str] = (), ablations=None, sensitivity=None,
            why_ablations: str = "", why_sensitivity: str = "") -> str:
    """The report's first paragraphs (Markdown): what was reproduced, on which data, with which
    setup differences (:func:`setup_differences`), how closely (the verdicts in one line and
    :func:`closeness`), and the ablation and sensitivity findings in a sentence each."""
    counts = verdict_counts(claims)
    sizes = corpus_sizes(utterances)
    data = ("the **real corpora**" if not is_simulated(params) else "**simulated corpora** standing in for "
            "CREMA-D and MSP-IMPROV (the book's articulatory model and synthesizer, not the real recordings)")
    if sizes:
        data += " (" + "; ".join(f"{get(c).display}: {s} speakers, {n} utterances"
                                 for c, (s, n) in sizes.items()) + ")"
    t1 = [c for c in claims if c.id.startswith("T1")]
    t2 = [c for c in claims if c.id.startswith("T2")]
    held = lambda cs: sum(c.verdict == HOLDS for c in cs)  # noqa: E731
    setup = setup_differences(params, utterances)
    differing = setup[(setup["differs"] == "yes") & ~setup["setting"].str.contains(":")]  # corpora said above
    lines = [
        f"**What was reproduced.** This build regenerated {_reproduced(present)} of the paper on {data}, "
        f"profile `{params.get('profile', '?')}`.",
        "**Setup differences from the paper** (Table 9.1): " + ("none" if differing.empty else "; ".join(
            f"{what}: {mine} instead of {theirs.split(' (')[0]}"
            for what, mine, theirs in zip(differing["setting"], differing["this run"], differing["paper"]))) + ".",
        f"**How closely.** Of the paper's {int(counts.sum())} claims judged below, {int(counts[HOLDS])} "
        f"{'holds' if counts[HOLDS] == 1 else 'hold'} on this data ({held(t1)} of {len(t1)} on Table I, {held(t2)} of {len(t2)} on Table II); "
        f"on Table II {closeness(long)}." + _ruled_out(t2),
        *([f"**Difficulty.** {difficulty(long)}"] if is_simulated(params) else []),
        "**Ablations.** " + ablation_finding(ablations, why_ablations),
        "**Sensitivity.** " + sensitivity_finding(sensitivity, why_sensitivity),
    ]
    return "\n\n".join(lines)


def difficulty(long: pd.DataFrame) -> str:
    """How hard the simulated corpora were in this build, against the calibration targets (the
    paper's levels, :func:`agcc.simulate.calibrate.level_checks`): the upper bounds' and the
    source-only models' 4-class UAR per direction, each with its target and whether it is met."""
    from ..simulate.calibrate import RUNS, level_checks  # the data stages' imports, only when asked

    rows = long[[(m, d) in RUNS for m, d in zip(long["model"], long["direction"])]]
    if rows.empty:
        return "no upper bound or source-only run was measured, so the calibration cannot be checked."
    means = rows.pivot_table(index="direction", columns="metric", values="mean").reset_index()
    if not set(METRICS) <= set(means.columns):
        return "the upper bounds' and source-only models' metrics are incomplete, so the calibration cannot be checked."
    checks = level_checks(means)
    missed = checks.loc[~checks["ok"], "direction"].tolist()
    return ("Upper bounds and source only against the levels the simulator is calibrated to (4-class UAR, "
            "target in brackets): " + "; ".join(f"{r.direction} {r.measured:.1f} ({r.target}: "
                                                f"{'met' if r.ok else 'missed'})" for r in checks.itertuples())
            + (" — every target met." if not missed else f" — {len(missed)} of {len(checks)} missed "
               "(see *The simulated corpora*, calibration)."))


def _ruled_out(claims) -> str:
    """A sentence on the Table II claims whose measured interval excludes the paper's difference
    (:func:`agcc.stats.comparison_power`), '' if none."""
    out = [c.id for c in claims if RULED_OUT in c.why]
    if not out:
        return ""
    return (f" For {len(out)} of the {len(claims)} Table II comparisons ({', '.join(out)}) the measured 95 % interval "
            "excludes the paper's difference: an effect that large is ruled out on this data, not merely unseen.")


def interval_cell(mean, low, high, digits: int = 1, signed: bool = False) -> str:
    """``"57.4 [55.0, 59.8]"``, ``"57.4"`` without an interval, ``"–"`` without a value."""
    if not finite(mean):
        return "–"
    f = f"{{:{'+' if signed else ''}.{digits}f}}".format
    return f(mean) if not finite(low, high) else f"{f(mean)} [{f(low)}, {f(high)}]"


def _stacked(measured: str, paper_value, delta=None, digits: int = 1, signed: bool = False) -> str:
    """One cell: this run's value, and under it the paper's (and measured − paper), each on a
    line of its own so that the table fits the page (HTML; the page's CSS class ``agcc-paper``)."""
    theirs = "–" if not finite(paper_value) else f"{paper_value:{'+' if signed else ''}.{digits}f}"
    below = f"paper {theirs}" + ("" if delta is None else
                                 f"<br>Δ {'–' if not finite(delta) else f'{delta:+.{digits}f}'}")
    return f'{measured}<br><span class="agcc-paper">{below}</span>'


def table_ii_compare(long: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Table II as one table a reader can compare: rows model × direction, columns the metrics;
    per cell this run's mean, its [95 % interval] over seeds and, under them, the paper's value and
    Δ = measured − paper ("–" where one side has no such cell, e.g. the paper's source only).
    Cells are HTML (two lines), for :func:`agcc.pages.table`."""
    if long.empty:
        return pd.DataFrame()
    rows = {}
    for r in long.itertuples(index=False):
        delta = r[long.columns.get_loc("measured - paper")]  # not an identifier: read by position
        rows.setdefault((r.model, r.direction), {})[r.metric] = _stacked(
            interval_cell(r.mean, r.ci_low, r.ci_high, digits).replace(" [", "<br>["), r.paper, delta, digits)
    order = _row_order(pd.DataFrame(list(rows), columns=["model", "direction"]))
    index = pd.MultiIndex.from_frame(order)
    columns = [m for m in METRICS if any(m in v for v in rows.values())]
    return pd.DataFrame([rows[k] for k in index], index=index, columns=columns).fillna("–")


# What each artifact stands for in the opening sentence, in the paper's order.
_REPRODUCES = (("table1_averages", "Table I"), ("fig1", "Fig. 1"), ("fig2", "Fig. 2"), ("table_ii", "Table II"),
               ("fig3", "Fig. 3"))


def reproduced(paths) -> list[str]:
    """The paper's tables and figures whose artifact this build has (Table I, Fig. 1-3, Table II)."""
    root = Path(paths.root)
    return [label for name, label in _REPRODUCES if (root / artifact(name).path).is_file()]


def paired_compare(pairs: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """:func:`agcc.report.paired_comparisons` as one table: rows baseline × direction, columns
    the metrics; per cell AG-CC − baseline, mean [95 % interval] over seeds, and under it the
    paper's difference (HTML cells, as :func:`table_ii_compare`)."""
    if pairs.empty:
        return pd.DataFrame()
    rows = {}
    for r in pairs.itertuples(index=False):
        rows.setdefault((r.baseline, r.direction), {})[r.metric] = _stacked(
            interval_cell(r.measured, r.ci_low, r.ci_high, digits, signed=True).replace(" [", "<br>["), r.paper, None,
            digits, signed=True)
    index = pd.MultiIndex.from_tuples(list(rows), names=["baseline", "direction"])
    return pd.DataFrame([rows[k] for k in index], index=index, columns=list(METRICS)).fillna("–")
