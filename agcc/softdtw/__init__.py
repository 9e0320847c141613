"""Batched soft-DTW and soft-DTW time-series k-means in PyTorch (the clustering of Sec. II-C).

Sec. II-C groups the AG segments by "time-series k-means clustering with Soft-DTW as the
distance metric". tslearn's ``TimeSeriesKMeans(metric="softdtw")`` is the reference
implementation (:mod:`agcc.clustering`, ``backend="tslearn"``); it computes one pair of series at a
time in numba, which took 5-20 s per fit of 1,500-2,000 short segments (k = 10) on this project's
2-core machines, plus 5-10 s of compilation in every process. This package computes the same
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

The package has three layers, as tslearn splits ``metrics``, ``barycenters`` and ``clustering``:
:mod:`.kernel` (the batched recursion and its gradient), :mod:`.lbfgs` (the lockstep L-BFGS-B
driver) and :mod:`.kmeans` (the estimator).
"""
# the public API, re-exported (documented in the submodules)
from .kernel import (cdist_soft_dtw, cdist_soft_dtw_divergence, default_device, length_buckets, limit_threads,
                     reuse_scratch, series_lengths, soft_dtw_divergence_pairs, soft_dtw_pairs)
from .kmeans import EmptyClusterError, SoftDTWKMeans, resample_full_length
from .lbfgs import lockstep_minimize

