"""Rehearsal of the paper profile at the real corpora's sizes (issue 17, item 6).

    nice -n 10 .venv/bin/python benchmarks/rehearsal.py [--fraction 1.0] [--workers 2] [--keep]

Runs the ``rehearsal`` profile (``agcc/profiles/profiles.yml``: the paper's settings and model
shape on simulated corpora of 7,462 CREMA-D-like and 8,436 MSP-IMPROV-like utterances, 768 values
per 20 ms frame from the cost stand-in extractor :class:`agcc.features.ProjectedExtractor`) through
the pipeline's own code: :func:`agcc.stages.prepare_artifacts` (corpora, segments, the AG model,
the training data) and :func:`agcc.experiments.table_ii_runs` (every registered method in each of
its directions, one seed, ``max_epochs`` epochs, on the grid of :mod:`agcc.grid` with ``--workers``
processes). ``--fraction`` scales both corpora's sizes (CREMA-D actors, MSP-IMPROV utterances per
speaker) when the whole cannot be afforded; the projections below scale back to the real sizes.

Measured, per phase (data, training):

* memory: every 0.5 s, the proportional set size (PSS, ``/proc/<pid>/smaps_rollup``) of this
  process and all its descendants (the grid's workers): a page shared by n processes counts 1/n in
  each, so the sum counts the memory-mapped frames that the workers share *once*. Reported: the peak
  of that sum (``peak_total_pss``), split into anonymous and file-backed pages at that moment, and
  the peak resident set (RSS) and PSS of any one process. The page cache of files read or written
  without a mapping is the kernel's, reclaimable, and not counted;
* disk: the size of each folder of the artifacts (``du``), and the free space before and after;
* time: wall seconds of each phase; per training run, its wall seconds per epoch (one torch thread
  per run, as the grid runs them) and, on one batch of the data, the floating-point operations of a
  training step (``torch.utils.flop_counter``).

Projected (each assumption is written into the JSON and onto the performance page): the real
sizes from the fraction (linear in utterances) and from the real mean duration (3.63 s for both
corpora: 7.5 h / 7,442 and 8.5 h / 8,438, Sec. II-A) against the simulated one (linear in frames;
the attention part grows faster), and the CPU- and GPU-hours of the paper profile's runs (Table II,
ablations and sensitivity, counted from the paper profile's parameters) at 70 epochs each (early
stopping only shortens them); GPU time from the measured operations at an *assumed* sustained rate.

The results go to ``benchmarks/rehearsal.json`` and are printed; the artifacts are deleted
afterwards unless ``--keep``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agcc import methods as registry  # noqa: E402
from agcc.ablations import ablation_values, default_value  # noqa: E402
from agcc.experiments import directions_of, table_ii_runs, takes_gamma  # noqa: E402
from agcc.params import resolve  # noqa: E402
from agcc.sensitivity import METHODS as SENS_METHODS, sensitivity_settings  # noqa: E402
from agcc.stages import prepare_artifacts  # noqa: E402
from agcc.train import Batches, TrainConfig, TrainingData, build_model, normalise_inputs, run_splits  # noqa: E402

REAL_UTTERANCES = {"crema_d": 7442, "msp_improv": 8438}  # Sec. II-A; formats.md
REAL_MEAN_S = {"crema_d": 7.5 * 3600 / 7442, "msp_improv": 8.5 * 3600 / 8438}  # hours / utterances, Sec. II-A
CREMA_PER_ACTOR = 82  # utterances per simulated actor (12 sentences)
IMPROV_SPEAKERS = 12
PAPER_EPOCHS = 70  # Sec. IV: up to 70 epochs
# ASSUMPTION, not measured here (no GPU was lent): sustained fp32 rate of one data-centre GPU on
# this model, e.g. ~50 % of an A100's 19.5 TFLOP/s fp32 peak (NVIDIA A100 datasheet); TF32 or
# mixed precision would be faster, small batches or input loading slower.
ASSUMED_GPU_FLOPS = 10e12


# ------------------------------------------------------------------------------------------------
# Memory of a process tree
# ------------------------------------------------------------------------------------------------
def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _rollup(pid: int) -> dict | None:
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    except OSError:
        return None
    return {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in lines)}


class MemoryMonitor:
    """Peaks of the PSS sum (shared pages counted once) and of any one process, sampled every
    ``interval`` seconds over this process and its descendants."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.stop_event = interval, threading.Event()
        self.peak = {"peak_total_pss": 0, "anon_at_peak": 0, "file_at_peak": 0, "processes_at_peak": 0,
                     "peak_process_rss": 0, "peak_process_pss": 0, "peak_processes": 0}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_event.is_set():
            stats = [s for s in map(_rollup, _descendants(os.getpid())) if s]
            total = sum(s.get("Pss", 0) for s in stats)
            p = self.peak
            if total > p["peak_total_pss"]:
                p.update(peak_total_pss=total, anon_at_peak=sum(s.get("Pss_Anon", 0) for s in stats),
                         file_at_peak=sum(s.get("Pss_File", 0) + s.get("Pss_Shmem", 0) for s in stats),
                         processes_at_peak=len(stats))
            p["peak_process_rss"] = max([p["peak_process_rss"]] + [s.get("Rss", 0) for s in stats])
            p["peak_process_pss"] = max([p["peak_process_pss"]] + [s.get("Pss", 0) for s in stats])
            p["peak_processes"] = max(p["peak_processes"], len(stats))
            self.stop_event.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()


