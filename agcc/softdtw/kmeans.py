"""Soft-DTW time-series k-means (Sec. II-C), batched: tslearn's ``TimeSeriesKMeans(metric="softdtw")``
with every step computed for whole batches of series (:mod:`agcc.softdtw.kernel`) and the k
barycenter updates run in lockstep (:mod:`agcc.softdtw.lbfgs`)."""
from __future__ import annotations

import numpy as np
import torch

from .kernel import (CHUNK, GRAD_CHUNK, _as_batch, _barycenter_terms, _cdist_groups, _LengthGroups, cdist_soft_dtw,
                     default_device, length_buckets, limit_threads, reuse_scratch, series_lengths)
from .lbfgs import lockstep_minimize


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
