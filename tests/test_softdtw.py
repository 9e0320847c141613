"""Batched soft-DTW (agcc.softdtw) against tslearn, the reference implementation."""
import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from agcc import softdtw as S
from agcc.softdtw import kernel as K
from agcc.clustering import fit_kmeans, to_dataset

GAMMAS = [0.01, 0.1, 1.0, 10.0]


def _padded(rng, n, max_len, d, min_len=1):
    """n NaN-padded series (n, max_len, d) of random lengths in [min_len, max_len], and the lengths."""
    lengths = rng.integers(min_len, max_len + 1, n)
    lengths[0] = max_len  # the padded width is reached
    x = np.full((n, max_len, d), np.nan)
    for i, length in enumerate(lengths):
        x[i, :length] = rng.normal(size=(length, d))
    return x, lengths


@pytest.mark.parametrize("gamma", GAMMAS)
def test_values_match_tslearn(gamma):
    from tslearn.metrics import cdist_soft_dtw, soft_dtw

    rng = np.random.default_rng(int(gamma * 100))
    x, lx = _padded(rng, 25, 9, 3)
    y, ly = _padded(rng, 25, 7, 3)
    ref = np.array([soft_dtw(x[b, :lx[b]], y[b, :ly[b]], gamma=gamma) for b in range(25)])
    np.testing.assert_allclose(S.soft_dtw_pairs(x, y, gamma).numpy(), ref, rtol=0, atol=1e-6)
    ref_cdist = cdist_soft_dtw(x, y, gamma=gamma)  # tslearn strips the NaN padding itself
    np.testing.assert_allclose(S.cdist_soft_dtw(x, y, gamma), ref_cdist, rtol=0, atol=1e-6)
    # the larger set as either argument, and length groups cut small, give the same values
    np.testing.assert_allclose(S.cdist_soft_dtw(y, x, gamma, chunk=30), ref_cdist.T, rtol=0, atol=1e-6)


def test_equal_length_series_match_tslearn():
    from tslearn.metrics import soft_dtw

    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(2, 12, 24)), rng.normal(size=(2, 12, 24))
    got = S.soft_dtw_pairs(x, y, 1.0).numpy()
    np.testing.assert_allclose(got, [soft_dtw(x[b], y[b], gamma=1.0) for b in range(2)], rtol=0, atol=1e-6)


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_gradient_matches_tslearn_alignment(gamma):
    """d sdtw / d x_i = sum_j E_ij * 2 (x_i - y_j), E being tslearn's soft alignment matrix."""
    from tslearn.metrics import soft_dtw_alignment

    rng = np.random.default_rng(3)
    x, lx = _padded(rng, 6, 8, 4, min_len=2)
    y, ly = _padded(rng, 6, 5, 4, min_len=2)
    xt = torch.tensor(x, requires_grad=True)
    S.soft_dtw_pairs(xt, y, gamma).sum().backward()
    for b in range(6):
        E, _ = soft_dtw_alignment(x[b, :lx[b]], y[b, :ly[b]], gamma=gamma)
        expected = 2 * (E.sum(1)[:, None] * x[b, :lx[b]] - E @ y[b, :ly[b]])
        np.testing.assert_allclose(xt.grad[b, :lx[b]].numpy(), expected, rtol=1e-6, atol=1e-8)
        # NaN padding gets no gradient (and no NaN)
        assert torch.all(xt.grad[b, lx[b]:] == 0)


