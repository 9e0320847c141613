"""The corpora of a run: for every registered corpus, its real copy when its root parameter is
given, else its simulated twin, generated once per artifacts folder (``corpora/<name>/``)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from .registry import corpora


def ensure_corpora(params: Mapping, paths, *, progress: bool = True) -> dict[str, Path]:
    """Roots of the corpora a run uses, by name in registration order: the real ones when given,
    else the simulated twins under ``paths.corpus(name)`` (generated on first use, reused
    afterwards). With ``require_real_corpora``, a missing root is refused before anything is
    generated."""
    roots = {}
    for corpus in corpora():
        given = params.get(corpus.root_param, "")
        if given:
            if not Path(given).is_dir():
                raise FileNotFoundError(f"{corpus.root_param} = {given!r} is not a folder.")
            roots[corpus.name] = Path(given)
        elif params.get("require_real_corpora"):
            raise ValueError(
                f"Profile {params.get('profile')!r} runs on the real corpora: pass "
                f"-p {corpus.root_param} /path/to/{corpus.display} (see the book's "
                "'Running on the real corpora' page)."
            )
    for corpus in corpora():
        if corpus.name not in roots:
            roots[corpus.name] = corpus.simulate(paths.corpus(corpus.name), params, progress=progress)
    return {c.name: roots[c.name] for c in corpora()}
