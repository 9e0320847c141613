"""Cross-corpus AG cluster overlap (agcc.overlap, Sec. II-C.1, Eq. 1, Table I)."""
import math

import numpy as np
import pandas as pd
import pytest

from agcc.overlap import OverlapResult, cluster_overlap, overlap_table

# Source: 10 tokens -> cluster 0: 5, 1: 3, 2: 2      shares p1 = .5, .3, .2
# Target: 10 tokens -> cluster 0: 4, 1: 1, 3: 5      shares p2 = .4, .1, 0, .5 (cluster 2 absent)
SRC = [0] * 5 + [1] * 3 + [2] * 2
TGT = [0] * 4 + [1] * 1 + [3] * 5


def test_ratio_reading_by_hand():
    r = cluster_overlap(SRC, TGT)
    assert isinstance(r, OverlapResult) and r.reading == "ratio" and r.threshold == 0.25
    # cluster 0: min(.5,.4)/max(.5,.4) = .4/.5 = 80 %;  cluster 1: .1/.3 = 33.33 %
    # clusters 2 and 3 are in one corpus only -> 0
    assert r.per_cluster.name == "overlap"
    assert list(r.per_cluster.index) == [0, 1, 2, 3]
    np.testing.assert_allclose(r.per_cluster.to_numpy(), [80.0, 100 / 3, 0.0, 0.0])
    # both common clusters pass 25 %: mean(80, 33.33) = 56.67
    assert r.kept == [0, 1]
    assert r.average == pytest.approx((80 + 100 / 3) / 2)


def test_printed_reading_by_hand():
    r = cluster_overlap(SRC, TGT, reading="printed")
    # min(p1, p2) * 100: cluster 0 -> 40, cluster 1 -> 10, clusters 2, 3 -> 0
    np.testing.assert_allclose(r.per_cluster.to_numpy(), [40.0, 10.0, 0.0, 0.0])
    # only cluster 0 reaches 25 -> average 40
    assert r.kept == [0] and r.average == pytest.approx(40.0)
    # with no threshold both common clusters count: (40 + 10) / 2 = 25; 2 and 3 stay out
    r0 = cluster_overlap(SRC, TGT, reading="printed", threshold=0.0)
    assert r0.kept == [0, 1] and r0.average == pytest.approx(25.0)


def test_value_exactly_at_threshold_is_kept_and_just_below_is_not():
    # cluster 0: p1 = 1/4, p2 = 1 -> ratio exactly 25 %  (kept: the rule is value >= 25)
    at = cluster_overlap([0, 1, 1, 1], [0, 0, 0, 0])
    assert at.per_cluster[0] == pytest.approx(25.0) and at.kept == [0]
    assert at.average == pytest.approx(25.0)
    # cluster 0: p1 = 24/100, p2 = 1 -> 24 % (excluded); nothing else is common -> NaN
    below = cluster_overlap([0] * 24 + [1] * 76, [0] * 10)
    assert below.per_cluster[0] == pytest.approx(24.0)
    assert below.kept == [] and math.isnan(below.average)
    # printed reading, same rule: p1 = p2 = 1/4 -> 25 % kept
    printed = cluster_overlap([0, 1, 2, 3], [0, 1, 2, 3], reading="printed")
    assert printed.kept == [0, 1, 2, 3] and printed.average == pytest.approx(25.0)


def test_cluster_in_one_corpus_only_is_zero_and_never_kept():
    r = cluster_overlap([0, 0, 5], [0, 0], threshold=0.0)
    assert r.per_cluster[5] == 0.0 and 5 not in r.kept
    # cluster 0: p1 = 2/3, p2 = 1 -> 66.67 %
    assert r.kept == [0] and r.average == pytest.approx(200 / 3)


def test_clusters_argument_adds_zero_rows():
    r = cluster_overlap([1, 1], [1, 2], clusters=range(10))
    assert list(r.per_cluster.index) == list(range(10))
    assert (r.per_cluster.drop([1]) == 0).all()
    # cluster 1: p1 = 1, p2 = .5 -> 50 %
    assert r.per_cluster[1] == pytest.approx(50.0)