def test_gradient_finite_differences_and_autograd_variant():
    rng = np.random.default_rng(4)
    x, lx = _padded(rng, 3, 5, 2, min_len=2)
    y = torch.tensor(rng.normal(size=(3, 4, 2)))
    filled = torch.tensor(np.nan_to_num(x), requires_grad=True)
    mask = torch.tensor(~np.isnan(x))

    def f(z):  # the padding stays NaN so that the lengths are read from it
        return S.soft_dtw_pairs(torch.where(mask, z, torch.nan), y, 0.5)

    assert torch.autograd.gradcheck(f, (filled,), eps=1e-6, atol=1e-6)
    # autograd through the recursion agrees with the custom backward (Alg. 2)
    g_custom = torch.autograd.grad(f(filled).sum(), filled)[0]
    g_auto = torch.autograd.grad(S.soft_dtw_pairs(torch.where(mask, filled, torch.nan), y, 0.5,
                                                  autograd=True).sum(), filled)[0]
    torch.testing.assert_close(g_custom, g_auto, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_barycenter_objective_closed_form_matches_autograd(gamma):
    """_barycenter_terms (the k-means' objective, with its gradient written out) against autograd
    through soft_dtw_pairs, summed per cluster; series of several lengths, one cluster empty."""
    rng = np.random.default_rng(11)
    counts = [3, 0, 5, 2]
    x, lx = _padded(rng, sum(counts), 6, 3, min_len=2)
    Z = torch.tensor(rng.normal(size=(len(counts), 7, 3)), requires_grad=True)
    owner = np.repeat(np.arange(len(counts)), counts)
    pair = S.soft_dtw_pairs(Z[torch.as_tensor(owner)], x, gamma)
    expected_values = torch.zeros(len(counts), dtype=torch.float64).index_add(0, torch.as_tensor(owner), pair)
    expected_values.sum().backward()
    xt, lengths = K._as_batch(x, "cpu")
    with S.reuse_scratch():
        values, grads = K._barycenter_terms(Z.detach(), counts, xt, lengths, (xt * xt).sum(-1), gamma)
        assert set(K._scratch.store) >= {"probs", "E"}  # reused inside the block
    assert not K._scratch.store  # and freed after it
    torch.testing.assert_close(values, expected_values.detach(), rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(grads, Z.grad, rtol=1e-9, atol=1e-10)
    assert torch.all(grads[1] == 0)


def test_divergence_zero_on_identical_series_and_positive_otherwise():
    rng = np.random.default_rng(5)
    x, _ = _padded(rng, 8, 6, 3, min_len=2)
    y, _ = _padded(rng, 8, 6, 3, min_len=2)
    same = S.soft_dtw_divergence_pairs(x, x, 1.0).numpy()
    np.testing.assert_allclose(same, 0.0, atol=1e-9)
    assert (S.soft_dtw_divergence_pairs(x, y, 1.0).numpy() > 0).all()
    # sdtw(x, x) itself is below 0 (softmin < min when several paths exist), which is why the
    # divergence is used
    assert (S.soft_dtw_pairs(x, x, 1.0).numpy() < 0).all()
    div = S.cdist_soft_dtw_divergence(x, x, 1.0)
    np.testing.assert_allclose(np.diag(div), 0.0, atol=1e-9)
    np.testing.assert_allclose(div, div.T, atol=1e-9)


def test_length_buckets_cover_every_series_once():
    lengths = np.array([3, 9, 3, 4, 18, 5, 3, 9, 4, 6] * 50)
    groups = S.length_buckets(lengths, cells_per_frame=180, max_size=120, call_cost=2000)
    assert sorted(np.concatenate(groups).tolist()) == list(range(len(lengths)))
    assert all(len(g) <= 120 for g in groups)
    # groups are runs of the sorted lengths, so a group never mixes lengths across another's
    spans = sorted((lengths[g].min(), lengths[g].max()) for g in groups)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    # a huge cost per call merges everything into one group (cut only by max_size)
    assert len(S.length_buckets(lengths, 180, 10_000, call_cost=1e12)) == 1


def _ag_like(n=240, seed=0):
    """AG-like segments: 4 smooth mouth gestures over 24 coordinates, 3-12 frames, noise."""
    rng = np.random.default_rng(seed)
    shapes = rng.normal(size=(4, 4, 24))  # 4 gestures, 4 control points each
    segments, truth = [], []
    for i in range(n):
        g = i % 4
        length = int(rng.integers(3, 13))
        t = np.linspace(0, 3, length)
        curve = np.stack([np.interp(t, np.arange(4), shapes[g][:, j]) for j in range(24)], 1)
        segments.append(curve + rng.normal(0, 0.6, curve.shape))
        truth.append(g)
    return segments, np.array(truth)


def test_kmeans_plusplus_draws_like_tslearn():
    tslearn_kmeans = pytest.importorskip("tslearn.clustering.kmeans")
    from tslearn.metrics import cdist_soft_dtw

    segments, _ = _ag_like(120, seed=1)
    X = to_dataset(segments)
    ours = S.SoftDTWKMeans(5, random_state=3, device="cpu")
    ours._prepare(X)
    got = ours._kmeans_plusplus(X, np.random.RandomState(3))
    ref = tslearn_kmeans._k_init_metric(X, 5, cdist_metric=lambda a, b: cdist_soft_dtw(a, b, gamma=1.0),
                                        random_state=np.random.RandomState(3))
    np.testing.assert_allclose(got, S.resample_full_length(ref), atol=1e-12)


def test_kmeans_same_quality_as_tslearn_from_the_same_initialization():
    from tslearn.clustering import TimeSeriesKMeans

    segments, truth = _ag_like()
    X = to_dataset(segments)
    init = X[[0, 1, 2, 3]]  # one series of each gesture, NaN-padded like X
    ref = TimeSeriesKMeans(4, metric="softdtw", max_iter=5, max_iter_barycenter=20, init=init).fit(X)
    ours = S.SoftDTWKMeans(4, max_iter=5, max_iter_barycenter=20, init=init, device="cpu").fit(X)
    assert abs(ours.inertia_ / ref.inertia_ - 1) < 0.01
    assert adjusted_rand_score(ref.labels_, ours.labels_) >= 0.95
    np.testing.assert_array_equal(ours.predict(X), ours.labels_)
    assert adjusted_rand_score(truth, ours.labels_) > 0.9  # and it finds the gestures


def test_fit_kmeans_backends_agree():
    """The pipeline's setting (float32, k-means++ from the seed) against tslearn's."""
    segments, _ = _ag_like(seed=2)
    torch_model = fit_kmeans(segments, 4, max_iter=5, seed=0, backend="torch")
    ref_model = fit_kmeans(segments, 4, max_iter=5, seed=0, backend="tslearn")
    assert abs(torch_model.inertia / ref_model.inertia - 1) < 0.01
    assert adjusted_rand_score(ref_model.predict(segments), torch_model.predict(segments)) >= 0.95
    np.testing.assert_allclose(torch_model.divergence, torch_model.divergence.T, atol=1e-8)
    np.testing.assert_array_equal(np.diag(torch_model.divergence), 0.0)
    with pytest.raises(ValueError, match="backend"):
        fit_kmeans(segments, 4, backend="numba")


def test_empty_cluster_restarts_then_gives_up():
    # three distinct series, repeated: every 4-cluster seeding leaves a cluster empty
    rng = np.random.default_rng(6)
    X = np.repeat(rng.normal(size=(3, 5, 2)), 10, axis=0)
    with pytest.raises(S.EmptyClusterError, match="10 seedings"):
        S.SoftDTWKMeans(4, max_iter=2, random_state=0, device="cpu").fit(X)
    # with fewer clusters than distinct series it fits
    assert len(set(S.SoftDTWKMeans(3, max_iter=2, random_state=0, device="cpu").fit(X).labels_)) == 3


def test_empty_series_is_refused():
    x = np.full((2, 3, 2), np.nan)
    x[0, :2] = 1.0
    with pytest.raises(ValueError, match=r"series \[1\] have no frame"):
        S.soft_dtw_pairs(x, x)


def test_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert S.default_device().type == "cpu"
    x = np.random.default_rng(8).normal(size=(2, 4, 3))
    assert S.soft_dtw_pairs(x, x).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(9)
    x, _ = _padded(rng, 20, 9, 3)
    y, _ = _padded(rng, 20, 7, 3)
    np.testing.assert_allclose(S.cdist_soft_dtw(x, y, device="cuda"), S.cdist_soft_dtw(x, y, device="cpu"),
                               atol=1e-6)


@pytest.mark.parametrize("maxiter", [2, 20])
@pytest.mark.parametrize("threads", [False, True])
def test_lockstep_minimize_gives_the_separate_runs_iterates(threads, maxiter):
    """Batched evaluations must not change what each L-BFGS-B run does, whether the runs are
    driven through scipy's reverse-communication step (scipy >= 1.15) or in threads."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(10)
    scales = rng.uniform(0.5, 5.0, (4, 6))
    targets = rng.normal(size=(4, 6))

    def f(c, x):  # a different smooth non-quadratic function per problem
        r = x - targets[c]
        return float(np.sum(scales[c] * r ** 2 + np.cos(r))), 2 * scales[c] * r - np.sin(r)

    calls = []

    def evaluate(ids, xs):
        calls.append(len(ids))
        out = [f(c, x) for c, x in zip(ids, xs)]
        return [v for v, _ in out], [g for _, g in out]

    x0s = [np.zeros(6) for _ in range(4)]
    got = S.lockstep_minimize(evaluate, x0s, tol=1e-3, maxiter=maxiter, threads=threads)
    for c in range(4):
        alone = minimize(lambda x: f(c, x), x0s[c], method="L-BFGS-B", jac=True, tol=1e-3,
                         options=dict(maxiter=maxiter)).x
        np.testing.assert_array_equal(got[c], alone)
    assert calls[0] == 4 and len(calls) < 4 * max(calls)  # evaluations were shared

    def failing(ids, xs):
        raise FloatingPointError("boom")

    with pytest.raises(FloatingPointError, match="boom"):
        S.lockstep_minimize(failing, x0s, tol=1e-3, maxiter=5, threads=threads)
