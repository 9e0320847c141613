"""The paper's reported values (``agcc/data/paper_results.yml``), for display beside measured ones.

Nothing in the pipeline computes with these numbers: report pages and notebooks only show them
next to the values this book measures, labelled as the paper's.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd
import yaml


@lru_cache(maxsize=1)
def _data() -> dict:
    return yaml.safe_load(resources.files("agcc").joinpath("data/paper_results.yml").read_text(encoding="utf-8"))


def table_i() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's Table I: (per-cluster overlap, average overlap per emotion), vowels as columns."""
    t = _data()["table_i"]
    per = pd.DataFrame(t["per_cluster"], index=t["vowels"]).T.rename_axis("AG Cluster")
    avg = pd.DataFrame(t["average"], index=t["vowels"]).T.rename_axis("emotion")
    return per.astype(float), avg.astype(float)


def table_ii() -> pd.DataFrame:
    """The paper's Table II: UAR (%) per model and direction."""
    t = _data()["table_ii"]
    rows = [{"model": r["model"], "direction": r["direction"], **dict(zip(t["columns"], r["values"]))} for r in t["rows"]]
    return pd.DataFrame(rows).set_index(["model", "direction"])
