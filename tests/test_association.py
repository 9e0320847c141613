"""AG-acoustic association statistics (agcc.association, Sec. II-C.2, Fig. 2)."""
import numpy as np
import pandas as pd
import pytest

from agcc.association import (association_summary, contingency, cramers_v, effective_clusters,
                              mean_row_entropy, normalized_mutual_info, row_entropy,
                              row_normalize, shuffle_baseline)

# Perfect association: AG cluster k always lands in acoustic cluster (k + 3) % 5 (a bijection,
# deliberately not the diagonal since the two models are trained separately).
RNG = np.random.default_rng(1)
AG_PERFECT = RNG.integers(0, 5, size=300)
AC_PERFECT = (AG_PERFECT + 3) % 5


def test_contingency_counts_and_shape():
    t = contingency([0, 0, 1, 2], [1, 1, 0, 1], n_ag=4, n_acoustic=3)
    assert t.shape == (4, 3)
    np.testing.assert_array_equal(t, [[0, 2, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    assert contingency([0, 2], [1, 0]).shape == (3, 2)
    with pytest.raises(ValueError):
        contingency([0, 1], [0])
    with pytest.raises(ValueError):
        contingency([0, 5], [0, 0], n_ag=3)


def test_row_normalize_sums_to_one_and_keeps_zero_rows():
    p = row_normalize([[1, 3], [0, 0], [2, 2]])
    np.testing.assert_allclose(p, [[0.25, 0.75], [0, 0], [0.5, 0.5]])
    assert not np.isnan(p).any()
    np.testing.assert_allclose(p.sum(axis=1), [1, 0, 1])


def test_entropy_by_hand():
    # [2, 2]: p = (.5, .5) -> -2 * .5 * log2 .5 = 1 bit ; [1, 1, 1, 1] -> log2 4 = 2 bits
    # [5, 0, 0, 0] -> 0 bits ; empty row -> NaN
    h = row_entropy([[2, 2, 0, 0], [1, 1, 1, 1], [5, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(h[:3], [1.0, 2.0, 0.0])
    assert np.isnan(h[3])
    np.testing.assert_allclose(effective_clusters([[2, 2], [3, 0]]), [2.0, 1.0])
    # natural-log base: [2, 2] -> ln 2 nats, e ** ln 2 = 2 clusters either way
    assert row_entropy([[2, 2]], base=np.e)[0] == pytest.approx(np.log(2))
    # weighted by rows: (4 tokens * 1 bit + 4 tokens * 2 bits + 5 * 0) / 13
    ag = [0] * 4 + [1] * 4 + [2] * 5
    ac = [0, 0, 1, 1, 0, 1, 2, 3, 0, 0, 0, 0, 0]
    assert mean_row_entropy(ag, ac) == pytest.approx(12 / 13)


def test_perfect_association():
    table = contingency(AG_PERFECT, AC_PERFECT)
    np.testing.assert_allclose(row_entropy(table), 0.0)
    np.testing.assert_allclose(effective_clusters(table), 1.0)
    assert normalized_mutual_info(AG_PERFECT, AC_PERFECT) == pytest.approx(1.0)
    assert cramers_v(table) == pytest.approx(1.0)
    nmi = shuffle_baseline(AG_PERFECT, AC_PERFECT, normalized_mutual_info, 200, rng=0)
    assert nmi["observed"] == pytest.approx(1.0) and nmi["p_value"] <= 0.02
    assert nmi["p_value"] == pytest.approx(1 / 201) and nmi["null_mean"] < 0.2
    ent = shuffle_baseline(AG_PERFECT, AC_PERFECT, mean_row_entropy, 200, rng=0, greater=False)
    assert ent["observed"] == pytest.approx(0.0) and ent["p_value"] <= 0.02
    assert ent["null_mean"] > 2.0 and ent["null_sd"] > 0


def test_independent_labels():
    rng = np.random.default_rng(7)
    ag, ac = rng.integers(0, 10, 5000), rng.integers(0, 10, 5000)
    assert normalized_mutual_info(ag, ac) < 0.02
    assert cramers_v(contingency(ag, ac)) < 0.1
    res = shuffle_baseline(ag, ac, normalized_mutual_info, 200, rng=np.random.default_rng(3))
    assert res["p_value"] > 0.05
    ent = shuffle_baseline(ag, ac, mean_row_entropy, 200, rng=3, greater=False)
    assert ent["p_value"] > 0.05 and ent["observed"] == pytest.approx(ent["null_mean"], abs=0.05)


def test_shuffle_baseline_direction_and_reproducibility():
    a = shuffle_baseline(AG_PERFECT, AC_PERFECT, mean_row_entropy, 50, rng=5, greater=False)
    b = shuffle_baseline(AG_PERFECT, AC_PERFECT, mean_row_entropy, 50, rng=5, greater=False)
    assert a == b
    # asked in the wrong direction, a perfectly concentrated table is never "higher" than chance
    wrong = shuffle_baseline(AG_PERFECT, AC_PERFECT, mean_row_entropy, 50, rng=5)
    assert wrong["p_value"] == pytest.approx(1.0)


def test_cramers_v_two_by_two_by_hand():
    # [[10, 0], [5, 5]]: n = 20, rows 10/10, cols 15/5; expected [[7.5, 2.5], [7.5, 2.5]]
    # chi2 = 2.5^2 * (1/7.5 + 1/2.5 + 1/7.5 + 1/2.5) = 6.25 * 16/15 = 6.6667
    # V = sqrt(6.6667 / (20 * 1)) = sqrt(1/3) = 0.57735  (no Yates correction)
    assert cramers_v([[10, 0], [5, 5]]) == pytest.approx(np.sqrt(1 / 3))
    # empty rows/columns are ignored; a single row/column or empty table gives 0
    assert cramers_v([[10, 0, 0], [5, 5, 0], [0, 0, 0]]) == pytest.approx(np.sqrt(1 / 3))
    assert cramers_v([[3, 4, 0]]) == 0.0 and cramers_v(np.zeros((3, 3))) == 0.0


def test_association_summary_layout():
    rng = np.random.default_rng(0)
    n = 120
    emotions = rng.choice(["anger", "neutral", "sadness"], size=n)
    ag = rng.integers(0, 4, n)
    frame = pd.DataFrame({"emotion": emotions, "ag_cluster": ag,
                          "acoustic_cluster": (ag + 1) % 4})
    frame.loc[0, "acoustic_cluster"] = np.nan  # dropped, not counted
    out = association_summary(frame, n_permutations=20, seed=1)
    assert list(out.index) == ["all", "neutral", "anger", "sadness"]
    assert out.index.name == "emotion"
    assert list(out.columns) == ["tokens", "NMI", "NMI_null_mean", "NMI_p", "cramers_v",
                                 "mean_entropy_bits", "entropy_null_mean_bits", "entropy_p",
                                 "mean_effective_clusters"]
    assert out.loc["all", "tokens"] == n - 1
    assert out.loc[["neutral", "anger", "sadness"], "tokens"].sum() == n - 1
    assert out.loc["all", "mean_entropy_bits"] == pytest.approx(0.0)
    assert out.loc["all", "mean_effective_clusters"] == pytest.approx(1.0)
    assert out.loc["all", "NMI_p"] == pytest.approx(1 / 21)
    pd.testing.assert_frame_equal(out, association_summary(frame, n_permutations=20, seed=1))
    with pytest.raises(ValueError):
        association_summary(frame.iloc[:0], n_permutations=5)
