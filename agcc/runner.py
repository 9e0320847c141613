"""Execute the book's notebooks in order with papermill, then build the HTML book.

``python -m agcc build --profile default -p NAME VALUE ...``:

1. resolves the profile's parameters plus the overrides (:func:`agcc.params.resolve`: unknown
   names and wrong types are refused before anything runs);
2. executes ``notebooks/NN_*.ipynb`` in order, injecting to each notebook the parameters its
   ``parameters`` cell declares, writing the executed copy to ``book/notebooks/`` (where
   ``_toc.yml`` renders it), printing each notebook's wall time and stopping at the first failing
   notebook with the failing cell and its error;
3. builds the book with Jupyter Book (``-W``: warnings are errors) and checks that
   ``_build/html/index.html`` exists.

Notebooks hand data to each other only through the profile's artifacts folder
(:mod:`agcc.paths`), so any notebook can also be executed on its own with papermill.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from .params import ParameterError, resolve, schema
from .paths import Paths, project_root

NOTEBOOKS = "notebooks"
EXECUTED = Path("book") / "notebooks"
REFERENCES = Path("tests") / "notebooks"
KERNEL_ENV = {
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # silences debugpy's frozen-modules warning in outputs
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_MININTERVAL": "2",
}


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook, the cell and the error."""


def notebooks(root: Path | None = None, only: Iterable[str] | None = None) -> list[Path]:
    """The pipeline's notebooks in execution order (``notebooks/NN_name.ipynb``)."""
    root = root or project_root()
    found = sorted((root / NOTEBOOKS).glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = list(only)
        picked = [nb for nb in found if nb.stem in wanted or nb.name in wanted
                  or nb.stem.split("_", 1)[0] in wanted]
        missing = [w for w in wanted if not any(w in (nb.stem, nb.name, nb.stem[:2]) for nb in picked)]
        if missing:
            raise ParameterError(f"No notebook named {', '.join(missing)}; have {', '.join(nb.stem for nb in found)}.")
        found = picked
    return found


def declared_parameters(notebook: Path) -> list[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (exactly one such cell)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise NotebookFailed(f"{notebook.name}: {len(cells)} cells tagged 'parameters' (need exactly one).")
    import ast

    names = []
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    unknown = [n for n in names if n not in schema()]
    if unknown:
        raise ParameterError(f"{notebook.name} declares parameters missing from profiles.yml: {unknown}")
    return names


def execute(notebook: Path, output: Path, params: Mapping[str, Any], *, root: Path,
            progress: bool = True) -> float:
    """Execute one notebook with papermill; returns its wall time in seconds.

    Raises :class:`NotebookFailed` with the failing cell's source and error.
    """
    import papermill as pm

    inject = {name: params[name] for name in declared_parameters(notebook) if name in params}
    output.parent.mkdir(parents=True, exist_ok=True)
    saved = dict(os.environ)
    os.environ.update(KERNEL_ENV)  # the kernel inherits this process's environment
    os.environ["AGCC_PROJECT_ROOT"] = str(root)
    start = time.perf_counter()
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=inject, kernel_name="python3",
                            progress_bar=progress, cwd=str(root), log_output=False)
    except pm.PapermillExecutionError as err:
        source = "\n".join("    " + line for line in (err.source or "").splitlines())
        raise NotebookFailed(
            f"{notebook.name} failed in cell {err.cell_index} (execution count {err.exec_count}):\n"
            f"{source}\n{err.ename}: {err.evalue}\n"
            f"The partly executed notebook is {output}"
        ) from None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return time.perf_counter() - start


def _collapse_carriage_returns(text: str) -> str:
    """What a terminal would show of progress-bar output: each line's text after its last ``\r``."""
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))


def clean_executed(path: Path) -> None:
    """Tidy an executed notebook: drop papermill's timestamps (stable diffs of references), fold
    the parameter cells (the declared defaults and papermill's injected values) behind a "show"
    button in the book, and merge each cell's consecutive stream outputs, keeping only the final
    state of progress bars."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "hide-input" not in tags:
            tags.append("hide-input")
        merged = []
        for out in cell.outputs:
            if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                    and merged[-1].name == out.name):
                merged[-1].text += out.text
            else:
                merged.append(out)
        for out in merged:
            if out.output_type == "stream":
                out.text = _collapse_carriage_returns(out.text)
        cell.outputs = merged
    nbformat.write(nb, path)


def build_book(root: Path) -> Path:
    """Run ``jupyter-book build`` with warnings as errors; returns the path of ``index.html``."""
    exe = Path(sys.executable).with_name("jupyter-book")
    # -W: warnings (broken {doc} links, bad directives, autodoc import errors) fail the build.
    # Not -n: nitpicky mode cannot resolve numpy/pandas types offline (no intersphinx).
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "-W", "--keep-going"]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=root)
    index = root / "_build" / "html" / "index.html"
    if proc.returncode != 0:
        raise NotebookFailed(f"jupyter-book build failed (exit {proc.returncode}); see the log above.")
    if not index.is_file():
        raise NotebookFailed(f"jupyter-book reported success but {index} does not exist.")
    return index


def run(profile: str = "default", overrides: Mapping[str, Any] | None = None, *,
        only: Iterable[str] | None = None, book: bool = True, output_dir: Path | None = None,
        root: Path | None = None, progress: bool | None = None) -> dict[str, Any]:
    """Execute the notebooks (all, or ``only``) under ``profile`` and optionally build the book.

    Returns the run record (parameters, per-notebook wall times, path of ``index.html``), also
    written to ``artifacts/<profile>/run.json``.
    """
    root = Path(root or project_root())
    params = resolve(profile, overrides)
    selected = notebooks(root, only)
    if not selected:
        raise NotebookFailed(f"No notebooks found under {root / NOTEBOOKS}.")
    used = set().union(*(declared_parameters(nb) for nb in selected))
    unused = sorted(set(overrides or {}) - used)
    if unused:
        print(f"note: no selected notebook takes {', '.join(unused)}; it has no effect here.")
    out_dir = Path(output_dir) if output_dir else root / EXECUTED
    if progress is None:
        progress = sys.stderr.isatty()
    record: dict[str, Any] = {"profile": profile, "params": params, "notebooks": {}}
    total = time.perf_counter()
    for k, nb in enumerate(selected, start=1):
        print(f"[{k}/{len(selected)}] {nb.stem} ...", flush=True)
        seconds = execute(nb, out_dir / nb.name, params, root=root, progress=progress)
        clean_executed(out_dir / nb.name)
        record["notebooks"][nb.stem] = {"wall_s": round(seconds, 2)}
        print(f"[{k}/{len(selected)}] {nb.stem} done in {seconds:.1f} s", flush=True)
    record["notebooks_wall_s"] = round(time.perf_counter() - total, 2)
    if book:
        start = time.perf_counter()
        record["index_html"] = str(build_book(root))
        record["book_wall_s"] = round(time.perf_counter() - start, 2)
    paths = Paths.for_profile(profile, params["artifacts_dir"])
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.run_record.write_text(json.dumps(record, indent=2, default=str))
    return record


def regenerate_references(root: Path | None = None, only: Iterable[str] | None = None) -> list[Path]:
    """Re-execute the notebooks under the ``smoke`` profile into ``tests/notebooks/`` (the nbval
    references that ``make test`` compares against)."""
    root = Path(root or project_root())
    run("smoke", only=only, book=False, output_dir=root / REFERENCES, root=root)
    return sorted((root / REFERENCES).glob("*.ipynb"))
