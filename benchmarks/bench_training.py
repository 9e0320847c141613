"""Training throughput (issue 16): where a training step's time goes, and runs per CPU-minute
one-at-a-time vs several runs batched into one model (``torch.func.stack_module_state`` + ``vmap``).

Usage::

    python benchmarks/bench_training.py [--runs 5] [--steps 20] [--profile default]

Everything runs in this process on one torch thread (the grid runs one thread per run, one run
per core), on random frames of the profile's shape: batch ``batch_size`` utterances of
``--frames`` 50-fps frames (the default profile's mean utterance is about 115 frames), the
profile's model. It prints

1. the split of one training step (forward, backward, optimiser, batch assembly) and the share of
   the autograd kernels, from ``torch.profiler``;
2. the time of ``--runs`` runs trained one after the other vs the same runs batched (their
   parameters stacked, one ``vmap``-ed forward and backward, one Adam over the stacked
   parameters), after checking that both give the same parameters (dropout off for that check);
3. the ratio ``runs per CPU-minute batched / one-at-a-time`` as ``NN.Nx``.

The ratio is measured, not asserted: on a CPU a step of the default model is arithmetic, not
Python overhead, so batching cannot amortise much; on a GPU, where a tiny model is bound by
kernel launches, it would.
"""
from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from agcc.params import resolve
from agcc.train import TrainConfig, build_model


def make_models(cfg: TrainConfig, n_features: int, runs: int, dropout: float):
    """``runs`` models of ``cfg``'s shape with different initial weights (seeds 0..runs-1)."""
    out = []
    for seed in range(runs):
        torch.manual_seed(seed)
        model = build_model(cfg, n_features)
        for m in model.modules():  # the benchmark's dropout (0 for the equality check)
            if isinstance(m, torch.nn.Dropout):
                m.p = dropout
            if isinstance(m, torch.nn.TransformerEncoderLayer):
                m.dropout.p = m.dropout1.p = m.dropout2.p = dropout
        out.append(model)
    return out


def one_at_a_time(models, cfg, batches):
    """Train each model on ``batches`` in turn (the grid's path); returns seconds."""
    start = time.perf_counter()
    for model in models:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        for x, mask, y in batches:
            loss = torch.nn.functional.cross_entropy(model(x, mask)["logits"], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def batched(models, cfg, batches):
    """Train the models as one: stacked parameters, a vmapped forward with the batch shared by
    every run (common random numbers: the same source batches), one backward of the summed
    losses (the runs' parameters are disjoint, so each gets its own gradient) and one Adam
    (elementwise, so the same as one Adam per run). Returns (seconds, stacked parameters)."""
    params, buffers = stack_module_state(models)
    params = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
    base = copy.deepcopy(models[0]).to("meta")
    base.train()

    def logits(p, b, x, mask):
        return functional_call(base, (p, b), (x, mask))["logits"]

    forward = vmap(logits, in_dims=(0, 0, None, None), randomness="same")
    opt = torch.optim.Adam(params.values(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = time.perf_counter()
    for x, mask, y in batches:
        out = forward(params, buffers, x, mask)  # (runs, B, 4)
        loss = torch.nn.functional.cross_entropy(out.flatten(0, 1), y.repeat(len(models)), reduction="sum") / len(y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start, params


def step_profile(model, cfg, batches) -> None:
    """Wall time of forward, backward and optimiser step, and the top autograd kernels."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    parts = {"forward": 0.0, "backward": 0.0, "optimiser": 0.0}
    for x, mask, y in batches:
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x, mask)["logits"], y)
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        parts["forward"] += t1 - t0
        parts["backward"] += t2 - t1
        parts["optimiser"] += t3 - t2
    total = sum(parts.values())
    print("one training step, " + ", ".join(f"{k} {v / total:.0%}" for k, v in parts.items())
          + f" of {1000 * total / len(batches):.1f} ms")
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for x, mask, y in batches[:5]:
            loss = torch.nn.functional.cross_entropy(model(x, mask)["logits"], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    whole = sum(e.self_cpu_time_total for e in events)
    print("largest kernels (self CPU time): " + ", ".join(
        f"{e.key} {e.self_cpu_time_total / whole:.0%}" for e in events[:6]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--runs", type=int, default=5, help="runs trained together (the methods of one seed)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--frames", type=int, default=115, help="frames per utterance (50 fps)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig.from_params(resolve(args.profile))
    n_features = 40 if cfg.frame_pool > 1 else 768
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(args.steps):
        lengths = rng.integers(int(0.7 * args.frames), int(1.3 * args.frames), cfg.batch_size)
        mask = torch.from_numpy(np.arange(lengths.max())[None, :] < lengths[:, None])
        x = torch.randn(cfg.batch_size, int(lengths.max()), n_features) * mask.unsqueeze(-1)
        batches.append((x, mask, torch.from_numpy(rng.integers(0, 4, cfg.batch_size))))
    print(f"profile {args.profile}: model d={cfg.d_model}, {cfg.n_layers} layer(s), frame_pool {cfg.frame_pool}, "
          f"batch {cfg.batch_size} x ~{args.frames} frames x {n_features}; torch {torch.__version__}, 1 thread; "
          f"load average {os.getloadavg()[0]:.1f}")
    step_profile(make_models(cfg, n_features, 1, cfg.dropout)[0], cfg, batches)

    # equal results: with dropout off both paths must give the same parameters
    a = make_models(cfg, n_features, args.runs, 0.0)
    b = copy.deepcopy(a)
    one_at_a_time(a, cfg, batches[:5])
    _, stacked = batched(b, cfg, batches[:5])
    diff = max(float((stacked[k][r] - dict(a[r].named_parameters())[k]).abs().max())
               for k in stacked for r in range(args.runs))
    print(f"equal results: largest parameter difference after 5 steps, batched vs one-at-a-time: {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit("batched training does not reproduce the one-at-a-time runs")

    # time, with the profile's dropout (the batched runs share one dropout mask per step)
    one = one_at_a_time(make_models(cfg, n_features, args.runs, cfg.dropout), cfg, batches)
    many, _ = batched(make_models(cfg, n_features, args.runs, cfg.dropout), cfg, batches)
    print(f"{args.runs} runs of {args.steps} steps: one at a time {one:.2f} s, batched {many:.2f} s; runs per "
          f"CPU-minute {args.runs * 60 / one:.1f} vs {args.runs * 60 / many:.1f}")
    print(f"batched / one-at-a-time throughput: {one / many:.1f}x")


if __name__ == "__main__":
    main()
