"""The anchored losses (Eq. 2-3), triplet mining and CORAL on hand-computed examples."""
import math

import pytest
import torch

from agcc.losses import (ag_anchored_loss, confident_labels, coral_loss, euclidean, mine_triplets,
                         soft_weight)


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_soft_weight_equal_and_distant_centroids():
    assert float(soft_weight(0.0)) == pytest.approx(1.0)
    assert float(soft_weight(5.0, beta=0.2)) == pytest.approx(math.exp(-1.0), rel=1e-6)
    assert float(soft_weight(100.0, beta=0.2)) == pytest.approx(math.exp(-20.0), rel=1e-5)
    w = soft_weight(torch.tensor([0.0, 1.0, 10.0]))
    assert bool((w[:-1] > w[1:]).all())  # farther centroids, smaller weight


def test_inactive_hinge_is_zero():
    # d(a, p) = 1, d(a, n) = 3, w = 1: 1 - 3 + 0.3 < 0
    loss = ag_anchored_loss(t([[0, 0]]), t([[1, 0]]), t([[3, 0]]), torch.tensor([0.0]), reduction="none")
    assert float(loss[0]) == 0.0


def test_active_hinge_hand_computed():
    # d(a, p) = 2, d(a, n) = 1, w = 1: 2 - 1 + 0.3 = 1.3
    loss = ag_anchored_loss(t([[0, 0]]), t([[0, 2]]), t([[1, 0]]), torch.tensor([0.0]))
    assert float(loss) == pytest.approx(1.3, abs=1e-5)
    # same geometry as the inactive case, but distant centroids: w = e^-2, 1 - 3 e^-2 + 0.3 > 0
    loss = ag_anchored_loss(t([[0, 0]]), t([[1, 0]]), t([[3, 0]]), torch.tensor([10.0]), beta=0.2)
    assert float(loss) == pytest.approx(1.0 - 3.0 * math.exp(-2.0) + 0.3, abs=1e-5)


def test_reductions_and_margin():
    a, p, n = t([[0, 0], [0, 0]]), t([[0, 2], [0, 1]]), t([[1, 0], [3, 0]])
    per = ag_anchored_loss(a, p, n, torch.zeros(2), alpha=0.5, reduction="none")
    assert per.tolist() == pytest.approx([1.5, 0.0], abs=1e-5)
    assert float(ag_anchored_loss(a, p, n, torch.zeros(2), alpha=0.5, reduction="sum")) == pytest.approx(1.5, abs=1e-5)
    assert float(ag_anchored_loss(a, p, n, torch.zeros(2), alpha=0.5)) == pytest.approx(0.75, abs=1e-5)
    with pytest.raises(ValueError):
        ag_anchored_loss(a, p, n, torch.zeros(2), reduction="max")


def test_empty_triplets_give_zero_with_a_graph():
    z = torch.zeros(0, 4, requires_grad=True)
    loss = ag_anchored_loss(z, z, z, torch.zeros(0))
    loss.backward()
    assert loss.item() == 0.0 and z.grad is not None


def test_gradient_pulls_positive_and_pushes_negative():
    a = t([[0.0, 0.0]]).requires_grad_()
    loss = ag_anchored_loss(a, t([[0, 2]]), t([[1, 0]]), torch.tensor([0.0]))
    loss.backward()
    # moving the anchor toward the positive (+y) and away from the negative (-x) lowers the loss
    assert a.grad[0, 1] < 0 and a.grad[0, 0] > 0


def test_euclidean_has_finite_gradient_at_zero():
    a = torch.zeros(1, 3, requires_grad=True)
    euclidean(a, torch.zeros(1, 3)).sum().backward()
    assert torch.isfinite(a.grad).all()


def _pool():
    # source tokens: groups and emotions
    group = torch.tensor([0, 0, 1, 1, 2, 2])
    emotion = torch.tensor([0, 1, 0, 1, 0, 0])
    return group, emotion


def test_mining_picks_valid_triplets():
    pg, pe = _pool()
    ag = torch.tensor([0, 1, 2, 0])
    ae = torch.tensor([0, 1, 0, 1])
    ok = torch.ones(4, dtype=torch.bool)
    a, p, n = mine_triplets(ag, ae, ok, pg, pe, torch.Generator().manual_seed(0))
    assert len(a) == 4
    assert bool((pg[p] == ag[a]).all() and (pe[p] == ae[a]).all())  # same group, same emotion
    assert bool((pg[n] != ag[a]).all() and (pe[n] == ae[a]).all())  # other group, same emotion


def test_mining_no_common_cluster_gives_no_triplet():
    pg, pe = _pool()
    a, p, n = mine_triplets(torch.tensor([0, 1]), torch.tensor([0, 0]), torch.zeros(2, dtype=torch.bool), pg, pe)
    assert a.numel() == p.numel() == n.numel() == 0


def test_mining_skips_anchor_without_same_emotion_positive():
    pg, pe = _pool()
    # group 2 has no source token of emotion 1: the anchor (2, 1) has no positive
    a, _, _ = mine_triplets(torch.tensor([2, 0]), torch.tensor([1, 0]), torch.ones(2, dtype=torch.bool), pg, pe)
    assert a.tolist() == [1]
    # an emotion no source token has: neither positive nor negative
    a, _, _ = mine_triplets(torch.tensor([0]), torch.tensor([3]), torch.ones(1, dtype=torch.bool), pg, pe)
    assert a.numel() == 0


def test_mining_is_reproducible_and_random():
    group = torch.arange(40) % 4
    emotion = torch.zeros(40, dtype=torch.long)
    anchors = torch.zeros(50, dtype=torch.long)
    ok = torch.ones(50, dtype=torch.bool)
    r1 = mine_triplets(anchors, anchors, ok, group, emotion, torch.Generator().manual_seed(3))
    r2 = mine_triplets(anchors, anchors, ok, group, emotion, torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(r1, r2))
    assert len(set(r1[1].tolist())) > 3  # positives spread over the 10 candidates, not always the first


def test_pseudo_labels_below_threshold_are_not_confident():
    logits = torch.log(t([[0.7, 0.1, 0.1, 0.1], [0.4, 0.3, 0.2, 0.1], [0.1, 0.1, 0.2, 0.6]]))
    pred, ok = confident_labels(logits, 0.6)
    assert pred.tolist() == [0, 0, 3]
    assert ok.tolist() == [True, False, True]
    # and such anchors are then left out of mining
    pg, pe = _pool()
    a, _, _ = mine_triplets(torch.tensor([0, 0, 0]), pred, ok, pg, pe)
    assert a.tolist() == [0]


def test_coral():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=g)
    assert float(coral_loss(x, x)) == pytest.approx(0.0, abs=1e-7)
    scaled = coral_loss(x, 3 * x)
    assert float(scaled) > 0.1
    # hand-computed: covariances I and 4I in 2-D differ by 3I: (9 + 9) / (4 * 4) = 1.125
    e = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]) * math.sqrt(1.5)
    assert float(coral_loss(e, 2 * e)) == pytest.approx(1.125, rel=1e-5)
    assert float(coral_loss(x[:1], x)) == 0.0
