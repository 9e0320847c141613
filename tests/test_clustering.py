"""AG clustering: the elbow rule on constructed curves, reproducibility, divergence."""
import numpy as np

from agcc.clustering import (ClusteringRun, _cached_run, code_key, elbow_k, fit_kmeans,
                             softdtw_divergence, to_dataset)


def test_elbow_rule_on_constructed_curves():
    ks = np.arange(2, 16)
    sharp = np.where(ks <= 6, 100 - 20 * (ks - 2), 20 - 0.5 * (ks - 6))  # kink at 6
    assert elbow_k(ks, sharp) == 6
    # y = 1/k on [2, 15]: the farthest point from the chord is where the slope equals the chord's,
    # -1/k^2 = (1/15 - 1/2) / 13, i.e. k = 5.48; on the integer grid, 5 or 6.
    assert elbow_k(ks, 1.0 / ks) in (5, 6)
    assert elbow_k([3, 5], [2.0, 1.0]) == 3
    straight = 10 - ks
    assert elbow_k(ks, straight) in ks  # no elbow: any point, but no crash


def _two_gestures(n=20, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 6)[:, None]
    up = [np.tile(t, (1, 24)) + rng.normal(0, 0.05, (6, 24)) for _ in range(n)]
    down = [np.tile(1 - t, (1, 24)) + rng.normal(0, 0.05, (6, 24)) for _ in range(n)]
    return up + down


def test_clustering_separates_gestures_and_is_reproducible():
    segs = _two_gestures()
    a = fit_kmeans(segs, 2, max_iter=5, seed=3)
    b = fit_kmeans(segs, 2, max_iter=5, seed=3)
    la, lb = a.predict(segs), b.predict(segs)
    np.testing.assert_array_equal(la, lb)
    assert len(set(la[:20])) == 1 and len(set(la[20:])) == 1 and la[0] != la[-1]
    assert a.divergence.shape == (2, 2) and np.allclose(np.diag(a.divergence), 0, atol=1e-6)
    assert a.divergence[0, 1] > 0


def test_divergence_and_padding():
    x = np.random.default_rng(0).normal(size=(5, 3))
    assert abs(softdtw_divergence(x, x, 1.0)) < 1e-9
    ds = to_dataset([np.ones((2, 3)), np.ones((4, 3))])
    assert ds.shape == (2, 4, 3) and np.isnan(ds[0, 2:]).all()


def test_cache_key_names_the_backend_and_the_code(tmp_path):
    (tmp_path / "segments").mkdir()
    (tmp_path / "segments" / "inputs.sha256").write_text("abc")
    computed = []

    def compute():
        computed.append(1)
        return ClusteringRun(ks=[2], inertias=[1.0], elbow=2, k=2, labels=np.zeros(3, int),
                             barycenters=np.zeros((2, 4, 3)), divergence=np.zeros((2, 2)),
                             mean=np.zeros(3), std=np.ones(3))

    for backend in ("torch", "torch", "tslearn", "torch"):
        _cached_run(tmp_path / "segments", tmp_path / "run", {"k": 2, "backend": backend}, compute)
    assert len(computed) == 3  # the second torch call is a hit; switching backends recomputes
    assert code_key("torch") != code_key("tslearn") and len(code_key("torch")) == 16
    # keyed by the code's syntax tree, as the training runs are: a docstring edit keeps the key
    from importlib import resources

    from agcc.io import source_key
    source = resources.files("agcc").joinpath("clustering.py").read_text(encoding="utf-8")
    edited = source.replace('"""Articulatory-gesture clustering', '"""Edited: articulatory-gesture clustering', 1)
    assert edited != source and source_key(edited) == source_key(source)
    assert source_key(source.replace("+ 1e-8", "+ 1e-7", 1)) != source_key(source)
    import hashlib

    read = lambda *p: resources.files("agcc").joinpath(*p).read_text(encoding="utf-8")  # noqa: E731
    h = hashlib.sha256(source_key(source).encode())
    for name in ("kernel.py", "lbfgs.py", "kmeans.py"):
        h.update(source_key(read("softdtw", name)).encode())
    assert code_key("torch") == h.hexdigest()[:16]
