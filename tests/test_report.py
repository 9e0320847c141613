"""The replication report's logic (agcc.report): deltas, verdicts, missing artifacts."""
import json
import os
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from agcc import paper, report
from agcc.corpora import cross_directions
from agcc.paths import Paths
from agcc.report import CANNOT, FAILS, HOLDS, NOT_SHOWN
from agcc.segments import SegmentSet


# ------------------------------------------------------------------------------------------
# Verdict logic
# ------------------------------------------------------------------------------------------
def test_interval_verdicts():
    assert report.interval_verdict(0.2, 1.5, 3)[0] == HOLDS
    assert report.interval_verdict(-2.0, -0.1, 3)[0] == FAILS
    verdict, why = report.interval_verdict(-0.4, 1.2, 5)  # straddles zero
    assert verdict == NOT_SHOWN and "includes zero" in why
    assert report.interval_verdict(0.0, 1.0, 5)[0] == NOT_SHOWN  # touching zero is not above it
    assert report.interval_verdict(np.nan, np.nan, 1)[0] == CANNOT  # one seed: no interval
    assert report.interval_verdict(0.5, 1.0, 1)[0] == CANNOT
    assert report.interval_verdict(np.nan, 1.0, 3)[0] == CANNOT


def test_p_verdicts_and_combination():
    assert report.p_verdict(0.01)[0] == HOLDS
    assert report.p_verdict(0.05)[0] == NOT_SHOWN
    assert report.p_verdict(float("nan"))[0] == CANNOT
    assert report.combine([HOLDS, HOLDS]) == HOLDS
    assert report.combine([HOLDS, NOT_SHOWN]) == NOT_SHOWN
    assert report.combine([HOLDS, CANNOT, NOT_SHOWN]) == CANNOT
    assert report.combine([CANNOT, FAILS, HOLDS]) == FAILS
    assert report.combine([]) == CANNOT


