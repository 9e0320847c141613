"""The batched soft-DTW kernel: values, gradients and divergences of many pairs of series at once.

Soft-DTW (Cuturi & Blondel 2017, Eq. 1 and Alg. 1) with the squared Euclidean ground cost,
``R[i, j] = D[i, j] + softmin_gamma(R[i-1, j-1], R[i-1, j], R[i, j-1])``, is evaluated one
anti-diagonal at a time for every pair of a batch (the cells of an anti-diagonal do not depend on
each other); the only Python loop runs over the ``m + n`` anti-diagonals, and the exponentials are
taken in base 2 (:func:`_forward`). Its gradient with respect to the cost matrix comes from the
backward recursion of Alg. 2 (:class:`_SoftDTW`, a custom autograd function), chained to the series
by autograd or, for the barycenter objective of the k-means (:mod:`agcc.softdtw.kmeans`), by a
closed form (:func:`_barycenter_terms`). The soft-DTW divergence
``D(x, y) = sdtw(x, y) - (sdtw(x, x) + sdtw(y, y)) / 2`` (Blondel et al. 2021) is zero for ``x = y``.

Variable-length series are NaN-padded at the end, as in tslearn: a series' length is the index of
its last row that is not all-NaN, plus one, and each pair's value is read at ``R[len_x, len_y]``.
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager

import numpy as np
import torch

from ..io import torch_device

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

