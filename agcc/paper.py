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


def text_gains() -> dict[tuple[str, str], float]:
    """AG-CC's 4-CAT improvements over a baseline as stated in the paper's text (Sec. IV), by
    ``(baseline, direction)``; they may differ from the table's own differences."""
    return {(g["baseline"], g["direction"]): float(g["value"]) for g in _data()["table_ii"]["text_gains"]}


def corpora() -> dict[str, dict]:
    """The corpora as the paper describes them (Sec. II-A), by corpus code (``crema_d``,
    ``msp_improv``): ``speakers``, ``utterances`` and the paper's ``words``."""
    return {name: dict(spec) for name, spec in _data()["corpora"].items()}


def caption(name: str) -> str:
    """The paper's caption of ``"table_i"``, ``"table_ii"``, ``"fig1"``, ``"fig2"`` or ``"fig3"``."""
    data = _data()
    if name in ("table_i", "table_ii"):
        return data[name]["caption"]
    try:
        return data["figures"][name]
    except KeyError:
        raise KeyError(f"no paper caption named {name!r}; have table_i, table_ii, "
                       f"{', '.join(data['figures'])}") from None
