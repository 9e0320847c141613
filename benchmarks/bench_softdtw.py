"""Benchmark: soft-DTW time-series k-means, tslearn (reference) against agcc.softdtw (batched torch).

    .venv/bin/python benchmarks/bench_softdtw.py [--reps 3] [--skip-random] [--skip-ag]

Same fits for both: k = 10, 10 iterations, 20 L-BFGS iterations per barycenter update, gamma 1,
random_state 0 (agcc's k-means++ seeding draws like tslearn's, so both start from the same
barycenters). Data: random series of shape (2000, 12, 24), and the validation AG segments of the
default profile (standardised as in agcc.clustering.fit_kmeans) if ``artifacts/default/segments``
exists.

Each implementation runs in its own worker process; the fits are interleaved (tslearn, agcc,
tslearn, agcc, ...) so that both see the same load, and the best of ``--reps`` is reported.
tslearn's numba compilation (paid once per process) is measured separately and excluded from its
fit times. Both workers run on one thread (BLAS included): tslearn's soft-DTW is single-threaded,
and on a shared machine spinning BLAS threads distort the times. One more agcc row uses two
threads (``SoftDTWKMeans(threads=2)``), on machines with two cores or more. tslearn's own way to
use a second core, ``n_jobs=2`` (joblib threads, one task per pair of series), made the random-data
fit 4.5x slower (20.9 s against 4.7 s, tslearn 0.10, 2 cores, 2026-11-24), so its one-job time is
also its best 2-core time. Peak memory: the rise of the worker's peak resident set during the fit (Linux: the
peak is reset through /proc/self/clear_refs before each fit). Quality: the ratio of inertias
(agcc / tslearn, both tslearn's definition: mean squared soft-DTW to the assigned barycenter) and
the adjusted Rand index between the two label vectors.

Also measured: the custom backward pass (Alg. 2 of Cuturi & Blondel) against autograd through the
forward recursion, on 2000 pairs of (12, 24) series.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIT = dict(k=10, max_iter=10, max_iter_barycenter=20, gamma=1.0, seed=0)


def _rss_kib(field: str) -> int:
    """VmRSS or VmHWM (peak) of this process, in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset this process's peak resident set to the current one (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _fit(impl: str, X: np.ndarray, device=None, dtype: str = "float64", threads: int = 1):
    if impl == "tslearn":
        from tslearn.clustering import TimeSeriesKMeans

        km = TimeSeriesKMeans(n_clusters=FIT["k"], metric="softdtw", metric_params={"gamma": FIT["gamma"]},
                              max_iter=FIT["max_iter"], max_iter_barycenter=FIT["max_iter_barycenter"],
                              random_state=FIT["seed"], n_init=1)
    else:
        import torch

        from agcc.softdtw import SoftDTWKMeans

        km = SoftDTWKMeans(FIT["k"], gamma=FIT["gamma"], max_iter=FIT["max_iter"],
                           max_iter_barycenter=FIT["max_iter_barycenter"], random_state=FIT["seed"],
                           device=device, dtype=getattr(torch, dtype), threads=threads)
    return km.fit(X)


def worker(conn, impl: str) -> None:
    """Serve ("fit", X, options) requests; reply with time, peak memory, inertia and labels."""
    import warnings

    warnings.filterwarnings("ignore")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # both run on one core: BLAS threads that spin on a busy machine distort times
    start = time.perf_counter()
    if impl == "tslearn":
        import tslearn.clustering  # noqa: F401
    else:
        import agcc.softdtw  # noqa: F401
    info = {"import_s": time.perf_counter() - start}
    if impl == "tslearn":
        # numba compiles soft-DTW and its gradient on the first fit of a process
        tiny = np.random.default_rng(1).normal(size=(30, 6, 3))
        start = time.perf_counter()
        _fit(impl, tiny)
        first = time.perf_counter() - start
        start = time.perf_counter()
        _fit(impl, tiny)
        info["compile_s"] = first - (time.perf_counter() - start)
    conn.send(info)
    while True:
        msg = conn.recv()
        if msg is None:
            break
        _, X, options = msg
        import gc

        gc.collect()
        exact = _reset_peak()
        before = _rss_kib("VmRSS")
        cuda = options.get("device") == "cuda"
        if cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        km = _fit(impl, X, **options)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        reply = {"seconds": seconds, "inertia": float(km.inertia_), "labels": np.asarray(km.labels_),
                 "peak_mib": (_rss_kib("VmHWM") - before) / 1024 if exact else float("nan")}
        if cuda:
            reply["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
        conn.send(reply)


class Worker:
    def __init__(self, impl: str):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(child, impl), daemon=True)
        self.proc.start()
        self.info = self.conn.recv()

    def fit(self, X, **options) -> dict:
        self.conn.send(("fit", X, options))
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join()


def random_data() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2000, 12, 24))


def ag_data() -> np.ndarray | None:
    """The default profile's validation AG segments, standardised as fit_kmeans does."""
    folder = ROOT / "artifacts" / "default" / "segments"
    if not (folder / "tokens.csv").is_file():
        return None
    from agcc.clustering import to_dataset
    from agcc.segments import SegmentSet

    segments = SegmentSet.load(folder)
    val = np.flatnonzero((segments.tokens["split"] == "val").to_numpy())
    segs = [segments.ag(i) for i in val]
    stacked = np.concatenate(segs)
    mean, std = stacked.mean(0), stacked.std(0) + 1e-8
    return to_dataset([(s - mean) / std for s in segs])