@pytest.mark.parametrize("src, tgt", [([], [0, 1]), ([0, 1], []), ([], [])])
def test_empty_input_is_refused(src, tgt):
    with pytest.raises(ValueError, match="empty"):
        cluster_overlap(src, tgt)


def test_unknown_reading_is_refused():
    with pytest.raises(ValueError, match="reading"):
        cluster_overlap([0], [0], reading="eq1")


def test_printed_average_never_exceeds_100_over_k():
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(1, 11))
        src = rng.integers(0, k, size=int(rng.integers(1, 60)))
        tgt = rng.integers(0, k, size=int(rng.integers(1, 60)))
        r = cluster_overlap(src, tgt, reading="printed", threshold=0.0)
        # the shares' minima sum to at most 100 over the K common clusters
        assert r.per_cluster.sum() <= 100 + 1e-9
        assert r.average <= 100 / len(r.kept) + 1e-9
        rt = cluster_overlap(src, tgt, reading="printed")
        if rt.kept:
            assert rt.average <= 100 / len(rt.kept) + 1e-9 and len(rt.kept) <= 4


@pytest.mark.parametrize("reading", ["ratio", "printed"])
def test_symmetric_in_source_and_target(reading):
    a = cluster_overlap(SRC, TGT, reading=reading)
    b = cluster_overlap(TGT, SRC, reading=reading)
    pd.testing.assert_series_equal(a.per_cluster, b.per_cluster)
    assert a.kept == b.kept and a.average == pytest.approx(b.average)


def _tokens():
    rows = []
    # /a/: crema_d clusters 0,0,1,1 ; msp_improv 0,1,1,1 (all happiness on the target side)
    for c, e in zip([0, 0, 1, 1], ["neutral", "happiness", "neutral", "happiness"]):
        rows.append(("crema_d", "a", e, c))
    for c in [0, 1, 1, 1]:
        rows.append(("msp_improv", "a", "happiness", c))
    # /i/ (listed first here, must come after /a/ in the table): identical on both sides
    for corpus in ("msp_improv", "crema_d"):
        rows += [(corpus, "i", "anger", 2), (corpus, "i", "anger", 2)]
    return pd.DataFrame(rows, columns=["corpus", "vowel", "emotion", "ag_cluster"])


def test_overlap_table_layout_and_values():
    per, avg = overlap_table(_tokens(), clusters=range(4))
    assert list(per.columns) == ["a", "i"] and list(avg.columns) == ["a", "i"]
    assert list(per.index) == ["Cluster_1", "Cluster_2", "Cluster_3", "Cluster_4"]
    assert list(avg.index) == ["All", "Neutral", "Happiness", "Anger", "Sadness"]
    # /a/ all emotions: p1 = (.5, .5), p2 = (.25, .75) -> 50 %, 66.67 %
    assert per.loc["Cluster_1", "a"] == pytest.approx(50.0)
    assert per.loc["Cluster_2", "a"] == pytest.approx(200 / 3)
    assert per.loc["Cluster_3", "a"] == 0 and per.loc["Cluster_4", "a"] == 0
    assert per.loc["Cluster_3", "i"] == pytest.approx(100.0)
    assert avg.loc["All", "a"] == pytest.approx((50 + 200 / 3) / 2)
    # /a/ happiness: crema_d (0, 1) -> .5/.5 ; msp (0, 1, 1, 1) -> .25/.75 -> same numbers
    assert avg.loc["Happiness", "a"] == pytest.approx((50 + 200 / 3) / 2)
    # /a/ neutral has no target tokens, /a/ anger none at all, nobody has sadness -> NaN
    assert np.isnan(avg.loc["Neutral", "a"]) and np.isnan(avg.loc["Anger", "a"])
    assert avg.loc["Sadness"].isna().all()
    assert avg.loc["Anger", "i"] == pytest.approx(100.0) and avg.loc["All", "i"] == 100.0


def test_overlap_table_printed_reading_passes_through():
    _, avg = overlap_table(_tokens(), reading="printed")
    # /a/ all: min shares .25 and .5 -> 25 and 50, both >= 25 -> 37.5
    assert avg.loc["All", "a"] == pytest.approx(37.5)