def du(path: Path) -> int:
    """Bytes on disk under ``path`` (``du -sb``; 0 when absent)."""
    if not path.exists():
        return 0
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


# ------------------------------------------------------------------------------------------------
# Runs of the paper profile, and the operations of a training step
# ------------------------------------------------------------------------------------------------
def paper_run_counts(paper: dict) -> dict:
    """Distinct training runs of the paper profile: Table II (every seed with every gamma of
    ``gamma_grid`` for the methods that take one, times the target folds under
    ``target_protocol: folds``; :func:`agcc.experiments.table_ii_runs`), the
    ablations (each non-default value per direction and seed; the default's runs are Table II's)
    and the sensitivity study (per setting, its methods, directions and seeds; its corpora have the
    ``sens_*`` sizes)."""
    seeds, gammas = paper["n_seeds"], len(paper["gamma_grid"])
    folds = paper["target_folds"] if paper["target_protocol"] == "folds" else 1
    table_ii = sum(len(directions_of(m)) * seeds * (gammas if takes_gamma(m) else 1) * folds for m in registry.names())
    base = TrainConfig.from_params(paper, method=registry.proposed())
    ablations = 0
    for factor, values in ablation_values(paper).items():
        default = paper["n_ag_clusters"] if factor == "k" else default_value(factor, base, paper["n_ag_clusters"])
        # gamma: the chosen one (from gamma_grid, all of which the ablation lists) is the default
        others = len(values) - 1 if factor == "gamma" else len([v for v in values if v != default])
        ablations += others * len(paper["ablation_directions"]) * (paper["ablation_seeds"] or seeds)
    settings = sensitivity_settings(paper)["name"].nunique()
    sensitivity = settings * len(SENS_METHODS) * len(paper["sens_directions"]) * paper["sens_seeds"]
    sens_size = (paper["sens_crema_actors"] * CREMA_PER_ACTOR * paper["sens_crema_sentences"] / 12
                 + paper["sens_improv_sessions"] * 2 * paper["sens_improv_per_speaker"]) / sum(REAL_UTTERANCES.values())
    return {"table_ii": table_ii, "ablations": ablations, "sensitivity": sensitivity,
            "sensitivity_size_vs_real": round(sens_size, 3)}


