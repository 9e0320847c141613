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
from scipy import optimize, stats

HOLDS, FAILS, NOT_SHOWN, CANNOT = "holds", "does not hold", "not shown", "cannot be judged on this data"
VERDICTS = (HOLDS, FAILS, NOT_SHOWN, CANNOT)
ALPHA = 0.05


def finite(*values) -> bool:
    """Whether every value is a finite real number (not None, not NaN, not a string)."""
    return all(v is not None and isinstance(v, (int, float, np.floating, np.integer))
               and math.isfinite(float(v)) for v in values)


def t_interval(values, conf: float = 0.95, bounds: tuple[float, float] | None = None) -> tuple[float, float, float, int]:
    """Mean and two-sided Student-t interval of ``values`` (non-finite values ignored):
    ``(mean, low, high, n)``; NaN bounds for fewer than two values.

    ``bounds`` (e.g. ``(0, 100)`` for a UAR in percent): the interval is intersected with the
    range the mean can take. Since the true mean always lies in that range, the intersection
    covers it whenever the t interval does: the coverage stays at least ``conf``, and no interval
    of a mean is shown outside [0, 100]."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(x.mean())
    if n < 2:
        return mean, float("nan"), float("nan"), n
    half = float(stats.t.ppf(0.5 + conf / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, low, high, n


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


# ------------------------------------------------------------------------------------------------
# Power of a paired comparison (how small a difference the seeds of this build can resolve)
# ------------------------------------------------------------------------------------------------
POWER = 0.8  # the conventional target power of the minimum detectable difference


def paired_power(effect: float, sd: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test at level ``alpha`` to detect a mean difference
    ``effect`` when the paired differences have standard deviation ``sd`` over ``n`` seeds:
    ``P(|T| > t_crit)``, ``T`` non-central t with ``n - 1`` degrees of freedom and non-centrality
    ``effect / (sd / sqrt(n))``. NaN for fewer than two seeds or an ``sd`` that is not finite and
    positive (differences that do not vary leave the t-test undefined)."""
    if n < 2 or not finite(sd, effect) or sd <= 0:
        return float("nan")
    df, crit = n - 1, stats.t.ppf(1 - alpha / 2, n - 1)
    nc = abs(effect) / (sd / np.sqrt(n))
    # the far tail underflows to NaN in scipy's nct for a large nc: it is 0 there
    far = float(np.nan_to_num(stats.nct.cdf(-crit, df, nc), nan=0.0))
    return float(stats.nct.sf(crit, df, nc)) + far


def minimum_detectable(sd: float, n: int, power: float = POWER, alpha: float = ALPHA) -> float:
    """The smallest mean paired difference the two-sided paired t-test at level ``alpha`` detects
    with ``power``, for differences of standard deviation ``sd`` over ``n`` seeds (NaN for fewer
    than two seeds or an ``sd`` that is not finite and positive)."""
    if n < 2 or not finite(sd) or sd <= 0:
        return float("nan")
    se = sd / np.sqrt(n)
    high = (stats.t.ppf(1 - alpha / 2, n - 1) + stats.norm.ppf(power)) * se  # a normal-theory start
    while paired_power(high, sd, n, alpha) < power:
        high *= 2
    return float(optimize.brentq(lambda d: paired_power(d, sd, n, alpha) - power, 0.0, high, xtol=1e-6 * se))


def seeds_needed(effect: float, sd: float, power: float = POWER, alpha: float = ALPHA,
                 limit: int = 1_000_000) -> float:
    """The number of seeds (paired units) the two-sided paired t-test at level ``alpha`` needs to
    detect ``effect`` with ``power`` when the differences have standard deviation ``sd``
    (``inf`` beyond ``limit``; NaN for a zero or non-finite effect, or an ``sd`` that is not
    finite and positive)."""
    if not finite(effect, sd) or effect == 0 or sd <= 0:
        return float("nan")
    low, high = 2, 2
    while paired_power(effect, sd, high, alpha) < power:
        low, high = high, high * 2
        if high > limit:
            return float("inf")
    while low < high:  # the smallest n in [low, high] with enough power (power grows with n)
        mid = (low + high) // 2
        if paired_power(effect, sd, mid, alpha) >= power:
            high = mid
        else:
            low = mid + 1
    return float(high)


# the words of comparison_power's note when the interval excludes the paper's difference (the
# report's summary counts the claims whose reason holds them)
RULED_OUT = "ruled out here"


def comparison_power(sd: float, n: int, effect: float | None = None,
                     interval: tuple[float, float] | None = None) -> tuple[float, float, str]:
    """What ``n`` seeds can resolve: ``(mde, need, note)``, the minimum detectable difference
    (80 % power, 5 % level), the seeds ``effect`` (the paper's difference) would need (NaN without
    one) and a sentence saying both and, given the measured 95 % ``interval``, whether it rules
    the paper's difference out (the interval lies wholly on one side of it)."""
    mde = minimum_detectable(sd, n)
    need = seeds_needed(effect, sd) if effect is not None else float("nan")
    if n < 2:
        return mde, need, "power: needs two seeds or more"
    if not finite(sd) or sd <= 0:
        return mde, need, "power: undefined (the paired differences do not vary)"
    note = f"detectable with 80 % power: a difference of at least {mde:.2f}"
    if effect is not None and finite(effect) and effect != 0:
        note += (f"; the paper's {effect:+.2f} would need {int(need)} seeds" if np.isfinite(need)
                 else f"; the paper's {effect:+.2f} is beyond reach")
        if interval is not None and finite(*interval) and not interval[0] <= effect <= interval[1]:
            note += f"; the interval excludes the paper's {effect:+.2f}: a difference that large is {RULED_OUT}"
    return mde, need, note
