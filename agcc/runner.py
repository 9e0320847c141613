"""Execute the book's notebooks in order with papermill, then build the HTML book.

``python -m agcc build --profile default -p NAME VALUE ...``:

1. resolves the profile's parameters plus the overrides (:func:`agcc.params.resolve`: unknown
   names and wrong types are refused before anything runs);
2. executes ``notebooks/NN_*.ipynb`` in order, injecting into every notebook the profile and
   every override (whether or not its ``parameters`` cell shows the name: :func:`agcc.setup`
   resolves the same full configuration in each), writing the executed copy to ``book/notebooks/``
   (where ``_toc.yml`` renders it), printing each notebook's wall time and stopping at the first
   failing notebook with the failing cell and its error;
3. holds the lock of the artifacts folder for the whole build (:func:`agcc.io.build_lock`): a
   second build on the same folder stops at once with a message naming the first;
4. records the resolved configuration, each notebook's wall time and the peak memory of its
   kernel in ``artifacts/<profile>/run.json`` and, before building the book, writes them into the
   table that the page *Performance* includes (:func:`write_performance_table`);
5. builds the book with Jupyter Book (``-W``: warnings are errors) and checks that
   ``_build/html/index.html`` exists.

Notebooks hand data to each other only through the profile's artifacts folder
(:mod:`agcc.paths`), so any notebook can also be executed on its own with papermill.
"""
from __future__ import annotations

import ast
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import nbformat
import papermill as pm
from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum

from .io import build_lock
from .params import ParameterError, resolve, schema
from .paths import Paths, project_root

NOTEBOOKS = "notebooks"
EXECUTED = Path("book") / "notebooks"
PERFORMANCE_TABLE = Path("book") / "generated" / "performance_table.md"  # included by book/performance.md
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
    """Names assigned in the notebook's cell tagged ``parameters`` (exactly one such cell; every
    name declared in ``profiles.yml``)."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise NotebookFailed(f"{notebook.name}: {len(cells)} cells tagged 'parameters' (need exactly one).")

    names = []
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    unknown = [n for n in names if n not in schema()]
    if unknown:
        raise ParameterError(f"{notebook.name} declares parameters missing from profiles.yml: {unknown}")
    return names


def _peak_rss_mib(pid: int) -> float | None:
    """Peak resident set size of a live process, in MiB: ``VmHWM`` of ``/proc/<pid>/status``
    (Linux; the value ``getrusage(RUSAGE_SELF).ru_maxrss`` reports inside the process), else
    psutil's ``peak_wset`` (Windows), else None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    try:
        import psutil

        peak = getattr(psutil.Process(pid).memory_info(), "peak_wset", None)
        return None if peak is None else round(peak / 2**20, 1)
    except Exception:  # pragma: no cover - no psutil, or the process is gone
        return None


def _peak_memory_kernel_manager(measured: dict):
    """A kernel manager class that reads its kernel's peak memory (:func:`_peak_rss_mib`) just
    before shutting the kernel down, into ``measured["peak_rss_mib"]``, and keeps the console
    quiet.

    Read from outside at the end, the peak covers every cell, needs no extra cell in the notebook
    and misses no short peak (as sampling would); worker processes that a notebook starts (e.g.
    :func:`agcc.io.parallel_map`) are separate processes and are not included.

    Quiet: the kernel talks to it over local IPC sockets, not TCP (ipykernel warns on the console
    about unencrypted TCP for every kernel), and a shutdown does not begin with the SIGINT that
    jupyter_client sends by default (a kernel idling in its event loop prints "KeyboardInterrupt
    caught in kernel" to the console); the shutdown request that follows stops it cleanly, and
    jupyter_client still terminates a kernel that does not stop in time.
    """
    class PeakMemoryKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc" if os.name == "posix" else "tcp")

        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:  # a user's interrupt still goes through
                await super()._async_interrupt_kernel()

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            pid = getattr(self.provisioner, "pid", None)
            if pid is not None and not restart:
                measured["peak_rss_mib"] = _peak_rss_mib(pid)
            await super().shutdown_kernel(now=now, restart=restart)

    return PeakMemoryKernelManager


def execute(notebook: Path, output: Path, inject: Mapping[str, Any], *, root: Path,
            progress: bool = True) -> dict[str, Any]:
    """Execute one notebook with papermill, injecting ``inject`` (the profile and the overrides);
    returns ``{"wall_s": seconds, "peak_rss_mib": peak resident memory of its kernel}`` (None where
    it cannot be read).

    Raises :class:`NotebookFailed` with the failing cell's source and error.
    """
    declared_parameters(notebook)  # one parameters cell, declared names only
    output.parent.mkdir(parents=True, exist_ok=True)
    saved = dict(os.environ)
    os.environ.update(KERNEL_ENV)  # the kernel inherits this process's environment
    os.environ["AGCC_PROJECT_ROOT"] = str(root)
    os.environ["AGCC_BUILD_PID"] = str(os.getpid())  # the kernel ends when this process does
    measured: dict[str, Any] = {"peak_rss_mib": None}
    start = time.perf_counter()
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=inject, kernel_name="python3",
                            progress_bar=progress, cwd=str(root), log_output=False,
                            kernel_manager_class=_peak_memory_kernel_manager(measured))
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
    return {"wall_s": round(time.perf_counter() - start, 2), "peak_rss_mib": measured["peak_rss_mib"]}


def _collapse_carriage_returns(text: str) -> str:
    """What a terminal would show of progress-bar output: each line's text after its last ``\r``."""
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))


# A tqdm progress bar's line: "desc: 100%|#####| 36/36 [00:09<00:00, 3.9it/s]".
_PROGRESS_BAR = re.compile(r"^.*\d+%\|.*\|.*\[.*\]\s*$")


