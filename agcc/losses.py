"""The anchored losses of Sec. III (Eq. 2-4) and of the baselines, with vectorised triplet mining.

AG-CC (Eq. 2, 3): for each *target* vowel token in an AG cluster common to both corpora (the
anchor z_i), a *source* token of the same AG cluster and emotion (positive z_p) and a source token
of another AG cluster and the same emotion (negative z_n) give the soft-weighted hinge

    [ d(z_i, z_p) - w_in * d(z_i, z_n) + alpha ]_+ ,   w_in = exp(-beta * d(C_ki, C_kn)),

with d the Euclidean distance, alpha = 0.3, beta = 0.2 and d(C_ki, C_kn) the soft-DTW divergence
between the two clusters' barycenters. The total loss is L_ER + gamma * L_anchor (Eq. 4).

The baselines reuse the same machinery with another grouping of the tokens (see
:mod:`agcc.train`): PA-CC groups by vowel with w = 1 (a zero distance matrix), Hard-AG groups by
vowel with distances between per-vowel AG templates; LA-CC aligns layer statistics with CORAL
(:func:`coral_loss`) instead of triplets.
"""
from __future__ import annotations

import torch

_EPS = 1e-12  # inside the square root: the gradient of |x| at x = 0 is otherwise NaN


def euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Euclidean distance of (n, D) tensors -> (n,)."""
    return torch.sqrt(((a - b) ** 2).sum(dim=1) + _EPS)


def soft_weight(centroid_distance, beta: float = 0.2) -> torch.Tensor:
    """Eq. 3: w = exp(-beta * d(C_ki, C_kn)); 1 for equal centroids, -> 0 for distant ones."""
    return torch.exp(-beta * torch.as_tensor(centroid_distance, dtype=torch.float32))


def ag_anchored_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                     centroid_distance, alpha: float = 0.3, beta: float = 0.2,
                     reduction: str = "mean") -> torch.Tensor:
    """Eq. 2 with the soft weight of Eq. 3.

    Parameters
    ----------
    anchor, positive, negative : (n, D) tensors
        Embeddings of the n triplets.
    centroid_distance : (n,) tensor or array
        Distance between the anchor's and the negative's cluster centroids.
    alpha, beta : float
        Margin (paper 0.3) and scale of the soft weight (paper 0.2).
    reduction : {"mean", "sum", "none"}
        Average or sum over triplets (the paper writes a sum), or the (n,) hinge values.

    Returns
    -------
    tensor
        A scalar (0 with a gradient graph when n = 0), or (n,) for ``"none"``.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    w = soft_weight(centroid_distance, beta).to(anchor.device, anchor.dtype)
    hinge = torch.relu(euclidean(anchor, positive) - w * euclidean(anchor, negative) + alpha)
    if reduction == "none":
        return hinge
    if hinge.numel() == 0:
        return anchor.sum() * 0.0  # keeps the graph, so loss.backward() works on empty batches
    return hinge.mean() if reduction == "mean" else hinge.sum()


def mine_triplets(anchor_group: torch.Tensor, anchor_emotion: torch.Tensor, anchor_ok: torch.Tensor,
                  pool_group: torch.Tensor, pool_emotion: torch.Tensor,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pick one positive and one negative per usable anchor, at random, for a whole batch at once.

    Positive: a pool token with the anchor's group and emotion; negative: a pool token with the
    anchor's emotion and another group. Anchors with ``anchor_ok`` False, or with no positive or no
    negative in the pool, are left out.

    Parameters
    ----------
    anchor_group, anchor_emotion : (A,) long tensors
        Group (AG cluster or vowel) and emotion (label or pseudo-label) of the target tokens.
    anchor_ok : (A,) bool tensor
        Anchors allowed: in a common group and with a confident (pseudo-)label.
    pool_group, pool_emotion : (P,) long tensors
        The source tokens of the batch.
    generator : torch.Generator, optional
        For reproducible choices.

    Returns
    -------
    anchor_idx, positive_idx, negative_idx : (n,) long tensors
        Indices into the anchors and into the pool.
    """
    same_emotion = anchor_emotion[:, None] == pool_emotion[None, :]  # (A, P)
    same_group = anchor_group[:, None] == pool_group[None, :]
    positive = same_emotion & same_group
    negative = same_emotion & ~same_group
    usable = anchor_ok & positive.any(1) & negative.any(1)  # (A,)
    if not bool(usable.any()):
        empty = torch.zeros(0, dtype=torch.long, device=anchor_group.device)
        return empty, empty, empty
    # a uniform random candidate: the argmax of uniform scores over the allowed entries
    shape = positive.shape
    score_p = torch.rand(shape, generator=generator, device="cpu").to(positive.device)
    score_n = torch.rand(shape, generator=generator, device="cpu").to(positive.device)
    pos_idx = torch.where(positive, score_p, -1.0).argmax(1)
    neg_idx = torch.where(negative, score_n, -1.0).argmax(1)
    keep = usable.nonzero(as_tuple=True)[0]
    return keep, pos_idx[keep], neg_idx[keep]


def confident_labels(logits: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Pseudo-labels of unlabelled target utterances: the predicted class (B,) and whether its
    softmax probability reaches ``threshold`` (B,). No gradient flows through them."""
    conf, pred = torch.softmax(logits.detach(), dim=1).max(1)
    return pred, conf >= threshold


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL (Sun & Saenko 2016): ``||C_s - C_t||_F^2 / (4 d^2)`` between the feature
    covariances of a source batch (n_s, d) and a target batch (n_t, d); 0 when a side has fewer
    than two rows."""
    if source.shape[0] < 2 or target.shape[0] < 2:
        return source.sum() * 0.0
    d = source.shape[1]
    diff = torch.cov(source.T) - torch.cov(target.T)  # (d, d)
    return (diff ** 2).sum() / (4.0 * d * d)
