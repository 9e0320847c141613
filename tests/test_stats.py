"""Power of the paired comparisons and bounded intervals (agcc.stats)."""
import numpy as np
import pandas as pd
import pytest

from agcc.experiments import paired_differences, summarize
from agcc.stats import comparison_power, minimum_detectable, paired_power, seeds_needed, t_interval


def test_paired_power_matches_the_published_values():
    # two-sided paired t-test, alpha 0.05 (G*Power / Cohen 1988): d = 1 with n = 10 -> 0.803;
    # d = 0.5 needs n = 34 for 80 % power, d = 1 needs n = 10
    assert paired_power(1.0, 1.0, 10) == pytest.approx(0.8031, abs=5e-4)
    assert paired_power(-1.0, 1.0, 10) == pytest.approx(paired_power(1.0, 1.0, 10))
    assert paired_power(0.0, 1.0, 10) == pytest.approx(0.05)
    assert seeds_needed(0.5, 1.0) == 34 and seeds_needed(1.0, 1.0) == 10
    assert paired_power(0.5, 1.0, 33) < 0.8 <= paired_power(0.5, 1.0, 34)


def test_minimum_detectable_difference_inverts_the_power():
    for sd, n in ((1.0, 10), (4.0, 3), (2.5, 12)):
        mde = minimum_detectable(sd, n)
        assert paired_power(mde, sd, n) == pytest.approx(0.8, abs=1e-6)
    assert minimum_detectable(2.0, 10) == pytest.approx(2 * minimum_detectable(1.0, 10))  # scales with sd
    assert minimum_detectable(1.0, 40) < minimum_detectable(1.0, 10)  # more seeds resolve less
    assert np.isnan(minimum_detectable(1.0, 1)) and np.isnan(seeds_needed(0.0, 1.0))
    # differences that do not vary (every run at chance) leave the test undefined, not "2 seeds suffice"
    assert np.isnan(minimum_detectable(0.0, 5)) and np.isnan(seeds_needed(2.0, 0.0)) and np.isnan(paired_power(1.0, 0.0, 5))
    assert "undefined" in comparison_power(0.0, 5, 2.0)[2]
    mde, need, note = comparison_power(1.0, 10, 0.5)
    assert "would need 34 seeds" in note and need == 34 and mde == pytest.approx(minimum_detectable(1.0, 10))


def test_intervals_of_a_uar_stay_within_0_and_100():
    values = [99.0, 97.0, 99.5]
    _, low, high, _ = t_interval(values)
    assert high > 100  # the plain t interval leaves the range here
    mean, low_b, high_b, n = t_interval(values, bounds=(0, 100))
    assert (low_b, high_b) == (low, 100) and n == 3 and mean == pytest.approx(np.mean(values))


def test_table_ii_means_and_paired_differences_carry_their_power():
    rows = []
    for seed, (ag, pa) in enumerate([(99.0, 96.0), (97.0, 95.5), (99.5, 96.5), (98.0, 97.0)]):
        for model, uar in (("AG-CC", ag), ("PA-CC", pa)):
            rows.append({"model": model, "direction": "C->I", "seed": seed,
                         **{m: uar for m in ("4-CAT", "Neu", "Ang", "Hap", "Sad")}})
    runs = pd.DataFrame(rows)
    summary = summarize(runs)
    assert summary["ci_high"].max() <= 100 and summary["ci_low"].min() >= 0
    diff = paired_differences(runs).set_index("metric").loc["4-CAT"]
    d = np.array([3.0, 1.5, 3.0, 1.0])
    assert diff["sd"] == pytest.approx(d.std(ddof=1))
    assert diff["mde"] == pytest.approx(minimum_detectable(d.std(ddof=1), 4))


def test_comparison_power_says_when_the_interval_rules_the_papers_difference_out():
    assert "ruled out" in comparison_power(0.75, 10, 2.04, (-0.94, 0.13))[2]  # wholly below +2.04
    assert "ruled out" not in comparison_power(2.2, 10, 0.65, (-1.99, 1.12))[2]  # +0.65 inside
    assert "ruled out" in comparison_power(0.5, 10, -1.0, (-0.2, 0.4))[2]  # wholly above a negative one