def test_t_and_welch_intervals_match_scipy():
    x = np.array([55.0, 57.5, 56.0, 58.2])
    mean, low, high, n = report.t_interval(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert (mean, n) == (pytest.approx(x.mean()), 4)
    assert (low, high) == pytest.approx(ref)
    assert np.isnan(report.t_interval([3.0])[1])
    y = np.array([50.0, 52.0, 51.5])
    diff, low, high, n = report.welch_interval(x, y)
    ci = stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(x.mean() - y.mean())
    assert (low, high) == pytest.approx((ci.low, ci.high))
    assert n == 3
    assert np.isnan(report.welch_interval([1.0], [2.0, 3.0])[1])


# ------------------------------------------------------------------------------------------
# Table I
# ------------------------------------------------------------------------------------------
def test_side_by_side_deltas_are_measured_minus_paper():
    _, paper_avg = paper.table_i()
    measured = paper_avg + 1.25
    measured.loc["Anger", "u"] = np.nan  # a cell this run could not fill
    side = report.side_by_side(measured, paper_avg, digits=2)
    assert side[("a", "measured - paper")].loc["All"] == pytest.approx(1.25)
    assert side[("a", "paper")].loc["Happiness"] == pytest.approx(80.1)
    assert np.isnan(side[("u", "measured - paper")].loc["Anger"])
    assert list(side.index) == list(paper_avg.index)


def test_ranked_overlap_and_counts_on_the_paper_table():
    per, _ = paper.table_i()
    ranked = report.ranked_overlap(per)
    assert list(ranked["a"].iloc[:5]) == [75.3, 70.4, 68.4, 61.2, 7.1]
    counts = report.cluster_counts(per)
    # "/a/ is clustered into five groups (1, 2, 3, 7, 8), with most showing high overlap"
    assert counts.loc["in both corpora", "a"] == 5
    assert counts.loc[">= 25 %", "a"] == 4
    assert counts.loc[">= 60 %", "a"] == 4


def test_table_i_claims_on_the_paper_own_numbers_hold():
    _, paper_avg = paper.table_i()
    claims = report.table_i_claims(paper_avg)
    assert [c.verdict for c in claims] == [HOLDS, HOLDS, HOLDS]


def test_table_i_claims_fail_or_cannot_be_judged():
    _, paper_avg = paper.table_i()
    low = paper_avg.copy()
    low.loc["All", "ɛ"] = 41.0
    low.loc["Neutral", "a"] = 90.0  # Neutral now above Happiness for /a/
    c1, c2, c3 = report.table_i_claims(low)
    assert c1.verdict == FAILS and "ɛ" in c1.why
    assert c2.verdict == FAILS and c3.verdict == HOLDS
    gap = paper_avg.copy()
    gap.loc["All", "u"] = np.nan
    assert report.claim_shared_clusters(gap).verdict == CANNOT
    missing = report.table_i_claims(None, "tables/table1_averages.csv missing")
    assert {c.verdict for c in missing} == {CANNOT}
    assert "missing" in missing[0].why


# ------------------------------------------------------------------------------------------
# Fig. 1 and Fig. 2
# ------------------------------------------------------------------------------------------
def _segments(cluster_offset: float, corpus_offset: float, n: int = 12, seed: int = 0) -> tuple:
    """Tokens of /a/ and /i/ in two clusters and two corpora whose lip curves are shifted by
    ``cluster_offset`` between clusters and ``corpus_offset`` between corpora."""
    rng = np.random.default_rng(seed)
    rows, frames, labels = [], [], []
    offset = 0
    for vowel in ("a", "i"):
        for cluster in (0, 1):
            for corpus_i, corpus in enumerate(("crema_d", "msp_improv")):
                for _ in range(n):
                    length = int(rng.integers(5, 9))
                    seg = (np.linspace(0, 1, length)[:, None] * np.ones((1, 24))
                           + cluster * cluster_offset + corpus_i * corpus_offset
                           + rng.normal(0, 0.01, (length, 24)))
                    rows.append({"token_id": len(rows), "vowel": vowel, "corpus": corpus,
                                 "emotion": "neutral", "offset": offset, "n_frames": length})
                    frames.append(seg)
                    labels.append(cluster)
                    offset += length
    ag = np.concatenate(frames)
    seg = SegmentSet(tokens=pd.DataFrame(rows), ag_frames=ag, acoustic_frames=np.zeros((len(ag), 2)),
                     quality=pd.DataFrame())
    return seg, np.array(labels)


def test_fig1_consistency_verdicts():
    seg, labels = _segments(cluster_offset=0.5, corpus_offset=0.0)
    out = report.fig1_consistency(seg, labels, speaker_norm="none", n_bootstrap=200)
    assert list(out["vowel"]) == ["a", "i"]
    assert (out["between"] > out["within"]).all()
    assert list(out["verdict"]) == [HOLDS, HOLDS]
    assert report.fig1_claim(out).verdict == HOLDS
    # Corpora far apart, clusters alike: the claim does not hold.
    seg, labels = _segments(cluster_offset=0.0, corpus_offset=0.5)
    out = report.fig1_consistency(seg, labels, speaker_norm="none", n_bootstrap=200)
    assert list(out["verdict"]) == [FAILS, FAILS]
    # A cluster without tokens of one corpus: no verdict.
    seg, labels = _segments(cluster_offset=0.5, corpus_offset=0.0)
    keep = ~((seg.tokens["corpus"] == "msp_improv") & (labels == 1)).to_numpy()
    seg.tokens = seg.tokens[keep].reset_index(drop=True)
    out = report.fig1_consistency(seg, labels[keep], speaker_norm="none", n_bootstrap=50)
    assert set(out["verdict"]) == {CANNOT}


def _association(p_values: dict) -> pd.DataFrame:
    rows = {e: {"tokens": 100, "NMI": 0.2, "NMI_null_mean": 0.01, "NMI_p": p, "cramers_v": 0.4,
                "mean_entropy_bits": 1.3, "entropy_null_mean_bits": 1.7, "entropy_p": p,
                "mean_effective_clusters": 2.5} for e, p in p_values.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("emotion")


def test_fig2_claim():
    ok = report.fig2_claim(_association({"all": 0.005, "neutral": 0.01, "anger": 0.02}))
    assert ok.verdict == HOLDS and len(ok.detail) == 3
    weak = report.fig2_claim(_association({"all": 0.005, "neutral": 0.3}))
    assert weak.verdict == NOT_SHOWN and "neutral" in weak.why
    assert report.fig2_claim(None, "missing").verdict == CANNOT


# ------------------------------------------------------------------------------------------
# Table II: fixtures in the schema notebooks 05-06 write
# ------------------------------------------------------------------------------------------
# Per-model 4-CAT means on the simulated fixture; AG-CC beats PA-CC clearly, ties LA-CC within
# noise (an interval straddling zero), loses to Hard-AG.
FIXTURE_MEANS = {"Source only": 50.0, "PA-CC": 52.0, "LA-CC": 55.0, "AG-CC": 55.0, "Hard-AG": 58.0}
SEEDS = (0, 1, 2, 3)


def _table_ii_fixture(seeds=SEEDS) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    runs = []
    for model, base in FIXTURE_MEANS.items():
        for direction in ("C->I", "I->C"):
            for seed in seeds:
                noise = rng.normal(0, 0.5)
                runs.append({"model": model, "direction": direction, "seed": seed,
                             **{m: base + noise + (5 if m != "4-CAT" else 0) for m in report.METRICS},
                             "val_uar": 60.0, "best_epoch": 5, "wall_s": 1.0,
                             "gamma": 0.5 if model == "AG-CC" else 0.0})
    for direction in ("C->C", "I->I"):
        for seed in seeds:
            runs.append({"model": "Upper Bound", "direction": direction, "seed": seed,
                         **{m: 70.0 + rng.normal(0, 0.5) for m in report.METRICS},
                         "val_uar": 70.0, "best_epoch": 5, "wall_s": 1.0, "gamma": 0.0})
    runs = pd.DataFrame(runs, columns=list(report.RUNS_COLUMNS))
    summary = []
    for (model, direction), part in runs.groupby(["model", "direction"]):
        for m in report.METRICS:
            mean, low, high, n = report.t_interval(part[m])
            summary.append({"model": model, "direction": direction, "metric": m, "mean": mean,
                            "ci_low": low, "ci_high": high, "n": n})
    paired = []
    for baseline in ("Source only", "PA-CC", "LA-CC", "Hard-AG"):
        for direction in ("C->I", "I->C"):
            ag = runs[(runs.model == "AG-CC") & (runs.direction == direction)].set_index("seed")
            other = runs[(runs.model == baseline) & (runs.direction == direction)].set_index("seed")
            for m in report.METRICS:
                mean, low, high, n = report.t_interval((ag[m] - other[m]).dropna())
                paired.append({"baseline": baseline, "direction": direction, "metric": m,
                               "diff_mean": mean, "ci_low": low, "ci_high": high, "n": n})
    return runs, pd.DataFrame(summary), pd.DataFrame(paired)


def _write_fixture(root, seeds=SEEDS) -> Paths:
    paths = Paths(root)
    paths.tables.mkdir(parents=True)
    runs, summary, paired = _table_ii_fixture(seeds)
    runs.to_csv(paths.tables / "table_ii_runs.csv", index=False)
    summary.to_csv(paths.tables / "table_ii.csv", index=False)
    paired.to_csv(paths.tables / "table_ii_paired.csv", index=False)
    return paths


def test_table_ii_long_deltas(tmp_path):
    t2 = report.read_table_ii(_write_fixture(tmp_path))
    assert t2.runs is not None and t2.summary is not None and t2.paired is not None
    long = report.table_ii_long(t2.summary)
    row = long[(long.model == "AG-CC") & (long.direction == "C->I") & (long.metric == "4-CAT")].iloc[0]
    assert row["paper"] == pytest.approx(57.37)
    assert row["measured - paper"] == pytest.approx(row["mean"] - 57.37)
    src = long[(long.model == "Source only") & (long.metric == "Neu")]
    assert src["paper"].isna().all() and src["mean"].notna().all()  # a row the paper lacks
    wide = report.table_ii_wide(long, "delta")
    assert list(wide.columns) == list(report.METRICS)
    assert wide.index[0] == ("Upper Bound", "C->C")
    assert wide.loc[("AG-CC", "C->I"), "4-CAT"] == f"{row['measured - paper']:+.2f}"
    assert report.table_ii_wide(long, "measured").loc[("AG-CC", "C->I"), "4-CAT"].count("[") == 1


def test_table_ii_verdicts(tmp_path):
    t2 = report.read_table_ii(_write_fixture(tmp_path))
    pairs = report.paired_comparisons(t2.paired)
    four = pairs[pairs.metric == "4-CAT"].set_index(["baseline", "direction"])
    assert four.loc[("PA-CC", "C->I"), "verdict"] == HOLDS
    assert four.loc[("PA-CC", "C->I"), "paper"] == pytest.approx(57.37 - 55.33)
    assert four.loc[("LA-CC", "C->I"), "verdict"] == NOT_SHOWN  # interval straddles zero
    assert four.loc[("Hard-AG", "I->C"), "verdict"] == FAILS
    claims = {c.id: c for c in report.table_ii_claims(pairs, t2.runs)}
    assert claims["T2-1"].verdict == HOLDS and "2.02" in claims["T2-1"].claim
    assert claims["T2-3"].verdict == NOT_SHOWN
    assert claims["T2-5"].verdict == FAILS
    assert claims["T2-7"].verdict == FAILS and len(claims["T2-7"].detail) == 24
    assert claims["T2-8"].verdict == HOLDS  # upper bounds (70) above every cross-corpus model
    assert set(claims["T2-8"].detail["model"]) == {"Source only", "PA-CC", "LA-CC", "AG-CC", "Hard-AG"}


def test_one_seed_cannot_be_judged(tmp_path):
    t2 = report.read_table_ii(_write_fixture(tmp_path, seeds=(0,)))
    pairs = report.paired_comparisons(t2.paired)
    assert set(pairs["verdict"]) == {CANNOT}
    assert report.table_ii_wide(report.table_ii_long(t2.summary)).loc[("AG-CC", "I->C"), "4-CAT"].endswith("(n = 1)")
    assert report.upper_bound_claim(t2.runs).verdict == CANNOT


# ------------------------------------------------------------------------------------------
# Missing artifacts, inventory, notes
# ------------------------------------------------------------------------------------------
def test_missing_artifacts_degrade_to_cannot_be_judged(tmp_path):
    paths = Paths(tmp_path / "artifacts")
    t2 = report.read_table_ii(paths)
    assert t2.runs is None and "notebook 05" in t2.why["runs"]
    pairs = report.paired_comparisons(t2.paired)
    claims = report.table_ii_claims(pairs, t2.runs, t2.why["runs"])
    assert {c.verdict for c in claims} == {CANNOT}
    assert report.table_ii_wide(report.table_ii_long(None)).iloc[0, 0] == "not run"
    per, avg, why = report.read_table_i(paths)
    assert per is None and avg is None and "table1_per_cluster.csv missing" in why
    bad = _write_fixture(tmp_path / "bad")
    pd.DataFrame({"model": ["AG-CC"]}).to_csv(bad.tables / "table_ii_paired.csv", index=False)
    assert "lacks the column" in report.read_table_ii(bad).why["paired"]


def test_inventory_names_the_writer_and_flags_stale_files(tmp_path):
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "notebooks" / "05_anchored_training.ipynb").write_text("{}")
    paths = _write_fixture(project / "artifacts" / "default")
    (paths.tables / "table1_averages.csv").write_text("emotion,a\nAll,70\n")
    (paths.tables / "utterances.csv").write_text("utt_id\n")
    # table1_averages.csv (notebook 03) older than utterances.csv (notebook 01): stale
    old = time.time() - 3600
    os.utime(paths.tables / "table1_averages.csv", (old, old))
    inv = report.inventory(paths, project).set_index("artifact")
    assert inv.loc["tables/utterances.csv", "present"] == "yes"
    assert "may be stale" in inv.loc["tables/table1_averages.csv", "note"]
    assert inv.loc["tables/table_ii.csv", "note"] == ""
    assert "this version of the book does not contain" in inv.loc["figures/fig3_architecture.png", "note"]
    fig1 = report.missing_note(report.artifact("fig1"), project)
    assert "notebook 02" in fig1 and "does not contain" in fig1
    (project / "notebooks" / "02_ag_clustering.ipynb").write_text("{}")
    fig1 = report.missing_note(report.artifact("fig1"), project)
    assert "02_ag_clustering" in fig1 and "this build did not produce it" in fig1


def test_run_record_and_data_notes(tmp_path):
    paths = Paths(tmp_path)
    record, when = report.read_run_record(paths)
    assert record is None and "No `run.json`" in report.run_record_note(record, when)
    paths.run_record.write_text(json.dumps({"profile": "smoke", "notebooks": {"01_data_prep": {"wall_s": 3.0}}}))
    record, when = report.read_run_record(paths)
    note = report.run_record_note(record, when)
    assert "01_data_prep (3 s)" in note and "previous" in note
    inv = report.inventory(paths, tmp_path, when)
    assert set(inv["vs. run.json"]) == {""}  # nothing present
    sim = report.data_note({"profile": "default", "crema_d_root": "", "msp_improv_root": ""})
    assert "simulated" in sim and "cannot" in sim
    smoke = report.data_note({"profile": "smoke"})
    assert "Smoke profile" in smoke
    real = report.data_note({"profile": "paper", "crema_d_root": "/d/C", "msp_improv_root": "/d/M"},
                            pd.DataFrame({"corpus": ["crema_d", "crema_d", "msp_improv"]}))
    assert "real corpora" in real and "crema_d: 2 utterances" in real


def test_verdict_counts_lists_every_verdict():
    claims = report.table_i_claims(paper.table_i()[1])
    counts = report.verdict_counts(claims)
    assert list(counts.index) == list(report.VERDICTS) and counts[HOLDS] == 3 and counts[CANNOT] == 0


def test_paper_text_gains_and_captions():
    gains = paper.text_gains()
    assert gains[("LA-CC", "C->I")] == pytest.approx(report.paper_difference("LA-CC", "C->I", "4-CAT"))
    assert gains[("PA-CC", "C->I")] == 2.02 and report.paper_difference("PA-CC", "C->I", "4-CAT") == pytest.approx(2.04)
    assert paper.caption("fig1").startswith("Clustered AG patterns")
    with pytest.raises(KeyError):
        paper.caption("fig9")


def test_displays_are_deterministic():
    frame = report.claims_table(report.table_i_claims(paper.table_i()[1]))
    html = report.styled(frame).to_html()
    assert html == report.styled(frame).to_html()  # nbval compares it across runs
    assert "#d8f0d8" in html  # "holds" coloured
    other = report.styled(frame.head(1)).to_html()
    assert other.split('id="T_')[1][:10] != html.split('id="T_')[1][:10]  # distinct table ids
    row = report.row_of_tables({"measured": paper.table_i()[1], "paper": paper.table_i()[1]}).data
    assert row.count("agcc-title") == 2 and 'class="agcc-row"' in row
    sentence = report.summary_sentence(report.table_i_claims(paper.table_i()[1]))
    assert sentence == "Of the 3 claims judged here: **3** hold."
    assert list(report.runs_overview(None).columns)[:3] == ["model", "direction", "seeds"]


def test_figures_carry_the_paper_number_and_never_claim_a_missing_one(tmp_path):
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    paths = Paths(project / "artifacts" / "smoke")
    paths.figures.mkdir(parents=True)
    (paths.figures / "fig1_ag_patterns.png").write_bytes(b"\x89PNG fake")
    fig1 = report.figure_or_note(paths, "fig1", project)
    assert "<b>Fig. 1</b>, regenerated by notebook 02" in fig1.data
    assert "Clustered AG patterns" in fig1.data and "data:image/png;base64," in fig1.data
    fig3 = report.figure_or_note(paths, "fig3", project).data
    assert fig3.startswith("> **Fig. 3**") and "regenerated" not in fig3
    assert "not available in this build" in fig3 and r"07_\*.ipynb" in fig3


def test_paired_wide_shows_the_paper_differences_without_data():
    wide = report.paired_wide(report.paired_comparisons(None), "paper")
    assert list(wide.index) == [(b, d) for b in report.BASELINES for d in cross_directions()]
    assert list(wide.columns) == list(report.METRICS)
    assert wide.loc[("LA-CC", "C->I"), "4-CAT"] == pytest.approx(1.33)
    assert wide.loc[("Hard-AG", "I->C"), "Sad"] == pytest.approx(65.85 - 63.24)


def test_runs_overview(tmp_path):
    runs, _, _ = _table_ii_fixture()
    view = report.runs_overview(runs).set_index(["model", "direction"])
    assert view.loc[("AG-CC", "C->I"), "seeds"] == len(SEEDS) and view.loc[("AG-CC", "C->I"), "gamma"] == "0.5"
    assert view.index[0] == ("Upper Bound", "C->C")
    assert "val UAR" not in report.runs_overview(runs.drop(columns=["val_uar"])).columns


# ------------------------------------------------------------------------------------------
# The report's opening, one Table II, claims by id
# ------------------------------------------------------------------------------------------
def test_claims_are_selected_by_id_not_by_position():
    claims = report.table_i_claims(None, "missing") + [report.fig2_claim(None, "missing")]
    assert [c.id for c in report.by_id(claims, "F2", "T1-2")] == ["F2", "T1-2"]
    assert [c.id for c in report.by_id(claims, "T1-")] == ["T1-1", "T1-2", "T1-3"]
    with pytest.raises(KeyError, match="no claim 'T2-1'"):
        report.by_id(claims, "T2-1")


def test_setup_differences_compare_the_run_with_the_paper_profile():
    params = report.run_params({"profile": "smoke", "lr": 0.5})
    utterances = pd.DataFrame({"corpus": ["crema_d"] * 3 + ["msp_improv"] * 2, "speaker": ["1", "2", "2", "a", "b"],
                               "emotion": ["anger", "sadness", "disgust", "neutral", "happiness"]})
    table = report.setup_differences(params, utterances).set_index("setting")
    lr = table.loc["learning rate, weight decay"]
    assert lr["this run"].startswith("0.5,") and lr["paper"].startswith("0.0001,") and lr["differs"] == "yes"
    assert table.loc["batch size", "differs"] == "no"  # 64 in both
    assert "not stated" in table.loc["training seeds per cell", "paper"]
    crema = table.loc["CREMA-D: speakers, four-class utterances"]
    assert crema["this run"] == "simulated 2 speakers, 2 utterances" and "91 actors" in crema["paper"]
    assert table.loc["acoustic features", "this run"] == "logmel, 40"
    start = "cross-corpus runs start from (fine-tuning epochs)"
    assert table.loc[start, "paper"].startswith("scratch (not stated")  # no fine-tuning epochs from scratch
    warm = report.setup_differences(report.run_params({"profile": "smoke", "init": "source_only",
                                                       "finetune_epochs": 4}), utterances).set_index("setting")
    assert warm.loc[start, "this run"] == "source_only, 4" and warm.loc[start, "differs"] == "yes"


def test_one_table_ii_puts_measured_paper_and_delta_in_each_cell(tmp_path):
    t2 = report.read_table_ii(_write_fixture(tmp_path))
    long = report.table_ii_long(t2.summary)
    table = report.table_ii_compare(long)
    assert list(table.columns) == list(report.METRICS) and table.index[0] == ("Upper Bound", "C->C")
    row = long[(long.model == "AG-CC") & (long.direction == "C->I") & (long.metric == "4-CAT")].iloc[0]
    cell = table.loc[("AG-CC", "C->I"), "4-CAT"]
    assert cell.startswith(f"{row['mean']:.1f}<br>[{row['ci_low']:.1f}, {row['ci_high']:.1f}]")
    assert "paper 57.4" in cell and f"Δ {row['measured - paper']:+.1f}" in cell
    assert "paper –" in table.loc[("Source only", "C->I"), "Neu"]  # the paper has no source-only row
    pairs = report.paired_compare(report.paired_comparisons(t2.paired))
    assert "paper +2.0" in pairs.loc[("PA-CC", "C->I"), "4-CAT"]


def test_opening_summarises_data_setup_closeness_and_findings(tmp_path):
    paths = _write_fixture(tmp_path)
    t2 = report.read_table_ii(paths)
    long = report.table_ii_long(t2.summary)
    claims = report.table_ii_claims(report.paired_comparisons(t2.paired), t2.runs)
    ablations = pd.DataFrame({"factor": ["beta", "beta", "alpha"], "direction": ["C->I"] * 3,
                              "label": ["0.2", "5", "1"], "effect": ["default", "lower", "no clear difference"],
                              "diff_mean": [0.0, -3.2, 0.4]})
    gains = pd.DataFrame({"knob": ["channel_shift"] * 4, "value": [0.0, 1.0] * 2, "reference": ["AG-CC"] * 4,
                          "baseline": ["Source only"] * 2 + ["PA-CC"] * 2, "direction": ["C->I"] * 4,
                          "diff_mean": [0.5, 2.5, -1.0, -3.0],
                          "effect": ["no clear difference", "higher", "no clear difference", "lower"]})
    text = report.opening(report.run_params({"profile": "smoke"}), claims, long, present=report.reproduced(paths),
                          ablations=ablations, sensitivity=gains)
    assert "regenerated Table II of the paper on **simulated corpora**" in text
    assert "learning rate, weight decay: 0.001, 0.001 instead of 0.0001, 0.001" in text
    assert f"{int(sum(c.verdict == HOLDS for c in claims))} of {len(claims)} on Table II" in text
    assert "1 moved the 4-class UAR clearly: beta = 5 (C->I, -3.2)" in text
    assert "from 0 to 1, AG-CC over Source only +0.5 → +2.5, AG-CC over PA-CC -1.0 → -3.0" in text
    assert "of 4 paired gains, the 95 % interval lies above zero for 1 and below zero for 1" in text
    assert "not available in this build" in report.ablation_finding(None, "tables/ablations.csv missing")


def test_summary_names_the_comparisons_that_rule_the_papers_difference_out():
    from agcc.report.claims import Claim
    from agcc.report.summary import _ruled_out

    claim = lambda i, why: Claim(i, "Table II", "", "", "", "", "not shown", why)  # noqa: E731
    text = _ruled_out([claim("T2-1", "includes zero; the interval excludes the paper's +2.04: ruled out here"),
                       claim("T2-2", "includes zero; the paper's +0.65 would need 91 seeds")])
    assert "1 of the 2" in text and "T2-1" in text and "T2-2" not in text
    assert _ruled_out([claim("T2-2", "includes zero")]) == ""


def test_difficulty_checks_the_builds_levels_against_the_calibration_targets():
    from agcc.report.summary import difficulty

    levels = {("Upper Bound", "C->C"): 66.0, ("Upper Bound", "I->I"): 50.0, ("Source only", "C->I"): 48.0,
              ("Source only", "I->C"): 55.0, ("AG-CC", "C->I"): 99.0}
    long = pd.DataFrame([{"model": m, "direction": d, "metric": metric, "mean": v if metric == "4-CAT" else 80.0}
                         for (m, d), v in levels.items() for metric in report.METRICS])
    text = difficulty(long)
    assert "C->C 66.0 (66.4 ± 5: met)" in text and "I->I 50.0 (62.1 ± 5: missed)" in text
    assert "C->I 48.0 (55.3 ± 5, below I->I: missed)" in text  # more than 5 below 55.3
    assert "2 of 4 missed" in text and "99.0" not in text  # an anchoring method never enters
    assert "cannot be checked" in difficulty(long[long["model"] == "AG-CC"])
