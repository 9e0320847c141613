"""The statistics of the book, in one place: intervals over seeds and verdicts read from them.

Every comparison in the book (Table II's cells and paired differences, notebooks 05-06; the
ablations and the sensitivity study, notebooks 07-08; the replication report's claims) is a mean
over seeds with a two-sided 95 % Student-t interval (:func:`t_interval`), a difference paired by
seed (:func:`paired_interval`) or, for settings not run on the same seeds, an unpaired Welch
interval (:func:`welch_interval`). The paper reports single numbers without seeds (Sec. IV), so
its values are compared with these intervals, never tested.

Verdicts (:data:`VERDICTS`) on "the difference is positive"
-----------------------------------------------------------
``holds``
    The 95 % interval lies above zero, or a one-sided p-value is below :data:`ALPHA`, or a
    descriptive criterion (stated with the claim) is met.
``does not hold``
    The interval lies entirely below zero, or the descriptive criterion is not met.
``not shown``
    The interval includes zero (or p >= :data:`ALPHA`): the data cannot tell.
``cannot be judged on this data``
    The artifact is missing, or there is no interval (a single seed, too few tokens).
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

HOLDS, FAILS, NOT_SHOWN, CANNOT = "holds", "does not hold", "not shown", "cannot be judged on this data"
VERDICTS = (HOLDS, FAILS, NOT_SHOWN, CANNOT)
ALPHA = 0.05


def finite(*values) -> bool:
    """Whether every value is a finite real number (not None, not NaN, not a string)."""
    return all(v is not None and isinstance(v, (int, float, np.floating, np.integer))
               and math.isfinite(float(v)) for v in values)


def t_interval(values, conf: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and two-sided Student-t interval of ``values`` (non-finite values ignored):
    ``(mean, low, high, n)``; NaN bounds for fewer than two values."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(x.mean())
    if n < 2:
        return mean, float("nan"), float("nan"), n
    half = float(stats.t.ppf(0.5 + conf / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half, n


def paired_interval(a: pd.Series, b: pd.Series) -> tuple[float, float, float, int]:
    """:func:`t_interval` of ``a - b`` over the index entries (seeds) both have: the paired
    difference of two settings run with the same seeds."""
    both = a.index.intersection(b.index)
    return t_interval(a.loc[both].to_numpy(float) - b.loc[both].to_numpy(float))


def welch_interval(a, b, conf: float = 0.95) -> tuple[float, float, float, int]:
    """Difference of means ``mean(a) - mean(b)`` with Welch's t interval (unpaired):
    ``(diff, low, high, min(n_a, n_b))``; NaN bounds when either side has fewer than two values."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return float("nan"), float("nan"), float("nan"), 0
    diff = float(a.mean() - b.mean())
    n = int(min(a.size, b.size))
    if n < 2:
        return diff, float("nan"), float("nan"), n
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff, n
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + conf / 2, dof) * se)
    return diff, diff - half, diff + half, n


def interval_verdict(low, high, n, *, min_n: int = 2) -> tuple[str, str]:
    """Verdict on "the difference is positive" from its 95 % interval ``[low, high]`` over ``n``
    paired units (seeds, bootstrap draws): ``(verdict, why)``."""
    if not finite(n) or int(n) < min_n:
        return CANNOT, f"n = {int(n) if finite(n) else '?'}: no interval"
    if not finite(low, high):
        return CANNOT, "no finite interval"
    if low > 0:
        return HOLDS, f"95 % interval [{low:+.2f}, {high:+.2f}] above zero"
    if high < 0:
        return FAILS, f"95 % interval [{low:+.2f}, {high:+.2f}] below zero"
    return NOT_SHOWN, f"95 % interval [{low:+.2f}, {high:+.2f}] includes zero"


def p_verdict(p, alpha: float = ALPHA) -> tuple[str, str]:
    """Verdict from a one-sided p-value: ``holds`` below ``alpha``, else ``not shown``."""
    if not finite(p):
        return CANNOT, "no p-value"
    return (HOLDS, f"p = {p:.3f} < {alpha}") if p < alpha else (NOT_SHOWN, f"p = {p:.3f} >= {alpha}")


def combine(verdicts: Iterable[str]) -> str:
    """Verdict on a claim made of several comparisons: any ``does not hold`` -> does not hold;
    else any ``cannot be judged`` -> cannot be judged; else any ``not shown`` -> not shown;
    else holds. No comparison at all -> cannot be judged."""
    verdicts = list(verdicts)
    if not verdicts:
        return CANNOT
    for v in (FAILS, CANNOT, NOT_SHOWN):
        if v in verdicts:
            return v
    return HOLDS
