"""Batched soft-DTW and soft-DTW time-series k-means in PyTorch (the clustering of Sec. II-C).

Sec. II-C groups the AG segments by "time-series k-means clustering with Soft-DTW as the
distance metric". tslearn's ``TimeSeriesKMeans(metric="softdtw")`` is the reference
implementation (:mod:`agcc.clustering`, ``backend="tslearn"``); it computes one pair of series at a
time in numba, which took 5-20 s per fit of 1,500-2,000 short segments (k = 10) on this project's
2-core machines, plus 5-10 s of compilation in every process. This module computes the same
quantities for whole batches of pairs at once:

* soft-DTW (Cuturi & Blondel 2017, Eq. 1 and Alg. 1) with the squared Euclidean ground cost,
  ``R[i, j] = D[i, j] + softmin_gamma(R[i-1, j-1], R[i-1, j], R[i, j-1])``, evaluated one
  anti-diagonal at a time for every pair of the batch (the cells of an anti-diagonal do not depend
  on each other); the only Python loop runs over the ``m + n`` anti-diagonals, and the
  exponentials are taken in base 2 (:func:`_forward`);
* its gradient with respect to the cost matrix by the backward recursion of Alg. 2
  (:class:`_SoftDTW`, a custom autograd function; measured faster than autograd through the
  forward recursion, see ``benchmarks/bench_softdtw.py``), chained to the series by autograd,
  or, for the barycenter objective of the k-means, by a closed form (:func:`_barycenter_terms`);
* the soft-DTW divergence ``D(x, y) = sdtw(x, y) - (sdtw(x, x) + sdtw(y, y)) / 2`` (Blondel et
  al. 2021), which is zero for ``x = y``;
* :class:`SoftDTWKMeans`, tslearn's algorithm (k-means++ seeding under soft-DTW, assignment to the
  nearest barycenter, barycenters by L-BFGS on the soft-DTW objective, restart on an empty
  cluster) with every step batched; the k L-BFGS-B runs of a barycenter update advance together
  through scipy's reverse-communication interface (:func:`lockstep_minimize`).

Variable-length series are NaN-padded at the end, as in tslearn: a series' length is the index of
its last row that is not all-NaN, plus one, and each pair's value is read at ``R[len_x, len_y]``.
Computations run on CUDA when it is available and on the CPU otherwise, in float64 unless a
dtype is given.
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import torch

# Stands for +inf in the recursion: exp(-BIG / gamma) is exactly 0 for any usable gamma, and
# finite values keep NaN out of the backward pass (inf - inf).
BIG = 1e10
# Pairs per batch of the recursion; bounds memory at about 6 tensors of (m + n + 2, m + 2, CHUNK).
CHUNK = 65536
# Series per batch of the barycenter objective, whose backward pass keeps 3 * sz * m values a pair.
GRAD_CHUNK = 8192


class _Scratch(threading.local):
    """Work tensors reused from one batched recursion to the next, inside :func:`reuse_scratch`.

    A k-means fit runs hundreds of recursions over the same shapes. Outside this cache every one
    allocated its cost matrices and work buffers afresh (tens of MB), and the allocator handed the
    pages back to the system and faulted them in again at each call: measured 0.12 s of a 0.64 s
    fit on (2000, 12, 24) (``benchmarks/bench_softdtw.py``). Outside :func:`reuse_scratch`,
    :meth:`get` allocates, so that nothing is held once a fit is over. One cache per thread.
    """

    def __init__(self):
        self.depth = 0
        self.store: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """An uninitialised tensor of ``shape`` with ``like``'s dtype and device."""
        if not self.depth:
            return like.new_empty(shape)
        numel = math.prod(shape)
        buf = self.store.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != like.dtype or buf.device != like.device:
            buf = self.store[name] = like.new_empty(numel)
        return buf[:numel].view(shape)


_scratch = _Scratch()


@contextmanager
def reuse_scratch():
    """Reuse the work tensors of the recursions inside the block (:class:`_Scratch`); they are
    freed when the outermost block ends."""
    _scratch.depth += 1
    try:
        yield
    finally:
        _scratch.depth -= 1
        if not _scratch.depth:
            _scratch.store.clear()


