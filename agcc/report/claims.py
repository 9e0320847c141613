"""A claim of the paper and its verdict on this run (:class:`Claim`), the claims as one table,
selected by id, and counted."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

from ..stats import CANNOT, FAILS, HOLDS, VERDICTS


@dataclass
class Claim:
    """One claim of the paper and its verdict on this run."""

    id: str
    where: str  # table or figure of the paper
    claim: str  # the paper's statement, in short
    criterion: str  # how this report judges it
    paper: str  # the paper's own number(s)
    measured: str  # this run's number(s)
    verdict: str
    why: str
    detail: pd.DataFrame | None = field(default=None, repr=False)


def claims_table(claims: Iterable[Claim]) -> pd.DataFrame:
    """The claims as one table (no detail frames)."""
    rows = [{"id": c.id, "where": c.where, "claim (paper)": c.claim, "criterion": c.criterion,
             "paper": c.paper, "measured": c.measured, "verdict": c.verdict, "why": c.why}
            for c in claims]
    return pd.DataFrame(rows, columns=["id", "where", "claim (paper)", "criterion", "paper",
                                       "measured", "verdict", "why"])


def _cannot(id_, where, claim, criterion, paper_value, why) -> Claim:
    return Claim(id_, where, claim, criterion, paper_value, "", CANNOT, why)


def verdict_counts(claims: Iterable[Claim]) -> pd.Series:
    """How many claims got each verdict (all four verdicts listed, zeros included)."""
    counts = pd.Series([c.verdict for c in claims]).value_counts()
    return counts.reindex(list(VERDICTS), fill_value=0).rename("claims")


def summary_sentence(claims: Iterable[Claim]) -> str:
    """"Of N claims: a hold, b do not hold, ..." (Markdown)."""
    counts = verdict_counts(list(claims))
    plural = {HOLDS: "hold", FAILS: "do not hold"}
    parts = [f"**{n}** {v if n == 1 else plural.get(v, v)}" for v, n in counts.items() if n]
    return f"Of the {int(counts.sum())} claims judged here: " + "; ".join(parts) + "."


def by_id(claims: Iterable[Claim], *ids: str) -> list[Claim]:
    """The claims with the given ids, in the order asked (ids starting with a prefix ending in
    ``-`` select every claim of that group, e.g. ``"T2-"``); an unknown id raises ``KeyError``
    naming the ids there are, so a page never shows the wrong claim silently."""
    claims = list(claims)
    known = [c.id for c in claims]
    picked = []
    for wanted in ids:
        hits = ([c for c in claims if c.id.startswith(wanted)] if wanted.endswith("-")
                else [c for c in claims if c.id == wanted])
        if not hits:
            raise KeyError(f"no claim {wanted!r}; the claims are {', '.join(known)}")
        picked += hits
    return picked