def _drop_progress_bars(text: str) -> str:
    """Stderr text without progress-bar lines: on a page they are residue of a terminal view
    (the console shows them while the notebook runs)."""
    return "".join(line for line in text.splitlines(keepends=True) if not _PROGRESS_BAR.match(line))


def clean_executed(path: Path) -> None:
    """Tidy an executed notebook: drop papermill's timestamps (stable diffs of references); show
    the parameters once, folded behind a "show" button in the book (papermill's injected cell,
    which holds this run's values; the notebook's declared defaults are hidden when it has one);
    merge each cell's consecutive stream outputs, keeping only the final state of progress bars
    and dropping progress bars from stderr."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    injected = any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "parameters" in tags and injected:
            fold = "remove-cell"  # overridden by the injected cell below it
        elif {"parameters", "injected-parameters"} & set(tags):
            fold = "hide-input"
        else:
            fold = None
        if fold and fold not in tags:
            tags.append(fold)
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
                if out.name == "stderr":
                    out.text = _drop_progress_bars(out.text)
        cell.outputs = [o for o in merged if o.output_type != "stream" or o.text.strip()]
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
    params = resolve(profile, overrides)  # refused here, before anything runs
    # every notebook resolves resolve(profile, overrides) again from these (agcc.setup)
    inject = {"profile": profile, **{name: params[name] for name in overrides or {}}}
    selected = notebooks(root, only)
    if not selected:
        raise NotebookFailed(f"No notebooks found under {root / NOTEBOOKS}.")
    out_dir = Path(output_dir) if output_dir else root / EXECUTED
    if progress is None:
        progress = sys.stderr.isatty()
    paths = Paths.for_profile(profile, params["artifacts_dir"])
    with build_lock(paths.root):  # one build per artifacts folder (BuildLocked names the other)
        return _run_locked(profile, params, inject, selected, paths, out_dir, root, progress, book)


def _run_locked(profile: str, params: dict, inject: dict, selected: list[Path], paths: Paths, out_dir: Path,
                root: Path, progress: bool, book: bool) -> dict[str, Any]:
    previous = _read_record(paths.run_record)
    record: dict[str, Any] = {"profile": profile, "params": params, "started": time.strftime("%Y-%m-%d %H:%M"),
                              "machine": machine(), "notebooks": {}}
    total = time.perf_counter()
    for k, nb in enumerate(selected, start=1):
        print(f"[{k}/{len(selected)}] {nb.stem} ...", flush=True)
        measured = execute(nb, out_dir / nb.name, inject, root=root, progress=progress)
        clean_executed(out_dir / nb.name)
        record["notebooks"][nb.stem] = measured
        peak = "" if measured["peak_rss_mib"] is None else f", kernel peak {measured['peak_rss_mib']:.0f} MiB"
        print(f"[{k}/{len(selected)}] {nb.stem} done in {measured['wall_s']:.1f} s{peak}", flush=True)
    record["notebooks_wall_s"] = round(time.perf_counter() - total, 2)
    if book:
        write_performance_table(record, previous, root / PERFORMANCE_TABLE)
        start = time.perf_counter()
        record["index_html"] = str(build_book(root))
        record["book_wall_s"] = round(time.perf_counter() - start, 2)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.run_record.write_text(json.dumps(record, indent=2, default=str))
    return record


def machine() -> dict[str, Any]:
    """What the timings of a run depend on: CPU cores, load at the start, platform, versions."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    try:
        import torch

        accelerator = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        torch_version = torch.__version__
    except Exception:  # pragma: no cover - torch is a dependency
        accelerator, torch_version = None, None
    return {"cpu_cores": os.cpu_count(), "load_average_1min": None if load is None else round(load, 2),
            "platform": platform.platform(), "python": platform.python_version(), "torch": torch_version,
            "cuda_device": accelerator}


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_performance_table(record: Mapping[str, Any], previous: Mapping[str, Any] | None, path: Path) -> None:
    """Write the measurements of this run (``record``, as saved to ``run.json``) as the Markdown
    that the page *Performance* (``book/performance.md``) includes.

    The HTML build is timed after this table is written, so its time comes from ``previous`` (the
    ``run.json`` of the profile's last build), if that build made one.
    """
    m = record["machine"]
    gpu = f", GPU {m['cuda_device']}" if m.get("cuda_device") else ", no GPU"
    lines = [f"Profile `{record['profile']}`, run started {record['started']} on {m['cpu_cores']} CPU cores "
             f"(load average {m['load_average_1min']} at the start), {m['platform']}, Python {m['python']}, "
             f"torch {m['torch']}{gpu}.",
             "", "| notebook | wall time (s) | kernel peak memory (MiB) |", "|---|---:|---:|"]
    for name, nb in record["notebooks"].items():
        peak = "n/a" if nb.get("peak_rss_mib") is None else f"{nb['peak_rss_mib']:.0f}"
        lines.append(f"| {name} | {nb['wall_s']:.1f} | {peak} |")
    lines.append(f"| **all notebooks** | **{record['notebooks_wall_s']:.1f}** | |")
    if previous and previous.get("book_wall_s") is not None:
        lines += ["", f"The HTML build (`jupyter-book build`) is timed after this table is written; in the "
                      f"previous build of this profile ({previous.get('started', 'date not recorded')}) it took "
                      f"{previous['book_wall_s']:.1f} s."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def regenerate_references(root: Path | None = None, only: Iterable[str] | None = None) -> list[Path]:
    """Re-execute the notebooks under the ``smoke`` profile into ``tests/notebooks/`` (the nbval
    references that ``make test`` compares against)."""
    root = Path(root or project_root())
    run("smoke", only=only, book=False, output_dir=root / REFERENCES, root=root)
    return sorted((root / REFERENCES).glob("*.ipynb"))
