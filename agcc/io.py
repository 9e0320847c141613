"""Small helpers shared by the pipeline stages: atomic file writes, a parallel map, and the torch
device every GPU-capable stage uses.

Every cache and artifact the notebooks hand to each other is written through :func:`atomic_write`,
so an interrupted run never leaves a half-written file that a later run would trust. Stages that
work per utterance (rendering the simulated corpora, cutting vowel tokens) use
:func:`parallel_map`, which runs in worker processes only when there is enough work to pay for
starting them.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm


def atomic_write(path, write: Callable) -> None:
    """Call ``write(fh)`` on a binary temp file in ``path``'s folder, then ``os.replace`` it onto
    ``path``: readers see the old file or the whole new one, never half of it. The temp file is
    removed if ``write`` raises."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parallel_map(fn: Callable, items: Sequence, *, workers: int = 0, desc: str = "", unit: str = "it",
                 progress: bool = True, min_items: int = 8, chunksize: int = 8) -> list:
    """``[fn(x) for x in items]`` with a progress bar, in ``workers`` processes (0 = one per core).

    Runs in this process when one worker is asked for or when there are fewer than ``min_items``
    items (starting workers costs about a second). Workers start with ``forkserver`` (``spawn``
    where unavailable), which is safe inside a Jupyter kernel; ``fn`` must be importable
    (a module-level function). Results keep the order of ``items``.
    """
    workers = workers or os.cpu_count() or 1
    bar = dict(total=len(items), desc=desc, unit=unit, disable=not progress, mininterval=1.0)
    if workers <= 1 or len(items) < min_items:
        return [fn(x) for x in tqdm(items, **bar)]
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp_context=mp.get_context(method)) as pool:
        return list(tqdm(pool.map(fn, items, chunksize=chunksize), **bar))


def cached_by_key(folder, key: str, load: Callable, compute: Callable, save: Callable):
    """``load()`` if ``folder/inputs.sha256`` holds ``key``; else ``compute()``, ``save(result)``
    and record ``key`` — the stamp is removed first and written last, so a run interrupted while
    saving is recomputed next time rather than trusted."""
    folder = Path(folder)
    stamp = folder / "inputs.sha256"
    if stamp.is_file() and stamp.read_text().strip() == key:
        return load()
    result = compute()
    stamp.unlink(missing_ok=True)
    save(result)
    atomic_write(stamp, lambda fh: fh.write(key.encode()))
    return result


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
