"""Small helpers shared by the pipeline stages: atomic, digest-checked file writes, a parallel
map whose workers die with the build, a lock of one build per artifacts folder, and the torch
device every GPU-capable stage uses.

Every cache and artifact the notebooks hand to each other is written through :func:`atomic_write`,
so an interrupted run never leaves a half-written file that a later run would trust. Caches also
carry a sha256 digest of their content, checked when they are read (a truncated, bit-flipped or
hand-edited file is recomputed with a one-line message naming it, never trusted):

* a folder cached as a whole (:func:`cached_by_key`: segments, clusterings, training data) lists
  the digest and size of each of its files in its stamp ``inputs.sha256``;
* a single cache file (a feature entry) has a ``<name>.sha256`` sidecar (``atomic_write(...,
  digest=True)``, :func:`check_file`);
* a JSON record (a grid run, a simulated corpus's manifest) embeds the digest of its own content
  (:func:`dumps_checked`, :func:`loads_checked`);
* a large file shared by several cached folders (the training frames of the k ablation) lives in
  one of them; the others hold a *reference* (:func:`write_reference`, ``<name>.ref.json``) with
  its digest, checked like a file of their own (:func:`resolve_reference`, :func:`verify_folder`).

Stages that work per utterance (rendering the simulated corpora, cutting vowel tokens) use
:func:`parallel_map`, which runs in worker processes only when there is enough work to pay for
starting them; its workers (and the grid's, :mod:`agcc.grid`) end when the process that started
them ends (:func:`exit_with_parent`), so a killed build leaves no worker writing files.
"""
from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

DIGEST_SUFFIX = ".sha256"
REFERENCE_SUFFIX = ".ref.json"  # a file standing for a file of another cached folder (write_reference)


class CacheError(ValueError):
    """A cache or run file is missing, unreadable or not what its digest says; the message names
    the file. Callers recompute what it held."""


class BuildLocked(RuntimeError):
    """Another live build holds the artifacts folder's lock; the message names its pid and start."""


def _file_mode() -> int:
    """``0o666`` less the process's umask: the mode ``open()`` would give a new file (mkstemp
    gives 0600, which other users of the group, e.g. Dask workers, cannot read)."""
    try:  # Linux: read without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def sha256_file(path) -> str:
    """Hex sha256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def atomic_write(path, write: Callable, *, digest: bool = False) -> None:
    """Call ``write(fh)`` on a binary temp file in ``path``'s folder, then ``os.replace`` it onto
    ``path``: readers see the old file or the whole new one, never half of it. The temp file is
    removed if ``write`` raises. The file gets the mode a plain ``open()`` would (group-readable
    under the usual umask). ``digest=True`` then writes the sidecar ``<path>.sha256`` (digest and
    size) that :func:`check_file` verifies; the sidecar is removed first and written last, so a
    run killed in between leaves a file that is not trusted."""
    path = Path(path)
    sidecar = path.with_name(path.name + DIGEST_SUFFIX)
    if digest:
        sidecar.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".tmp")
    try:
        os.chmod(tmp, _file_mode())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if digest:
        line = f"{sha256_file(path)} {path.stat().st_size}\n".encode()
        atomic_write(sidecar, lambda fh: fh.write(line))


def _verify(path: Path, sha: str, size: int) -> None:
    """Raise :class:`CacheError` unless ``path`` holds ``size`` bytes with sha256 ``sha``."""
    if not path.is_file():
        raise CacheError(f"{path}: missing")
    actual = path.stat().st_size
    if actual != size:
        raise CacheError(f"{path}: {'truncated' if actual < size else 'longer than written'} "
                         f"({actual} of {size} bytes)")
    if sha256_file(path) != sha:
        raise CacheError(f"{path}: content changed since it was written (sha256 differs)")


def check_file(path) -> None:
    """Raise :class:`CacheError` unless ``path`` matches its ``.sha256`` sidecar (written by
    ``atomic_write(..., digest=True)``)."""
    path = Path(path)
    sidecar = path.with_name(path.name + DIGEST_SUFFIX)
    try:
        sha, size = sidecar.read_text().split()
        size = int(size)
    except (OSError, ValueError):
        raise CacheError(f"{path}: no valid digest ({sidecar.name} missing or unreadable)") from None
    _verify(path, sha, size)


def report(message: str) -> None:
    """One line on stderr (a cache recomputed, a run redone): never a traceback."""
    print(f"agcc: {message}", file=sys.stderr, flush=True)


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=float).encode()


def dumps_checked(obj: dict, **dump_options) -> bytes:
    """JSON of ``obj`` with the sha256 of its canonical JSON embedded as ``"sha256"``."""
    body = json.loads(json.dumps(obj, default=float))  # the values (and key order) as they will read back
    return json.dumps({**body, "sha256": hashlib.sha256(_canonical(body)).hexdigest()},
                      **dump_options).encode()


def loads_checked(path) -> dict:
    """Read a JSON record written by :func:`dumps_checked`; returns it without ``"sha256"``.
    Raises :class:`CacheError` naming the file when it is unreadable, truncated, not an object,
    without a digest or not matching it (e.g. edited by hand)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CacheError(f"{path}: unreadable ({type(err).__name__}: {err})") from None
    if not isinstance(obj, dict) or "sha256" not in obj:
        raise CacheError(f"{path}: no embedded digest (not written by this version)")
    sha = obj.pop("sha256")
    if hashlib.sha256(_canonical(obj)).hexdigest() != sha:
        raise CacheError(f"{path}: content changed since it was written (sha256 differs)")
    return obj