def step_flops(data: TrainingData, params: dict, method: str = "AG-CC", direction: str = "C->I") -> dict:
    """Floating-point operations of one training step of ``method`` (forward and backward, source
    and target batch) on the first ``batch_size`` source training utterances and as many target
    ones, with the rehearsal's model, and the steps of one epoch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    cfg = TrainConfig.from_params(params, method=method, direction=direction, threads=1)
    splits = run_splits(data, cfg, True)
    batches = Batches(data, torch.device("cpu"))
    model = build_model(cfg, data.n_features)
    counter = FlopCounterMode(display=False)
    with counter:
        s = model(*batches.inputs(splits.src_train[:cfg.batch_size]))
        t = model(*batches.inputs(splits.tgt_train[:cfg.batch_size]))
        (s["logits"].sum() + t["logits"].sum()).backward()
    steps = int(np.ceil(len(splits.src_train) / cfg.batch_size))
    return {"flops_per_step": int(counter.get_total_flops()), "steps_per_epoch": steps,
            "flops_per_epoch": int(counter.get_total_flops()) * steps}


def assemble_rate(data: TrainingData, params: dict, n: int = 10) -> dict:
    """Seconds per GB of :meth:`agcc.train.Batches.assemble` (gather from the memory-mapped frames,
    standardise, mask: the CPU side of a batch, which the GPU path overlaps with compute) on ``n``
    batches of random source training utterances, one thread."""
    import torch

    torch.set_num_threads(1)
    cfg = TrainConfig.from_params(params, method="Source only", direction="C->I", threads=1)
    splits = run_splits(data, cfg, False)
    batches = Batches(data, torch.device("cpu"))
    normalise_inputs(batches, data, cfg, splits)
    rng = np.random.default_rng(0)
    nbytes, start, cpu_start = 0, time.perf_counter(), time.process_time()
    for _ in range(n):
        x, _ = batches.assemble(rng.choice(splits.src_train, cfg.batch_size, replace=False))
        nbytes += x.numel() * 4
    return {"gb": round(nbytes / 1e9, 3), "s_per_gb": round((time.perf_counter() - start) / (nbytes / 1e9), 2),
            "cpu_s_per_gb": round((time.process_time() - cpu_start) / (nbytes / 1e9), 2)}


STEP_LENGTHS = (90, 181, 375)  # frames: 1.8 s, the real mean utterance (3.63 s), a batch padded to 7.5 s
CROP = 750  # the paper profile's max_utt_frames: the longest padded batch (extrapolated, not run: ~10 GB)


def step_cost(length: int) -> dict:
    """One training step of the rehearsal's model on a source and a target batch padded to
    ``length`` frames (random 768-d inputs; both graphs alive until the backward pass, as in an
    anchored method's step), one torch thread, in this (fresh) process: its seconds, and the peak
    resident set of the process (``VmHWM``: torch, the model, the batches and the activations)."""
    import torch

    params = resolve("rehearsal")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = TrainConfig.from_params(params, method="Source only", direction="C->I", threads=1)
    model = build_model(cfg, 768)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    b = cfg.batch_size
    xs, xt = torch.randn(b, length, 768), torch.randn(b, length, 768)
    mask = torch.ones(b, length, dtype=torch.bool)
    times, cpu = [], []
    for _ in range(2):  # the first step allocates; the second is timed
        start, cpu_start = time.perf_counter(), time.process_time()
        out_s, out_t = model(xs, mask), model(xt, mask)
        loss = torch.nn.functional.cross_entropy(out_s["logits"], torch.zeros(b, dtype=torch.long)) \
            + out_t["frames"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {"frames": length, "step_s": round(times[-1], 2), "step_cpu_s": round(cpu[-1], 2),
            "peak_rss": int(status["VmHWM"].split()[0]) * 1024}


def step_costs() -> list[dict]:
    """:func:`step_cost` of each of :data:`STEP_LENGTHS`, each in a fresh process."""
    out = []
    for length in STEP_LENGTHS:
        done = subprocess.run([sys.executable, __file__, "--step", str(length)], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"step at {length} frames failed: {done.stderr[-2000:]}")
        out.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"step at {length} frames: {out[-1]}", flush=True)
    return out


# ------------------------------------------------------------------------------------------------
# The rehearsal
# ------------------------------------------------------------------------------------------------
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fraction", type=float, default=1.0, help="share of the real corpus sizes to simulate")
    ap.add_argument("--workers", type=int, default=2, help="grid processes (this machine: 2 cores)")
    ap.add_argument("--root", type=Path, default=ROOT / "artifacts" / "rehearsal")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "rehearsal.json")
    ap.add_argument("--keep", action="store_true", help="keep the artifacts (default: delete them at the end)")
    ap.add_argument("--epochs", type=int, default=0, help="epochs per run (0: the profile's max_epochs)")
    ap.add_argument("--data-only", action="store_true", help="measure the data stages only (no training)")
    ap.add_argument("--project", action="store_true",
                    help="only recompute the projection from --json and the artifacts kept in --root")
    ap.add_argument("--step", type=int, default=0, help=argparse.SUPPRESS)  # internal: one step_cost
    args = ap.parse_args(argv)
    if args.step:
        print(json.dumps(step_cost(args.step)))
        return {}
    if args.project:
        out = json.loads(args.json.read_text())
        data = TrainingData.load(args.root / "training", verify=False)
        out.setdefault("loading", assemble_rate(data, resolve("rehearsal")))
        out["projection"] = project(out, pd.DataFrame(out["runs"]), data, resolve("paper"))
        args.json.write_text(json.dumps(out, indent=1, default=str) + "\n")
        print(json.dumps({k: out[k] for k in ("loading", "projection")}, indent=1, default=str))
        return out

    full = resolve("rehearsal")
    actors = max(2, round(full["sim_crema_actors"] * args.fraction))
    per_speaker = max(10, round(full["sim_improv_per_speaker"] * args.fraction))
    params = resolve("rehearsal", {"sim_crema_actors": actors, "sim_improv_per_speaker": per_speaker,
                                   "artifacts_dir": str(args.root), "workers": args.workers,
                                   **({"max_epochs": args.epochs, "patience": args.epochs} if args.epochs else {})})
    n_sim = {"crema_d": actors * CREMA_PER_ACTOR, "msp_improv": IMPROV_SPEAKERS * per_speaker}
    free_before = shutil.disk_usage(args.root.parent if args.root.parent.exists() else ROOT).free
    out = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_at_start": os.getloadavg()},
           "fraction": args.fraction, "simulated_utterances": n_sim, "workers": args.workers,
           "settings": {k: params[k] for k in ("features", "d_model", "n_heads", "n_layers", "d_ff", "frame_pool",
                                               "max_utt_frames", "batch_size", "max_epochs", "n_ag_clusters",
                                               "kmeans_max_iter", "improv_label")}}
    print(f"rehearsal: {n_sim} simulated utterances ({args.fraction:g} of the real sizes) in {args.root}", flush=True)

    # 1. notebooks 01-02's stages and the training data
    start = time.perf_counter()
    with MemoryMonitor() as mem:
        data_folder, _ = prepare_artifacts(params, args.root, progress=True)
    out["data"] = {"wall_s": round(time.perf_counter() - start, 1), **mem.peak}
    data = TrainingData.load(data_folder, verify=False)
    frames_per_utt = data.utterances.groupby("corpus")["n_frames"].mean()
    out["data"].update(training_utterances=len(data.utterances), training_frames=int(len(data.frames)),
                       frames_bytes=int(data.frames.nbytes), mean_frames=frames_per_utt.round(1).to_dict())
    out["disk_after_data"] = {p.name: du(p) for p in sorted(args.root.iterdir()) if p.is_dir()}
    print(json.dumps(out["data"], indent=1), flush=True)
    if args.data_only:
        out["disk_total"] = du(args.root)
        out["free_before"], out["free_after"] = free_before, shutil.disk_usage(args.root).free
        args.json.write_text(json.dumps(out, indent=1, default=str) + "\n")
        print(f"disk: {out['disk_after_data']}, total {out['disk_total']}; written: {args.json}")
        if not args.keep:
            shutil.rmtree(args.root)
        return out

    # 2. every method and direction, one seed, a few epochs, on the real grid
    base = TrainConfig.from_params(params)
    start = time.perf_counter()
    with MemoryMonitor() as mem:
        runs, _ = table_ii_runs(base, registry.names(), data_folder, args.root / "runs", n_seeds=1,
                                first_seed=params["seed"], gammas=params["gamma_grid"], workers=args.workers)
    out["training"] = {"wall_s": round(time.perf_counter() - start, 1), **mem.peak}
    runs["s_per_epoch"] = runs["wall_s"] / runs["epochs"]
    out["runs"] = runs[["model", "direction", "epochs", "wall_s", "s_per_epoch", "4-CAT"]].round(2).to_dict("records")
    out["flops"] = step_flops(data, params)
    out["steps"] = step_costs()
    out["loading"] = assemble_rate(data, params)
    out["disk"] = {p.name: du(p) for p in sorted(args.root.iterdir()) if p.is_dir()}
    out["disk_total"] = du(args.root)
    out["free_before"], out["free_after"] = free_before, shutil.disk_usage(args.root).free
    args.json.write_text(json.dumps(out, indent=1, default=str) + "\n")  # the measurements, before projecting
    out["projection"] = project(out, runs, data, resolve("paper"))
    print(json.dumps({k: out[k] for k in ("training", "runs", "flops", "steps", "disk", "disk_total", "projection")},
                     indent=1, default=str), flush=True)
    args.json.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(f"written: {args.json}")
    if not args.keep:
        shutil.rmtree(args.root)
    return out


def project(out: dict, runs: pd.DataFrame, data: TrainingData, paper: dict) -> dict:
    """The real sizes and the paper profile's budget from the measurements (see the module
    docstring; every assumption is named in the result)."""
    sim = out["simulated_utterances"]
    u = data.utterances
    used = u.groupby("corpus").size()
    mean_s = u.groupby("corpus")["n_frames"].mean() / 50.0  # 50 frames per second
    real_used = {c: used[c] * REAL_UTTERANCES[c] / sim[c] for c in used.index}  # four-class utterances
    # frames of the real corpora's four-class utterances against the rehearsal's
    frame_scale = float(sum(real_used[c] * REAL_MEAN_S[c] for c in used.index) / sum(used[c] * mean_s[c] for c in used.index))
    counts = paper_run_counts(paper)
    run_equivalents = counts["table_ii"] + counts["ablations"] + counts["sensitivity"] * counts["sensitivity_size_vs_real"]
    # steps of an epoch at the real sizes: the source's training utterances / batch (mean over sources)
    train_share = {c: float(((u["corpus"] == c) & (u["split"] == "train")).sum() / used[c]) for c in used.index}
    steps_real = float(np.mean([np.ceil(real_used[c] * train_share[c] / paper["batch_size"]) for c in used.index]))
    steps = {r["frames"]: r for r in out["steps"]}
    lengths = sorted(steps)
    rss_fit = np.polyfit(lengths, [steps[t]["peak_rss"] for t in lengths], 2)  # attention grows with T^2
    cpu_fit = np.polyfit(lengths, [steps[t].get("step_cpu_s", steps[t]["step_s"]) for t in lengths], 2)
    real_frames_bytes = out["data"]["frames_bytes"] * frame_scale
    # CPU: a step (source and target batch) padded to PAD frames, one thread, from the step costs
    cpu_epoch = {pad: steps_real * float(np.polyval(cpu_fit, pad)) for pad in (181, 375)}
    # GPU: the operations of an epoch at the assumed rate, or the loading of its batches on one
    # CPU thread (overlapped with compute by Batches.stream), whichever is longer
    flops_epoch = out["flops"]["flops_per_epoch"] * frame_scale
    load_epoch = 2 * steps_real * paper["batch_size"] * np.mean(list(REAL_MEAN_S.values())) * 50 * 768 * 4 / 1e9 \
        * out["loading"]["s_per_gb"]  # source and target batches at the real mean length, unpadded
    gpu_epoch = max(flops_epoch / ASSUMED_GPU_FLOPS, load_epoch)
    return {
        "frame_scale": round(frame_scale, 3),
        "simulated_mean_s": mean_s.round(2).to_dict(), "real_mean_s": {k: round(v, 2) for k, v in REAL_MEAN_S.items()},
        "real_four_class_utterances": {c: round(v) for c, v in real_used.items()},
        "real_training_frames": int(out["data"]["training_frames"] * frame_scale),
        "real_frames_gb": round(real_frames_bytes / 1e9, 2),
        "real_disk_gb": round(out["disk_total"] * frame_scale / 1e9, 1),
        "step_peak_rss_gb": {t: round(steps[t]["peak_rss"] / 1e9, 2) for t in lengths},
        "step_peak_rss_gb_at_crop": round(float(np.polyval(rss_fit, CROP)) / 1e9, 2),
        # a worker per core, each in a step padded to the crop, and every frame page mapped
        "real_peak_memory_gb_training_worst": round((out["workers"] * float(np.polyval(rss_fit, CROP))
                                                     + real_frames_bytes) / 1e9, 1),
        "real_peak_memory_gb_training_one_worker": round((float(np.polyval(rss_fit, CROP)) + real_frames_bytes)
                                                         / 1e9, 1),
        "runs": counts, "run_equivalents_at_real_size": round(run_equivalents, 1), "epochs_per_run": PAPER_EPOCHS,
        "steps_per_epoch_real": steps_real,
        "cpu_s_per_epoch_real": {p: round(v) for p, v in cpu_epoch.items()},
        "cpu_hours": {p: round(run_equivalents * PAPER_EPOCHS * v / 3600) for p, v in cpu_epoch.items()},
        "grid_s_per_epoch_measured": round(float(runs["s_per_epoch"].mean()), 1),
        "grid_cpu_hours_from_wall": round(run_equivalents * PAPER_EPOCHS * float(runs["s_per_epoch"].mean())
                                          * frame_scale / 3600),
        "assumed_gpu_flops": ASSUMED_GPU_FLOPS,
        "gpu_flops_s_per_epoch": round(flops_epoch / ASSUMED_GPU_FLOPS, 2),
        "loading_s_per_epoch": round(float(load_epoch), 2),
        "gpu_s_per_epoch_real": round(float(gpu_epoch), 2),
        "gpu_hours": round(run_equivalents * PAPER_EPOCHS * float(gpu_epoch) / 3600, 1),
    }


if __name__ == "__main__":
    main()
