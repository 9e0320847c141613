"""The one set-up call at the top of every notebook.

``ctx = agcc.setup(globals())`` right after the cell tagged ``parameters``:

* validates the notebook's parameters against ``agcc/profiles/profiles.yml`` — a name that is not
  declared (a typo in ``papermill -p``) or a value of the wrong type raises :class:`ParameterError`;
* fixes the seeds of ``random``, NumPy and (if loaded) torch;
* sets the plotting style and quiet, offline defaults for Hugging Face libraries;
* makes the kernel end when the process that started it ends (:func:`agcc.io.exit_with_parent`);
* returns a :class:`Context` with the parameters, the artifacts :class:`~agcc.paths.Paths` and a
  seeded ``numpy.random.Generator``.
"""
from __future__ import annotations

import ast
import os
import random
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .io import exit_with_parent
from .params import ParameterError, check, schema
from .paths import Paths

# Names an IPython kernel defines by itself; everything else defined before setup() is a parameter.
_KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


@dataclass
class Context:
    """What a notebook gets from :func:`setup`."""

    params: dict[str, Any]
    paths: Paths
    rng: np.random.Generator = field(repr=False)

    def __getattr__(self, name: str) -> Any:  # ctx.seed, ctx.profile, ...
        try:
            return self.params[name]
        except KeyError:
            raise AttributeError(name) from None


def _literal_assignment_cell(source: str) -> list[str] | None:
    """Names assigned by a cell made only of ``name = <literal>`` lines (a parameters cell or
    papermill's injected one); ``None`` for any other cell."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    names = []
    for node in body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            return None
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return None
        names.append(node.targets[0].id)
    return names or None


def _parameters_in(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's parameters: names set by the executed cells that hold only literal
    assignments (the ``parameters`` cell and papermill's injected cell). Outside IPython (no
    input history ``In``, or none stored), every plain non-constant value of the namespace counts."""
    history = namespace.get("In")
    if isinstance(history, list):
        names = {n for src in history for n in (_literal_assignment_cell(src) or [])}
        if names:
            return {n: namespace[n] for n in names if n in namespace}
    # No usable history (plain Python, or a kernel that does not store it, as under nbval).
    found = {}
    for name, value in namespace.items():
        if name.startswith("_") or name in _KERNEL_NAMES or name.isupper():
            continue
        if isinstance(value, (types.ModuleType, types.FunctionType, type)) or callable(value):
            continue
        found[name] = value
    return found


def setup(namespace: Mapping[str, Any], *, style: bool = True) -> Context:
    """Validate a notebook's parameters, fix seeds and styles, return the run's :class:`Context`.

    Parameters
    ----------
    namespace
        The notebook's ``globals()`` right after the parameters cell: every plain value defined
        there must be a declared parameter.
    style
        Apply the book's matplotlib style.
    """
    given = _parameters_in(namespace)
    params = check(given)
    if "profile" not in params:
        raise ParameterError("A notebook must declare the `profile` parameter.")
    declared = schema()
    for name in ("seed", "artifacts_dir"):
        params.setdefault(name, declared[name].default)

    seed = params["seed"]
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    warnings.filterwarnings("ignore", message="IProgress not found")
    if style:
        _plot_style()
    try:
        import pandas as pd

        pd.set_option("display.precision", 3)
        pd.set_option("display.max_columns", 30)
        pd.set_option("display.width", 120)
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass

    build = os.environ.get("AGCC_BUILD_PID", "")  # set by the runner for its kernels
    exit_with_parent(int(build) if build.isdigit() else None)  # a kernel whose build dies ends with it
    paths = Paths.for_profile(params["profile"], params["artifacts_dir"]).make()
    return Context(params=params, paths=paths, rng=np.random.default_rng(seed))


def _plot_style() -> None:
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "figure.figsize": (8.0, 4.0),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "legend.frameon": False,
            "svg.hashsalt": "agcc",
        }
    )