def backward_comparison(reps: int = 7) -> tuple[float, float]:
    """Best time (s) of value + gradient for 2000 pairs (12, 24): custom backward, autograd."""
    import torch

    from agcc.softdtw import kernel as K

    rng = np.random.default_rng(0)
    x, lx = K._as_batch(rng.normal(size=(2000, 12, 24)), "cpu")
    y, ly = K._as_batch(rng.normal(size=(2000, 12, 24)), "cpu")
    times = {"custom": [], "autograd": []}
    with K.limit_threads(1):
        for _ in range(reps):
            for name, fn in (("custom", K._SoftDTW.apply), ("autograd", K._sdtw_autograd)):
                xr = x.clone().requires_grad_(True)
                start = time.perf_counter()
                fn(K._sq_dists_pairs(xr, y), lx, ly, 1.0).sum().backward()
                times[name].append(time.perf_counter() - start)
    return min(times["custom"]), min(times["autograd"])


def compare(name: str, X: np.ndarray, reps: int, variants: list[dict]) -> None:
    """Fresh workers for this data set (so that the first fit's memory rise is its peak), then
    ``reps`` interleaved rounds of fits."""
    from sklearn.metrics import adjusted_rand_score

    print(f"\n## {name}: {X.shape[0]} series, up to {X.shape[1]} frames, {X.shape[2]} dims; "
          f"k={FIT['k']}, {FIT['max_iter']} iterations")
    workers = {"tslearn": Worker("tslearn")} | {v["label"]: Worker("agcc") for v in variants}
    print(f"tslearn: import {workers['tslearn'].info['import_s']:.1f} s, numba compilation "
          f"{workers['tslearn'].info['compile_s']:.1f} s in each new process (not in the fit times below); "
          f"agcc.softdtw: import {workers[variants[0]['label']].info['import_s']:.1f} s, nothing to compile")
    results = {label: [] for label in workers}
    try:
        for _ in range(reps):  # interleaved
            results["tslearn"].append(workers["tslearn"].fit(X))
            for v in variants:
                results[v["label"]].append(workers[v["label"]].fit(X, **v["options"]))
    finally:
        for w in workers.values():
            w.close()
    ref = min(results["tslearn"], key=lambda r: r["seconds"])
    ref_peak = results["tslearn"][0]["peak_mib"]
    print(f"{'implementation':30s} {'best fit s':>10s} {'speed-up':>8s} {'peak MiB':>9s} "
          f"{'inertia ratio':>14s} {'ARI':>6s}")
    print(f"{'tslearn (numba, 1 thread)':30s} {ref['seconds']:10.2f} {'1.0':>8s} {ref_peak:9.0f} "
          f"{'1':>14s} {'1':>6s}")
    for v in variants:
        best = min(results[v["label"]], key=lambda r: r["seconds"])
        first = results[v["label"]][0]
        extra = f"  (CUDA peak {first['cuda_peak_mib']:.0f} MiB)" if "cuda_peak_mib" in first else ""
        print(f"{v['label']:30s} {best['seconds']:10.2f} {ref['seconds'] / best['seconds']:8.1f} "
              f"{first['peak_mib']:9.0f} {best['inertia'] / ref['inertia']:14.5f} "
              f"{adjusted_rand_score(ref['labels'], best['labels']):6.3f}{extra}")
    print("all fit times (s): " + "; ".join(
        f"{k}: " + ", ".join(f"{r['seconds']:.2f}" for r in v) for k, v in results.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (best is reported)")
    parser.add_argument("--skip-random", action="store_true")
    parser.add_argument("--skip-ag", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"# soft-DTW k-means benchmark, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, load average {load[0]:.1f} "
          f"(other processes share the cores: compare ratios, not absolute times); "
          f"torch {torch.__version__}, CUDA {'yes' if torch.cuda.is_available() else 'no'}")

    custom, autograd = backward_comparison()
    print(f"value + gradient of 2000 pairs (12, 24): custom backward (Alg. 2) {custom * 1e3:.1f} ms, "
          f"autograd through the recursion {autograd * 1e3:.1f} ms")

    variants = [{"label": "agcc float64 (CPU, 1 thread)", "options": {"device": "cpu", "dtype": "float64"}},
                {"label": "agcc float32 (CPU, 1 thread)", "options": {"device": "cpu", "dtype": "float32"}}]
    if (os.cpu_count() or 1) >= 2:  # tslearn's soft-DTW k-means cannot use a second core; agcc can
        variants.append({"label": "agcc float32 (CPU, 2 threads)",
                         "options": {"device": "cpu", "dtype": "float32", "threads": 2}})
    if torch.cuda.is_available():
        variants.append({"label": "agcc float32 (CUDA)", "options": {"device": "cuda", "dtype": "float32"}})
    else:
        print("GPU: skipped (CUDA is not available here)")
    if not args.skip_random:
        compare("random data", random_data(), args.reps, variants)
    if not args.skip_ag:
        X = ag_data()
        if X is None:
            print("\n## AG segments: skipped, artifacts/default/segments does not exist; produce it with\n"
                  "    .venv/bin/python -m agcc build --only 01 --no-book")
        else:
            compare("AG segments (default profile, validation tokens)", X, args.reps, variants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
