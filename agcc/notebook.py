"""The one set-up call at the top of every notebook.

``ctx = agcc.setup(globals())`` right after the cell tagged ``parameters``:

* resolves the run's full configuration, ``agcc.params.resolve(profile, given)``: every parameter
  of ``agcc/profiles/profiles.yml`` has a value, typed and checked, whether or not the notebook's
  parameters cell shows it. ``given`` are the values papermill injected (``papermill -p``, or the
  runner's ``python -m agcc build -p``) and the values of the parameters cell that a reader changed
  from the default shown there; a name that is not declared (a typo) or a bad value raises
  :class:`~agcc.params.ParameterError`;
* writes the checked values back into the notebook's namespace (``papermill -r lr 0.5`` injects a
  string; the notebook sees the float);
* fixes the seeds of ``random``, NumPy and (if loaded) torch;
* sets the plotting style and quiet, offline defaults for Hugging Face libraries;
* makes the kernel end when the process that started it ends (:func:`agcc.io.exit_with_parent`);
* returns a :class:`Context` with the parameters (``ctx.params``, or ``ctx.lr``), the artifacts
  :class:`~agcc.paths.Paths` and a seeded ``numpy.random.Generator``.
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
import pandas as pd

from .io import exit_with_parent
from .params import check, resolve, schema
from .paths import Paths

# Names an IPython kernel defines by itself; everything else defined before setup() is a parameter.
_KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
# papermill's injected cell starts with this comment (papermill.translators.PythonTranslator)
_INJECTED = "# Parameters"


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


def _parameters_in(namespace: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The notebook's parameters: ``(values, injected)``, the names set by the executed cells that
    hold only literal assignments (the ``parameters`` cell and papermill's injected cell) with
    their values, and those of them that papermill injected. Outside IPython (no input history
    ``In``, or none stored, as under nbval), every plain non-constant value of the namespace
    counts and none is known to be injected."""
    history = namespace.get("In")
    if isinstance(history, list):
        names, injected = set(), set()
        for src in history:
            assigned = _literal_assignment_cell(src) or []
            names.update(assigned)
            if src.lstrip().startswith(_INJECTED):
                injected.update(assigned)
        if names:
            return {n: namespace[n] for n in names if n in namespace}, injected & set(namespace)
    found = {}
    for name, value in namespace.items():
        if name.startswith("_") or name in _KERNEL_NAMES or name.isupper():
            continue
        if isinstance(value, (types.ModuleType, types.FunctionType, type)) or callable(value):
            continue
        found[name] = value
    return found, set()


def given_parameters(namespace: Mapping[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """``(profile, overrides, names)`` of a notebook namespace: the profile it runs under, the
    values that override the profile's, and every parameter name the namespace defines.

    A parameters cell shows the ``default`` profile's values; a value left as shown takes the
    profile's value (so that ``papermill -p profile smoke`` gives the smoke profile's values), a
    value edited in the cell overrides it, and so does every value papermill injected (even one
    equal to the default). Every name must be declared and every value valid.
    """
    values, injected = _parameters_in(namespace)
    typed = check(values)  # unknown names and bad values are refused here, whatever the profile
    declared = schema()
    profile = typed.pop("profile", declared["profile"].default)
    overrides = {n: v for n, v in typed.items() if n in injected or v != check({n: declared[n].default})[n]}
    return profile, overrides, list(values)


def setup(namespace: dict[str, Any], *, style: bool = True) -> Context:
    """Resolve a notebook's configuration, fix seeds and styles, return the run's :class:`Context`.

    Parameters
    ----------
    namespace
        The notebook's ``globals()`` right after the parameters cell (and papermill's injected
        cell): every plain value defined there must be a declared parameter. The resolved values of
        those names are written back into it.
    style
        Apply the book's matplotlib style.
    """
    profile, overrides, names = given_parameters(namespace)
    params = resolve(profile, overrides)
    for name in names:  # the checked values, not a string papermill -r injected
        namespace[name] = params[name]

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