def stamp_key(folder) -> str:
    """The inputs key recorded in ``folder/inputs.sha256`` by :func:`cached_by_key` (``""`` if none)."""
    try:
        return (Path(folder) / "inputs.sha256").read_text().split("\n", 1)[0].strip()
    except OSError:
        return ""


def _files_of(folder: Path, stamp: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p != stamp and ".tmp" not in p.name and not p.name.startswith("."))


def verify_folder(folder, hint: str = "") -> None:
    """Raise :class:`CacheError` naming the file (and ``hint``, what to run) unless every file
    that ``folder/inputs.sha256`` lists still has its recorded digest and size, and every
    reference among them (:func:`write_reference`) still stands for a file with its digest."""
    folder = Path(folder)
    stamp = folder / "inputs.sha256"
    try:
        try:
            lines = stamp.read_text().splitlines()
        except OSError:
            raise CacheError(f"{folder}: no finished result ({stamp.name} missing)") from None
        listed = [line.split(" ", 2) for line in lines[1:] if line.strip()]
        if not listed:
            raise CacheError(f"{stamp}: lists no file digests (written by an older version)")
        for sha, size, name in listed:
            _verify(folder / name, sha, int(size))
            if name.endswith(REFERENCE_SUFFIX):  # and the file it stands for
                resolve_reference(folder / name, deep=True)
    except CacheError as err:
        raise CacheError(f"{err}{'; ' + hint if hint else ''}") from None


def _stamped(path: Path) -> tuple[str, int] | None:
    """(sha256, size) that the stamp of ``path``'s folder records for it, or None."""
    try:
        lines = (path.parent / "inputs.sha256").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[2] == path.name:
            return parts[0], int(parts[1])
    return None


def write_reference(path, target) -> None:
    """Write ``path`` (a ``.ref.json`` file) standing for ``target``, a file of another folder,
    instead of a copy of it: the target's path relative to ``path``'s folder, its sha256 and size
    (taken from the target folder's stamp when it lists the file, else hashed). A folder cached by
    :func:`cached_by_key` lists the reference like any file, and :func:`verify_folder` checks the
    target against the recorded digest."""
    path, target = Path(path), Path(target).resolve()
    if not target.is_file():
        raise CacheError(f"{target}: missing (the file {path.name} would stand for)")
    sha, size = _stamped(target) or (sha256_file(target), target.stat().st_size)
    text = json.dumps({"target": os.path.relpath(target, path.parent.resolve()), "sha256": sha, "size": size},
                      indent=1).encode()
    atomic_write(path, lambda fh: fh.write(text))