def default_device(device=None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU; a CUDA request without CUDA
    falls back to the CPU (:func:`agcc.io.torch_device`)."""
    from .io import torch_device

    return torch_device(device)


def series_lengths(x) -> np.ndarray:
    """Length of each NaN-padded series of ``x`` (n, sz, d): trailing all-NaN rows do not count
    (tslearn's ``ts_size``)."""
    x = np.asarray(x, dtype=float)
    filled = ~np.isnan(x).all(axis=2)  # (n, sz)
    last = x.shape[1] - np.argmax(filled[:, ::-1], axis=1)
    return np.where(filled.any(axis=1), last, 0)


def _as_batch(x, device, dtype=torch.float64):
    """(n, sz, d) array or tensor, NaN-padded -> (tensor with NaN set to 0, lengths tensor)."""
    values = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)
    lengths = series_lengths(values)
    if (lengths == 0).any():
        raise ValueError(f"series {np.flatnonzero(lengths == 0).tolist()} have no frame (all NaN)")
    lengths = torch.as_tensor(lengths, device=device)
    if isinstance(x, torch.Tensor):  # keeps the graph: gradients reach x
        return torch.nan_to_num(x.to(device=device, dtype=dtype), nan=0.0), lengths
    return torch.as_tensor(np.nan_to_num(values, nan=0.0), device=device, dtype=dtype), lengths


def _diagonal_range(p: int, m: int, n: int) -> tuple[int, int]:
    """Rows i of the cells (i, p - i) of anti-diagonal p inside the 1-based m x n DP grid:
    i in [lo, hi)."""
    return max(1, p - n), min(m, p - 1) + 1


def _diag(t: torch.Tensor, p: int, lo: int, hi: int) -> torch.Tensor:
    """View of the cells (i, p - i), i in [lo, hi), of a contiguous (..., m, n, B) tensor, as
    (..., hi - lo, B): consecutive cells of an anti-diagonal are n - 1 rows apart in memory, so the
    view is strided and nothing is copied."""
    *lead, m, n, B = t.shape
    start = ((lo - 1) * n + (p - lo - 1)) * B
    return t.as_strided((*lead, hi - lo, B), (*t.stride()[:-3], (n - 1) * B, 1), t.storage_offset() + start)


# log2(e): the recursion runs in base 2 (see _forward)
LOG2E = 1.4426950408889634


def _forward(D: torch.Tensor, lx: torch.Tensor, ly: torch.Tensor, gamma: float,
             probs: torch.Tensor | None = None, *, overwrite: bool = False) -> torch.Tensor:
    """Alg. 1 of Cuturi & Blondel on every pair at once; returns R[lx, ly] (B,).

    D (m, n, B) is the cost of every pair (pairs on the last, contiguous axis). The recursion runs
    over the anti-diagonals p = i + j, keeping only the last three: ``diag[i]`` holds R[i, p - i],
    with BIG outside the grid (positions 0 and m + 1 are borders). If ``probs`` (3, m, n, B) is
    given, it receives for each cell the share of its softmin that comes from each predecessor
    (i-1, j-1), (i-1, j), (i, j-1): those shares are the exponentials of Alg. 2, so the backward
    pass needs no exponential of its own. ``overwrite``: D may be scaled in place (the caller
    does not need it afterwards), which saves a copy of it.

    The recursion is computed in base 2: with s = log2(e) / gamma and R' = s * R,
    ``R'[i, j] = s * D[i, j] + min - log2(sum_k 2 ** (min - r'_k))`` (min over the three
    predecessors r'_k), which is Eq. 1 with exp and log replaced by exp2 and log2 and gamma folded
    into the costs; the shares are unchanged. torch's exp2 measured 3.5-4.5x faster than its exp
    at the same accuracy (float32 and float64, this project's CPUs), and the exponentials are
    most of the recursion's time.

    All buffers come from :class:`_Scratch`: allocating fresh tensors at every anti-diagonal
    made the allocator map and fault in new pages each time (measured: half of the run time).
    """
    m, n, B = D.shape
    scale = LOG2E / gamma
    if overwrite and D.is_contiguous():
        Ds = D.mul_(scale)
    else:  # contiguous: _diag's strides assume it
        Ds = torch.mul(D, scale, out=_scratch.get("scaled_cost", (m, n, B), D))
    ring = _scratch.get("ring", (3, m + 2, B), D).fill_(BIG)  # anti-diagonals p - 2, p - 1, p (in rotation)
    ring[0, 0] = 0.0  # R[0, 0]
    work = _scratch.get("work", (3 * m * B,), D)  # the three predecessors of each cell
    low = _scratch.get("low", (m * B,), D)
    total = _scratch.get("total", (m * B,), D)
    out = D.new_zeros(B)
    ends = lx + ly
    end_steps = set(ends.unique().tolist())
    for p in range(2, m + n + 1):
        lo, hi = _diagonal_range(p, m, n)
        size = hi - lo
        older, old, new = ring[(p - 2) % 3], ring[(p - 1) % 3], ring[p % 3]
        # The buffer last held anti-diagonal p - 3. Later steps read this diagonal's rows
        # lo - 1 ... hi only; rows lo - 1 and hi are outside the grid (or the border) and must be BIG.
        new[lo - 1].fill_(BIG)
        if hi < m + 2:
            new[hi].fill_(BIG)
        # predecessors of the cells (i, p - i), i in [lo, hi): (i-1, j-1), (i-1, j), (i, j-1)
        prev = torch.stack([older[lo - 1:hi - 1], old[lo - 1:hi - 1], old[lo:hi]],
                           out=work[:3 * size * B].view(3, size, B))
        lowest = torch.amin(prev, 0, out=low[:size * B].view(size, B))  # for a stable softmin
        # 2 ** (min - r'), in (0, 1], computed in place. The clamp changes nothing (2 ** -60 is
        # below half an ulp of the sum, which is >= 1, even in float64) but keeps exp2 off its
        # slow path for arguments like -BIG (measured 2x slower per element).
        weights = torch.sub(lowest, prev, out=prev).clamp_(min=-60.0).exp2_()
        tot = torch.add(weights[0], weights[1], out=total[:size * B].view(size, B)).add_(weights[2])
        if probs is not None:
            torch.div(weights, tot, out=_diag(probs, p, lo, hi))
        torch.add(_diag(Ds, p, lo, hi), lowest, out=new[lo:hi]).sub_(tot.log2_())
        if p in end_steps:  # pairs whose end cell (lx, ly) lies on this diagonal
            out = torch.where(ends == p, new.gather(0, lx.view(1, -1)).view(-1), out)
    return out.div_(scale)


def _backward(probs: torch.Tensor, lx: torch.Tensor, ly: torch.Tensor, E: torch.Tensor | None = None) -> torch.Tensor:
    """Alg. 2 of Cuturi & Blondel: E = d R[lx, ly] / d D (m, n, B) for every pair.

    E[i, j] = sum over the successors s of (i, j) of E[s] * (share of R[s] that comes from
    (i, j)), the shares being those saved by :func:`_forward`. E starts as 1 at each pair's end
    cell (lx, ly) and 0 elsewhere; cells past a pair's end never reach its end cell, so the
    padding of shorter series gets no gradient. ``E``: an (m, n, B) tensor to write the result
    into (its contents are overwritten).
    """
    _, m, n, B = probs.shape
    E = probs.new_zeros((m, n, B)) if E is None else E.zero_()
    E[lx - 1, ly - 1, torch.arange(B, device=probs.device)] = 1.0
    for q in range(m + n - 1, 1, -1):
        lo, hi = _diagonal_range(q, m, n)
        below = min(hi, m)  # cells with a successor (i + 1, .) inside the grid
        right = max(lo, q - n + 1)  # cells with a successor (., j + 1) inside the grid
        # (i+1, j) reached (i, j) as its (i-1, j); (i, j+1) as its (i, j-1); (i+1, j+1) as its (i-1, j-1)
        if lo < below:
            _diag(E, q, lo, below).addcmul_(_diag(E, q + 1, lo + 1, below + 1),
                                            _diag(probs[1], q + 1, lo + 1, below + 1))
        if right < hi:
            _diag(E, q, right, hi).addcmul_(_diag(E, q + 1, right, hi), _diag(probs[2], q + 1, right, hi))
        if right < below:
            _diag(E, q, right, below).addcmul_(_diag(E, q + 2, right + 1, below + 1),
                                               _diag(probs[0], q + 2, right + 1, below + 1))
    return E


class _SoftDTW(torch.autograd.Function):
    """soft-DTW values of a batch of cost matrices D (m, n, B), with the gradient of Alg. 2."""

    @staticmethod
    def forward(ctx, D, lx, ly, gamma):
        probs = D.new_empty((3,) + D.shape) if ctx.needs_input_grad[0] else None
        values = _forward(D.detach(), lx, ly, gamma, probs)
        ctx.save_for_backward(probs, lx, ly)
        return values

    @staticmethod
    def backward(ctx, grad_out):
        probs, lx, ly = ctx.saved_tensors
        return _backward(probs, lx, ly) * grad_out, None, None, None


def _sdtw_autograd(D: torch.Tensor, lx, ly, gamma: float) -> torch.Tensor:
    """The recursion of :func:`_forward` written plainly (natural base, ``torch.logsumexp``, no
    in-place writes), so that autograd can differentiate through it; kept to measure against :class:`_SoftDTW`
    (``benchmarks/bench_softdtw.py``) and to cross-check its gradient in the tests."""
    D = D.contiguous()
    m, n, B = D.shape
    border = D.new_full((1, B), BIG)
    older = torch.cat([D.new_zeros((1, B)), D.new_full((m + 1, B), BIG)])
    old = D.new_full((m + 2, B), BIG)
    out = D.new_zeros(B)
    for p in range(2, m + n + 1):
        lo, hi = _diagonal_range(p, m, n)
        prev = torch.stack([older[lo - 1:hi - 1], old[lo - 1:hi - 1], old[lo:hi]])
        cells = _diag(D, p, lo, hi) - gamma * torch.logsumexp(prev / -gamma, dim=0)
        new = torch.cat([border.expand(lo, B), cells, border.expand(m + 2 - hi, B)])
        out = torch.where(lx + ly == p, new.gather(0, lx.view(1, -1)).view(-1), out)
        older, old = old, new
    return out


def _sq_dists_pairs(x: torch.Tensor, y: torch.Tensor, yy: torch.Tensor | None = None) -> torch.Tensor:
    """(B, m, d), (B, n, d) -> (m, n, B) squared Euclidean distances between frames (pairs on the
    last axis, the layout of :func:`_forward`); ``yy`` (B, n): the squared norms of y's frames,
    if already known."""
    xx = (x * x).sum(-1)
    yy = (y * y).sum(-1) if yy is None else yy
    D = xx[:, :, None] + yy[:, None, :] - 2.0 * torch.bmm(x, y.transpose(1, 2))
    return D.clamp(min=0.0).permute(1, 2, 0).contiguous()


@torch.no_grad()
def _barycenter_terms(Z: torch.Tensor, counts: list[int], X: torch.Tensor, lx: torch.Tensor,
                      xx: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The barycenter objective of :class:`SoftDTWKMeans` and its gradient, for a batch of series
    sorted by cluster: sum over the series i of cluster c of sdtw(Z[c], X[i]), for every c.

    Z (k, sz, d) full-length barycenters; ``counts[c]`` consecutive series of X belong to
    cluster c; X (B, m, d) those series (B = sum of counts), of lengths lx, with squared frame
    norms xx (B, m). With E = d R / d D from Alg. 2 (:func:`_backward`) and the squared Euclidean
    cost D[i, j] = |z_i - x_j|^2, the chain rule gives, summed over the series of cluster c,
    ``grad z_i = 2 * (sum of E[i, j]) * z_i - 2 * sum of E[i, j] * x_j``, the second sum being one
    matrix product per cluster, (sz, B_c * m) @ (B_c * m, d). Written out because autograd's
    graph (gather of Z, cost matrices, one small matrix product per pair) cost as much as the
    recursion itself on these batches; checked against autograd in the tests. Returns (k,) values,
    summed in float64, and (k, sz, d) gradients (zero for clusters without series).
    """
    k, sz, d = Z.shape
    owner = torch.repeat_interleave(torch.arange(k, device=Z.device),
                                    torch.as_tensor(counts, device=Z.device))  # (B,)
    D = _sq_dists_pairs(Z[owner], X, xx)  # (sz, m, B)
    m, B = D.shape[1:]
    probs = _scratch.get("probs", (3, sz, m, B), D)
    lz = torch.full_like(lx, sz)
    values = torch.zeros(k, dtype=torch.float64, device=D.device).index_add_(
        0, owner, _forward(D, lz, lx, gamma, probs, overwrite=True).double())
    E = _backward(probs, lz, lx, _scratch.get("E", (sz, m, B), D))
    mass = torch.zeros((k, sz), dtype=D.dtype, device=D.device).index_add_(0, owner, E.sum(1).T)  # (k, sz)
    # (sz, B, m): cluster c's series are a block of rows, contiguous within each i
    Et = torch.permute(E, (0, 2, 1)).contiguous()
    pulled = torch.zeros_like(Z)  # sum of E[i, j] * x_j per cluster
    start = 0
    for c, count in enumerate(counts):
        if count:
            torch.mm(Et[:, start:start + count].reshape(sz, count * m),
                     X[start:start + count].reshape(count * m, d), out=pulled[c])
        start += count
    return values, (Z * mass[:, :, None] - pulled).mul_(2.0)


def soft_dtw_pairs(x, y, gamma: float = 1.0, *, device=None, autograd: bool = False) -> torch.Tensor:
    """soft-DTW of each pair (x[b], y[b]) (Cuturi & Blondel 2017, Eq. 1), differentiable.

    Parameters
    ----------
    x, y
        (B, m, d) and (B, n, d) arrays or tensors, NaN-padded at the end for shorter series.
        Tensors that require grad receive the gradient of the values.
    gamma
        Smoothing (> 0); the soft minimum tends to the minimum as gamma -> 0.
    autograd
        Differentiate through the forward recursion instead of the custom backward (slower).

    Returns
    -------
    torch.Tensor
        (B,) values, on ``device`` (default: CUDA if available, else the CPU).
    """
    if gamma <= 0:
        raise ValueError(f"soft-DTW needs gamma > 0, got {gamma}")
    dev = default_device(device if device is not None else (x.device if isinstance(x, torch.Tensor) else None))
    xt, lx = _as_batch(x, dev)
    yt, ly = _as_batch(y, dev)
    D = _sq_dists_pairs(xt, yt)
    if autograd:
        return _sdtw_autograd(D, lx, ly, gamma)
    return _SoftDTW.apply(D, lx, ly, gamma)


def soft_dtw_divergence_pairs(x, y, gamma: float = 1.0, **kwargs) -> torch.Tensor:
    """D(x, y) = sdtw(x, y) - (sdtw(x, x) + sdtw(y, y)) / 2 for each pair (Blondel et al. 2021):
    zero for x = y, the centroid distance of Eq. 3. Arguments as :func:`soft_dtw_pairs`."""
    return (soft_dtw_pairs(x, y, gamma, **kwargs)
            - 0.5 * (soft_dtw_pairs(x, x, gamma, **kwargs) + soft_dtw_pairs(y, y, gamma, **kwargs)))


# Fixed cost of one batched recursion (about m + n anti-diagonals of ~15 tensor operations each),
# in DP cells: measured ~2 ms per call against ~8 ns per cell (float64, one core).
CALL_COST_CELLS = 250_000


def length_buckets(lengths: np.ndarray, cells_per_frame: int, max_size: int,
                   call_cost: float = CALL_COST_CELLS) -> list[np.ndarray]:
    """Split series into groups of similar length, so that each group is padded only to its own
    longest series.

    A group costs ``call_cost + size * longest * cells_per_frame`` DP cells (``cells_per_frame``:
    cells per frame of a series, e.g. the other series' length times the pairs per series); the
    groups, runs of the series sorted by length, minimise the total by dynamic programming over
    the distinct lengths, then are cut to at most ``max_size`` series. Short AG segments (3 to 18
    frames, mean 6, in the default profile) padded to the longest cost about 3x the cells.
    Returns index arrays into ``lengths``.
    """
    lengths = np.asarray(lengths)
    order = np.argsort(lengths, kind="stable")
    values, counts = np.unique(lengths, return_counts=True)
    start = np.concatenate([[0], np.cumsum(counts)])  # series before each distinct length
    best = np.full(len(values) + 1, np.inf)
    best[0] = 0.0
    cut = np.zeros(len(values) + 1, dtype=int)
    for i in range(1, len(values) + 1):  # groups = distinct lengths [j, i)
        for j in range(i):
            cost = best[j] + call_cost + (start[i] - start[j]) * values[i - 1] * cells_per_frame
            if cost < best[i]:
                best[i], cut[i] = cost, j
    groups, i = [], len(values)
    while i > 0:
        groups.append(order[start[cut[i]]:start[i]])
        i = cut[i]
    return [g[s:s + max_size] for g in reversed(groups) for s in range(0, len(g), max_size)]


@contextmanager
def limit_threads(n: int | None):
    """Run the block with at most ``n`` threads in torch's and in the BLAS's thread pools (None:
    leave them as they are).

    The recursion is a long chain of small element-wise operations, and L-BFGS-B a chain of small
    BLAS calls. On a 2-core machine shared with other processes, two threads that spin at every
    operation's barrier while the other core is busy made the recursion 2-3x slower and scipy's
    L-BFGS-B step on 13,000 variables 100x slower (0.9 ms -> 120 ms) than one thread; one thread
    was never much slower."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(old)


class _LengthGroups:
    """The series of a set X, grouped by length (:func:`length_buckets`) and laid out for
    :func:`_cdist_groups`: per group, its indices, its series trimmed to the group's longest as
    (m_b, r, d), their squared frame norms (m_b, r) and their lengths (r,). Prepared once per
    k-means fit, reused by every assignment."""

    def __init__(self, xt: torch.Tensor, lx: torch.Tensor, cells_per_frame: int, max_size: int):
        self.n = xt.shape[0]
        self.groups = []
        for group in length_buckets(lx.cpu().numpy(), cells_per_frame, max_size):
            idx = torch.as_tensor(group, device=xt.device)
            xs = xt[idx, :int(lx[idx].max())].transpose(0, 1).contiguous()  # (m_b, r, d)
            self.groups.append((idx, xs, (xs * xs).sum(-1), lx[idx]))


@torch.no_grad()
def _cdist_groups(groups: _LengthGroups, yt: torch.Tensor, ly: torch.Tensor, gamma: float) -> torch.Tensor:
    """(nx, ny) soft-DTW between the grouped series of X and the series yt (ny, n, d), lengths ly."""
    ny, n, d = yt.shape
    yy = (yt * yt).sum(-1)  # (ny, n)
    out = yt.new_empty((ny, groups.n))
    for idx, xs, xx, lengths in groups.groups:
        m, r, _ = xs.shape
        # Cost of pair (c, a) = (Y[c], X[a]) as an (n, m) grid, pairs on the last axis (c major):
        # (n, m, ny, r). The matrix product gives (ny, n, m, r); moving ny inside copies
        # contiguous runs of r values, so this costs about one pass over D.
        dots = torch.mm(yt.reshape(-1, d), xs.reshape(-1, d).T,
                        out=_scratch.get("dots", (ny * n, m * r), yt)).view(ny, n, m, r)
        D = _scratch.get("cost", (n, m, ny, r), yt)
        torch.add(yy.T[:, None, :, None], dots.permute(1, 2, 0, 3), alpha=-2.0, out=D)
        D.add_(xx[None, :, None, :]).clamp_(min=0.0)
        values = _forward(D.view(n, m, ny * r), ly.repeat_interleave(r), lengths.repeat(ny), gamma, overwrite=True)
        out[:, idx] = values.view(ny, r)
    return out.T


def cdist_soft_dtw(X, Y, gamma: float = 1.0, *, device=None, dtype=torch.float64,
                   chunk: int = CHUNK) -> np.ndarray:
    """(nx, ny) soft-DTW between every series of X (nx, m, d) and of Y (ny, n, d), NaN-padded.

    Fastest with the larger set as X. The series of X are grouped by length
    (:func:`length_buckets`, at most ``chunk`` pairs a group); the cost matrices of a group's
    pairs come from one matrix product."""
    dev = default_device(device)
    xt, lx = _as_batch(X, dev, dtype)
    yt, ly = _as_batch(Y, dev, dtype)
    groups = _LengthGroups(xt, lx, yt.shape[0] * yt.shape[1], max(1, chunk // yt.shape[0]))
    with reuse_scratch():
        return _cdist_groups(groups, yt, ly, gamma).cpu().double().numpy()


def cdist_soft_dtw_divergence(X, Y, gamma: float = 1.0, **kwargs) -> np.ndarray:
    """(nx, ny) soft-DTW divergences between the series of X and of Y."""
    self_x = soft_dtw_pairs(X, X, gamma, device=kwargs.get("device")).detach().cpu().numpy()
    self_y = soft_dtw_pairs(Y, Y, gamma, device=kwargs.get("device")).detach().cpu().numpy()
    return cdist_soft_dtw(X, Y, gamma, **kwargs) - 0.5 * (self_x[:, None] + self_y[None, :])


def resample_full_length(centers: np.ndarray) -> np.ndarray:
    """Linear resampling of NaN-padded series (n, sz, d) to the full length sz (what tslearn's
    ``_check_full_length`` does to k-means++ seeds drawn from shorter series)."""
    centers = np.asarray(centers, dtype=float)
    n, sz, d = centers.shape
    out = np.empty_like(centers)
    for c, length in enumerate(series_lengths(centers)):
        t = np.linspace(0, 1, length)
        out[c] = np.stack([np.interp(np.linspace(0, 1, sz), t, centers[c, :length, j]) for j in range(d)], 1)
    return out


@lru_cache(maxsize=1)
def _scipy_setulb():
    """scipy's L-BFGS-B step function (``scipy.optimize._lbfgsb.setulb``, reverse communication),
    or None if this scipy's cannot be driven like ``scipy.optimize.minimize`` drives it.

    It is a private function whose signature changed when L-BFGS-B was translated from Fortran to
    C, so it is checked once per process rather than trusted by version: :func:`_lbfgsb_steps`
    must reach exactly ``minimize``'s solution on a small problem. Written against scipy 1.17.
    """
    try:
        from scipy.optimize import _lbfgsb, minimize

        scales, shift = np.linspace(0.5, 4.0, 6), np.linspace(-1.0, 1.0, 6)

        def f(x):  # smooth, not quadratic: a few iterations and line searches
            r = x - shift
            return float(np.sum(scales * r ** 2 + np.cos(3 * r))), 2 * scales * r - 3 * np.sin(3 * r)

        def evaluate(ids, xs):
            out = [f(x) for x in xs]
            return [v for v, _ in out], [g for _, g in out]

        ours = _lockstep_setulb(_lbfgsb.setulb, evaluate, [np.zeros(6)], tol=1e-6, maxiter=20)[0]
        theirs = minimize(f, np.zeros(6), method="L-BFGS-B", jac=True, tol=1e-6, options=dict(maxiter=20)).x
        return _lbfgsb.setulb if np.array_equal(ours, theirs) else None
    except Exception:  # noqa: BLE001 - any failure means: use the threads
        return None


def _lbfgsb_steps(setulb, x0: np.ndarray, tol: float, maxiter: int, maxcor: int = 10,
                  maxls: int = 20, maxfun: int = 15000):
    """One ``scipy.optimize.minimize(fun, x0, method="L-BFGS-B", jac=True, tol=tol,
    options=dict(maxiter=maxiter))`` run without bounds, as a generator: it yields each point
    where it needs the function, receives ``(value, gradient)`` there, and returns the solution.

    The loop is scipy's own driver (``scipy.optimize._lbfgsb_py._minimize_lbfgsb``, scipy 1.17):
    ``tol`` sets both ftol and gtol, the function is evaluated once at x0 first, a point equal to
    the last one evaluated is not evaluated again (``ScalarFunction``'s cache), and the
    iteration and evaluation limits are checked at each new iteration.
    """
    n = x0.size
    x = np.array(x0, dtype=np.float64)
    bounds = np.zeros(n, np.int32), np.zeros(n), np.zeros(n)  # nbd = 0: unbounded
    wa = np.zeros(2 * maxcor * n + 5 * n + 11 * maxcor * maxcor + 8 * maxcor)
    iwa = np.zeros(3 * n, np.int32)
    task, ln_task = np.zeros(2, np.int32), np.zeros(2, np.int32)
    lsave, isave, dsave = np.zeros(4, np.int32), np.zeros(44, np.int32), np.zeros(29)
    factr = tol / np.finfo(float).eps
    last = x.copy()
    value, grad = yield last.copy()
    f, g, nfev, iterations = value, grad, 1, 0
    while True:
        g = np.asarray(g, dtype=np.float64)
        setulb(maxcor, x, bounds[1], bounds[2], bounds[0], f, g, factr, tol, wa, iwa, task,
               lsave, isave, dsave, maxls, ln_task)
        if task[0] == 3:  # f and g wanted at x
            if not np.array_equal(x, last):
                last = x.copy()
                nfev += 1
                value, grad = yield last.copy()
            f, g = value, grad
        elif task[0] == 1:  # a new iteration
            iterations += 1
            if iterations >= maxiter:
                task[:] = 5, 504
            elif nfev > maxfun:
                task[:] = 5, 502
        else:  # converged, stopped or failed: the result is x, as in scipy
            return x


def lockstep_minimize(evaluate, x0s: list[np.ndarray], *, tol: float, maxiter: int,
                      threads: bool | None = None) -> list[np.ndarray]:
    """Minimise n independent smooth functions, one ``scipy.optimize.minimize(method="L-BFGS-B")``
    each, with their evaluations batched.

    Whenever every unfinished run needs a value, ``evaluate(ids, xs)`` computes them all in one
    call and returns ``(values, gradients)`` for the problems ``ids`` at the points ``xs``. The
    iterates are exactly those of n separate runs (tslearn runs one per barycenter, one after
    the other); only the evaluations are shared. Returns the n solutions.

    Where scipy's L-BFGS-B step can be driven directly (:func:`_scipy_setulb`: scipy's C version
    of L-BFGS-B, 1.15 and later), the runs go step by step through its reverse-communication
    interface (:func:`_lbfgsb_steps`). Otherwise (or with ``threads=True``) each
    ``minimize`` runs in its own thread that hands its points to this one
    (:func:`_lockstep_threads`); the thread hand-offs cost about 1.5 ms per batched evaluation
    on 2 cores, some 60 ms of a 0.5 s fit (``benchmarks/bench_softdtw.py``).
    """
    setulb = None if threads else _scipy_setulb()
    if setulb is None:
        if threads is False:
            raise RuntimeError("lockstep_minimize(threads=False): this scipy's L-BFGS-B step cannot be "
                               "driven directly (see agcc.softdtw._scipy_setulb)")
        return _lockstep_threads(evaluate, x0s, tol=tol, maxiter=maxiter)
    return _lockstep_setulb(setulb, evaluate, x0s, tol=tol, maxiter=maxiter)


def _lockstep_setulb(setulb, evaluate, x0s: list[np.ndarray], *, tol: float, maxiter: int) -> list[np.ndarray]:
    """:func:`lockstep_minimize` through scipy's reverse-communication step ``setulb``: one
    :func:`_lbfgsb_steps` generator per problem, advanced together."""
    runs = [_lbfgsb_steps(setulb, np.asarray(x0, dtype=float), tol, maxiter) for x0 in x0s]
    pending = {i: next(run) for i, run in enumerate(runs)}
    solutions: list = [None] * len(x0s)
    while pending:
        ids = sorted(pending)
        values, grads = evaluate(ids, [pending[i] for i in ids])
        pending = {}
        for i, value, grad in zip(ids, values, grads):
            try:
                pending[i] = runs[i].send((value, grad))
            except StopIteration as done:
                solutions[i] = done.value
    return solutions


def _lockstep_threads(evaluate, x0s: list[np.ndarray], *, tol: float, maxiter: int) -> list[np.ndarray]:
    """:func:`lockstep_minimize` with one ``scipy.optimize.minimize`` per thread (any scipy).

    Each minimisation runs in its own thread and hands every point it needs evaluated to this
    (the calling) thread; whenever every unfinished run waits for a value, ``evaluate(ids, xs)``
    computes them all in one call and returns ``(values, gradients)`` for the problems ``ids`` at
    the points ``xs``. The iterates are exactly those of n separate runs (tslearn runs one per
    barycenter, one after the other); only the evaluations are shared. Evaluating in the calling
    thread keeps torch's allocations in one thread (allocations spread over threads left 2x the
    peak memory). Returns the n solutions.
    """
    import threading

    from scipy.optimize import minimize

    lock = threading.Lock()
    all_waiting = threading.Condition(lock)  # wakes this thread when every unfinished run waits
    ready = [threading.Event() for _ in x0s]  # wakes run i when its value is there
    active, pending, results = set(range(len(x0s))), {}, {}
    solutions: list = [None] * len(x0s)
    errors: list = []

    def function(i: int):
        def f(x: np.ndarray):
            with lock:
                pending[i] = x.copy()
                if len(pending) == len(active):
                    all_waiting.notify()
            ready[i].wait()
            ready[i].clear()
            out = results.pop(i)
            if isinstance(out, BaseException):
                raise out
            return out
        return f

    def run(i: int) -> None:
        try:
            solutions[i] = minimize(function(i), x0s[i], method="L-BFGS-B", jac=True, tol=tol,
                                    options=dict(maxiter=maxiter)).x
        except BaseException as err:
            errors.append(err)
        finally:
            with lock:
                active.discard(i)
                all_waiting.notify()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(x0s))]
    for t in threads:
        t.start()
    with lock:
        while True:
            all_waiting.wait_for(lambda: not active or len(pending) == len(active))
            if not active:
                break
            ids = sorted(pending)
            try:
                values, grads = evaluate(ids, [pending[i] for i in ids])
                results.update({i: (v, g) for i, v, g in zip(ids, values, grads)})
            except BaseException as err:  # every waiting run raises it
                results.update({i: err for i in ids})
            pending.clear()
            for i in ids:
                ready[i].set()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return solutions


class EmptyClusterError(RuntimeError):
    """An assignment left a cluster without series (the fit restarts from a new seeding)."""


class SoftDTWKMeans:
    """Time-series k-means under soft-DTW (Sec. II-C), batched; tslearn's algorithm.

    Each iteration assigns every series to the barycenter of least soft-DTW, then moves each
    barycenter to a minimiser of the sum of soft-DTW to its series. As in tslearn:

    * seeding: k-means++ with soft-DTW in place of the Euclidean distance (tslearn's
      ``_k_init_metric``, same draws from ``numpy.random.RandomState(random_state)``, seeds
      resampled to full length);
    * barycenters: one L-BFGS per cluster (``scipy.optimize.minimize(method="L-BFGS-B")``,
      ``tol``, ``max_iter_barycenter`` iterations) from the current barycenter; the k runs go in
      lockstep (:func:`lockstep_minimize`), so that each function evaluation is one batched
      soft-DTW over the series of all clusters still being optimised;
    * an empty cluster after an assignment restarts the fit from a new k-means++ seeding (the
      random state moves on), at most ``max(n_init, 10)`` attempts;
    * ``inertia_``: the mean over series of the squared soft-DTW to the assigned barycenter, at the
      last assignment (tslearn's definition); iterations stop early when it changes by less than
      ``tol_kmeans``.

    Parameters
    ----------
    n_clusters
        k.
    gamma
        Soft-DTW smoothing (> 0).
    max_iter, tol_kmeans
        At most ``max_iter`` assignment/update rounds; stop early when the inertia changes by
        less than ``tol_kmeans`` (tslearn's ``tol``).
    max_iter_barycenter, tol
        L-BFGS iterations and tolerance of each barycenter update (tslearn's defaults: 100, 1e-3).
    n_init
        Fits from different seedings; the one of least inertia is kept.
    init
        ``"k-means++"`` or initial barycenters (k, sz', d), NaN-padded.
    random_state
        Seed or ``numpy.random.RandomState`` of the seeding (as in tslearn).
    device, dtype
        Where and in which precision the soft-DTWs are computed (default: CUDA if available,
        else the CPU; float64).
    threads
        Intra-op threads of torch and of the BLAS during the fit (None: leave them; see
        :func:`limit_threads`).

    Fitted attributes: ``cluster_centers_`` (k, sz, d), ``labels_`` (n,), ``inertia_``,
    ``n_iter_``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.concatenate([np.zeros((5, 4, 1)), np.ones((5, 4, 1))])
    >>> SoftDTWKMeans(2, max_iter=3, random_state=0, device="cpu").fit(X).labels_.tolist()
    [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    """

    def __init__(self, n_clusters: int = 3, *, gamma: float = 1.0, max_iter: int = 50,
                 max_iter_barycenter: int = 100, tol: float = 1e-3, tol_kmeans: float = 1e-6,
                 n_init: int = 1, init="k-means++", random_state=None, device=None,
                 dtype=torch.float64, threads: int | None = 1):
        self.n_clusters = n_clusters
        self.gamma = gamma
        self.max_iter = max_iter
        self.max_iter_barycenter = max_iter_barycenter
        self.tol = tol
        self.tol_kmeans = tol_kmeans
        self.n_init = n_init
        self.init = init
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.threads = threads

    # -- steps -------------------------------------------------------------------------------
    def _cdist(self, centers: np.ndarray) -> np.ndarray:
        """(n, c) soft-DTW between the fitted series (grouped once per fit) and ``centers``."""
        yt, ly = _as_batch(centers, self.device_, self.dtype)
        return _cdist_groups(self._x_groups, yt, ly, self.gamma).cpu().double().numpy()

    def _kmeans_plusplus(self, X: np.ndarray, rs: np.random.RandomState) -> np.ndarray:
        """k-means++ seeding with squared soft-DTW as the potential (tslearn's
        ``_k_init_metric``, draw for draw)."""
        n = X.shape[0]
        k = self.n_clusters
        trials = 2 + int(np.log(k))
        centers = np.empty((k,) + X.shape[1:])
        centers[0] = X[rs.randint(n)]
        closest = self._cdist(centers[:1])[:, 0] ** 2  # (n,)
        potential = closest.sum()
        for c in range(1, k):
            draws = rs.random_sample(trials) * potential
            candidates = np.clip(np.searchsorted(np.cumsum(closest, dtype=np.float64), draws), None, n - 1)
            to_candidates = np.minimum(closest, self._cdist(X[candidates]).T ** 2)  # (trials, n)
            best = int(np.argmin(to_candidates.sum(1)))
            potential, closest = to_candidates[best].sum(), to_candidates[best]
            centers[c] = X[candidates[best]]
        return resample_full_length(centers)

    def _assign(self) -> tuple[np.ndarray, np.ndarray]:
        dist = self._cdist(self.cluster_centers_)  # (n, k)
        labels = dist.argmin(1)
        return labels, dist[np.arange(len(labels)), labels]

    def _update_barycenters(self, labels: np.ndarray) -> None:
        """Move each barycenter Z_c (sz, d) to a minimiser of sum_{i in c} sdtw(Z_c, X_i): one
        L-BFGS-B per cluster from the current barycenter, as in tslearn, run in lockstep
        (:func:`lockstep_minimize`) so that every evaluation is one batch over the series of all
        clusters still being optimised."""
        shape = self.cluster_centers_.shape
        k = shape[0]
        groups = []  # per length group: its series sorted by cluster, as _barycenter_terms wants them
        labels_t = torch.as_tensor(labels, device=self.device_)
        for idx, Xb, lb, xxb in self._grad_groups:
            group_labels = labels_t[idx]
            order = torch.argsort(group_labels, stable=True)
            groups.append((group_labels[order], Xb[order], lb[order], xxb[order]))

        def evaluate(ids: list[int], zs: list[np.ndarray]):
            Z = torch.as_tensor(self.cluster_centers_, dtype=self.dtype).to(self.device_)
            Z[ids] = torch.as_tensor(np.stack(zs).reshape((len(ids),) + shape[1:]), dtype=self.dtype).to(self.device_)
            open_ = torch.zeros(k, dtype=torch.bool, device=self.device_)
            open_[ids] = True
            values = torch.zeros(k, dtype=torch.float64, device=self.device_)
            grads = torch.zeros_like(Z)
            for labels_b, Xb, lb, xxb in groups:  # series of similar length, (r, m_b, d)
                keep = open_[labels_b]  # series whose cluster is still being optimised
                if not bool(keep.any()):
                    continue
                counts = torch.bincount(labels_b[keep], minlength=k).tolist()
                group_values, group_grads = _barycenter_terms(Z, counts, Xb[keep], lb[keep], xxb[keep], self.gamma)
                values += group_values
                grads += group_grads
            return values[ids].cpu().double().tolist(), list(grads[ids].cpu().double().numpy().reshape(len(ids), -1))

        x0s = [c.ravel() for c in self.cluster_centers_]
        solutions = lockstep_minimize(evaluate, x0s, tol=self.tol, maxiter=self.max_iter_barycenter)
        self.cluster_centers_ = np.stack(solutions).reshape(shape)

    def _fit_one_init(self, X, rs) -> None:
        if isinstance(self.init, str) and self.init == "k-means++":
            self.cluster_centers_ = self._kmeans_plusplus(X, rs)
        else:  # given initial barycenters (k, sz', d), NaN-padded like X
            self.cluster_centers_ = resample_full_length(np.asarray(self.init, dtype=float))
        old = np.inf
        for it in range(self.max_iter):
            labels, dist = self._assign()
            if np.bincount(labels, minlength=self.n_clusters).min() == 0:
                raise EmptyClusterError
            self.inertia_ = float(np.mean(dist ** 2))
            self._update_barycenters(labels)
            if abs(old - self.inertia_) < self.tol_kmeans:
                break
            old = self.inertia_
        self.n_iter_ = it + 1

    # -- public ------------------------------------------------------------------------------
    def fit(self, X) -> "SoftDTWKMeans":
        """Fit on X (n, sz, d), NaN-padded at the end for shorter series."""
        with limit_threads(self.threads), reuse_scratch():
            return self._fit(np.asarray(X, dtype=float))

    def _prepare(self, X: np.ndarray) -> None:
        """Move X to the device once and group its series by length: for the assignments (k
        barycenters of full length each) and for the barycenter objective (one barycenter each)."""
        self.device_ = default_device(self.device)
        Xt, lx = _as_batch(X, self.device_, self.dtype)
        self._x_groups = _LengthGroups(Xt, lx, self.n_clusters * X.shape[1], max(1, CHUNK // self.n_clusters))
        self._grad_groups = []
        for group in length_buckets(lx.cpu().numpy(), X.shape[1], GRAD_CHUNK):
            idx = torch.as_tensor(group, device=self.device_)
            Xb = Xt[idx, :int(lx[idx].max())]  # (r, m_b, d), trimmed to the group's longest
            self._grad_groups.append((idx, Xb, lx[idx], (Xb * Xb).sum(-1)))

    def _fit(self, X: np.ndarray) -> "SoftDTWKMeans":
        self._prepare(X)
        rs = self.random_state if isinstance(self.random_state, np.random.RandomState) \
            else np.random.RandomState(self.random_state)
        best = None
        successes = attempts = 0
        try:
            while successes < self.n_init and attempts < max(self.n_init, 10):
                attempts += 1
                try:
                    self._fit_one_init(X, rs)
                except EmptyClusterError:
                    continue
                successes += 1
                if best is None or self.inertia_ < best[1]:
                    best = (self.cluster_centers_.copy(), self.inertia_, self.n_iter_)
            if best is None:
                raise EmptyClusterError(f"every one of {attempts} seedings left a cluster empty; "
                                        f"use fewer than {self.n_clusters} clusters")
            self.cluster_centers_, self.inertia_, self.n_iter_ = best
            self.labels_ = self._assign()[0]
        finally:  # the prepared copies of X are not part of the fitted model
            del self._x_groups, self._grad_groups
        return self

    def predict(self, X) -> np.ndarray:
        """Index of the barycenter of least soft-DTW for each series of X (n, sz, d)."""
        with limit_threads(self.threads):
            return cdist_soft_dtw(X, self.cluster_centers_, self.gamma, device=self.device_,
                                  dtype=self.dtype).argmin(1)