def resolve_reference(path, deep: bool = True) -> Path:
    """The file a reference (:func:`write_reference`) stands for, once checked: present, of the
    recorded size and, when its folder's stamp lists it, with the recorded digest there (both
    cheap); ``deep`` also hashes its bytes. Raises :class:`CacheError` naming both files."""
    path = Path(path)
    try:
        ref = json.loads(path.read_text())
        target, sha, size = (path.parent / ref["target"]).resolve(), str(ref["sha256"]), int(ref["size"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CacheError(f"{path}: unreadable reference ({type(err).__name__}: {err})") from None
    try:
        if not target.is_file():
            raise CacheError(f"{target}: missing")
        stamped = _stamped(target)
        if stamped is not None and stamped != (sha, size):
            raise CacheError(f"{target}: recomputed since the reference was written (its folder's digest differs)")
        if deep:
            _verify(target, sha, size)
        elif target.stat().st_size != size:
            raise CacheError(f"{target}: {target.stat().st_size} bytes, the reference recorded {size}")
    except CacheError as err:
        raise CacheError(f"{err} (referenced by {path})") from None
    return target


def cached_by_key(folder, key: str, load: Callable, compute: Callable, save: Callable):
    """``load()`` if ``folder/inputs.sha256`` holds ``key`` and every file it lists still has its
    recorded digest and size (:func:`verify_folder`); else ``compute()``, ``save(result)`` and
    record ``key`` with the digests of the files ``save`` wrote.

    The stamp is removed first and written last, so a run interrupted while saving is recomputed
    next time rather than trusted; a file truncated, changed or unreadable later (or a ``load``
    that fails) is reported in one line naming it, and recomputed.
    """
    folder = Path(folder)
    stamp = folder / "inputs.sha256"
    if stamp_key(folder) == key:
        try:
            verify_folder(folder)
            return load()
        except Exception as err:  # noqa: BLE001 - anything unreadable is recomputed, never trusted
            why = str(err) if isinstance(err, CacheError) else f"{folder}: unreadable ({type(err).__name__}: {err})"
            report(f"{why}; recomputing")
    result = compute()
    folder.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    save(result)
    lines = [key] + [f"{sha256_file(p)} {p.stat().st_size} {p.name}" for p in _files_of(folder, stamp)]
    text = ("\n".join(lines) + "\n").encode()
    atomic_write(stamp, lambda fh: fh.write(text))
    return result


# ------------------------------------------------------------------------------------------------
# Processes: workers that end with their parent, one build per artifacts folder
# ------------------------------------------------------------------------------------------------
_watcher_pid = None  # the process whose watcher thread runs (threads do not survive a fork)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        pass
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would send CTRL_C_EVENT there
        try:
            import psutil
        except ImportError:
            return True
        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or no signals here
        return True
    return True


def exit_with_parent(pid: int | None = None, interval: float = 0.5) -> None:
    """End this process (``os._exit``) soon after process ``pid`` (default: its parent) ends.

    Started once per process by the worker processes of :func:`parallel_map` (watching the
    process that called it; their own parent is the forkserver), by the forkserver itself
    (:mod:`agcc._orphan_guard`), by the grid's workers (:func:`agcc.grid.run_grid`) and by each
    notebook's kernel (:func:`agcc.setup`): when a build is killed (even by SIGKILL, which runs no
    clean-up), its kernel, the kernel's workers and their workers notice within ``interval``
    seconds and exit instead of computing and writing on. A daemon thread polls (portable;
    Linux's ``PR_SET_PDEATHSIG`` would not cover the chain through the forkserver)."""
    global _watcher_pid
    if _watcher_pid == os.getpid():
        return
    _watcher_pid = os.getpid()
    parent = os.getppid()

    def gone() -> bool:
        return os.getppid() != parent if pid is None else not _alive(pid)

    def watch() -> None:
        while not gone():
            time.sleep(interval)
        os._exit(70)

    threading.Thread(target=watch, name="agcc-exit-with-parent", daemon=True).start()


def parallel_map(fn: Callable, items: Sequence, *, workers: int = 0, desc: str = "", unit: str = "it",
                 progress: bool = True, min_items: int = 8, chunksize: int = 8) -> list:
    """``[fn(x) for x in items]`` with a progress bar, in ``workers`` processes (0 = one per core).

    Runs in this process when one worker is asked for or when there are fewer than ``min_items``
    items (starting workers costs about a second). Workers start with ``forkserver`` (``spawn``
    where unavailable), which is safe inside a Jupyter kernel, and end when this process ends
    (:func:`exit_with_parent`); ``fn`` must be importable (a module-level function). Results keep
    the order of ``items``.
    """
    workers = workers or os.cpu_count() or 1
    bar = dict(total=len(items), desc=desc, unit=unit, disable=not progress, mininterval=1.0)
    if workers <= 1 or len(items) < min_items:
        return [fn(x) for x in tqdm(items, **bar)]
    if "forkserver" in mp.get_all_start_methods():
        context = mp.get_context("forkserver")
        # the forkserver outlives a killed parent unless told otherwise: it imports the guard
        context.set_forkserver_preload(["__main__", "agcc._orphan_guard"])
    else:
        context = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=exit_with_parent,
                             initargs=(os.getpid(),)) as pool:
        return list(tqdm(pool.map(fn, items, chunksize=chunksize), **bar))


@contextlib.contextmanager
def build_lock(folder):
    """Hold ``folder/.build.lock`` for the duration of a build: a second build on the same
    artifacts folder raises :class:`BuildLocked` naming the holder (pid, host, start time).

    POSIX: an ``flock`` on the file, which the kernel releases when the holder dies however it
    dies, so the lock of a killed build is simply taken over. Elsewhere: the file is created
    exclusively and holds the pid; a file whose process is gone is taken over."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".build.lock"
    me = f"pid {os.getpid()} on {socket.gethostname()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}"

    def holder() -> str:
        try:
            return path.read_text().strip() or "unknown process"
        except OSError:
            return "unknown process"

    def refuse():
        return BuildLocked(f"another build is using {folder} ({holder()}); wait for it to finish or "
                           f"stop it, or choose another artifacts_dir")

    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None
    if fcntl is not None:
        fh = open(path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise refuse() from None
        left = holder()
        if left != "unknown process":  # written by a build that died without releasing its file
            report(f"taking over the lock left by a build that is gone ({left})")
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(me + "\n")
            fh.flush()
            yield path
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()
        return
    for _ in range(2):  # pragma: no cover - Windows
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            text = holder()
            pid = int(text.split()[1]) if text.startswith("pid ") and text.split()[1].isdigit() else None
            if pid is not None and not _alive(pid):
                report(f"taking over the lock of build {text} (process gone)")
                path.unlink(missing_ok=True)
                continue
            raise refuse() from None
    else:
        raise refuse()
    try:  # pragma: no cover - Windows
        os.write(fd, (me + "\n").encode())
        os.close(fd)
        yield path
    finally:  # pragma: no cover - Windows
        path.unlink(missing_ok=True)


def torch_device(device=None):
    """The torch device to use: ``None`` or ``"auto"`` give CUDA when available, else the CPU; a
    CUDA request on a machine without CUDA falls back to the CPU (every GPU path does so by
    itself); anything else (a name or a ``torch.device``) is used as given."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    return device


def source_key(source: str, leave_out=()) -> str:
    """sha256 of a module's code: its syntax tree without docstrings (and without comments and
    layout, which the tree does not hold), leaving out the top-level classes named in
    ``leave_out``. Editing a docstring, a comment or the line breaks leaves it unchanged: the
    key of stored training runs (:func:`agcc.train.code_key`) and of cached clusterings
    (:func:`agcc.clustering.code_key`)."""
    tree = ast.parse(source)
    tree.body = [node for node in tree.body if not (isinstance(node, ast.ClassDef) and node.name in leave_out)]
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:]
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()
