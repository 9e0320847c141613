"""LA-CC [32] on frozen pre-trained features: how similar each wav2vec2 layer is across the two
corpora, the layers that similarity selects as anchors, and the anchors a training step reads.

[32] (Upadhyay, Busso, Lee, "A layer-anchoring strategy for enhancing cross-lingual speech emotion
recognition", arXiv:2407.04966) examines the similarity of each transformer layer's features
between two corpora (languages) and anchors the chosen layers with a CORAL loss. The material this
book could consult (the abstract and summaries of [32]; see the replication notes) says that much
and not which similarity measure, how many layers nor which end of the ranking; those are the
parameters ``lacc_similarity``, ``lacc_n_layers`` and ``lacc_pick``.

The representation of a layer here is its **utterance mean**: the hidden state averaged over the
utterance's frames (:class:`agcc.features.Wav2Vec2LayerMeans`), an array (n_utterances, L + 1, H)
held by :class:`agcc.train.TrainingData` (``layers``). The analysis reads the utterances a run
reads anyway, the source's training utterances and the target's unlabelled ones, and no label:
the target's labels cannot reach the selection (nor the source's, which it does not need either).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MEASURES = ("coral", "mean")  # the lacc_similarity choices (profiles.yml)
PICKS = ("most_similar", "least_similar")  # the lacc_pick choices


def layer_distances(x_s: np.ndarray, x_t: np.ndarray, measure: str = "coral") -> np.ndarray:
    """Distance between the source and target utterance representations of every layer.

    ``x_s`` (n_s, L, H) and ``x_t`` (n_t, L, H); each layer is first standardised per dimension
    with the mean and std of both corpora pooled, so that layers of different scale compare.
    ``"coral"``: ``||C_s - C_t||_F^2 / (4 H^2)`` between the two corpora's covariances, the
    statistic the anchoring loss (Deep CORAL) then reduces; ``"mean"``: ``||mu_s - mu_t||^2 / H``,
    the gap between the corpus means. Returns (L,) float (0 = the corpora coincide).
    """
    if measure not in MEASURES:
        raise ValueError(f"lacc_similarity must be one of {MEASURES}, got {measure!r}")
    if x_s.ndim != 3 or x_t.ndim != 3 or x_s.shape[1:] != x_t.shape[1:]:
        raise ValueError(f"layer arrays must be (n, L, H) alike, got {x_s.shape} and {x_t.shape}")
    if len(x_s) < 2 or len(x_t) < 2:
        raise ValueError(f"the layer similarity needs two utterances per corpus, got {len(x_s)} and {len(x_t)}")
    out = np.empty(x_s.shape[1])
    for layer in range(x_s.shape[1]):  # one layer at a time: (n, H) float64, never (n, L, H)
        s, t = np.asarray(x_s[:, layer], np.float64), np.asarray(x_t[:, layer], np.float64)
        both = np.concatenate([s, t])
        mean, std = both.mean(0), both.std(0) + 1e-8
        s, t = (s - mean) / std, (t - mean) / std
        h = s.shape[1]
        if measure == "coral":
            out[layer] = ((np.cov(s.T) - np.cov(t.T)) ** 2).sum() / (4.0 * h * h)
        else:
            out[layer] = ((s.mean(0) - t.mean(0)) ** 2).sum() / h
    return out


def layer_similarity(layers: np.ndarray, source_rows: np.ndarray, target_rows: np.ndarray, *,
                     measure: str = "coral", n_layers: int = 3, pick: str = "most_similar") -> pd.DataFrame:
    """The cross-corpus similarity analysis of [32] and the layers it selects.

    Parameters
    ----------
    layers : (n_utterances, L + 1, H)
        Utterance means of every hidden state (``TrainingData.layers``; may be memory-mapped).
    source_rows, target_rows
        The utterances compared: a run's labelled source training utterances and its unlabelled
        target utterances (:func:`agcc.train.run_splits`: ``src_train`` and ``tgt_train``, which
        depend on ``target_protocol``). Only their layers are read, never a label.
    measure, n_layers, pick
        :func:`layer_distances`' measure; how many layers to select; ``"most_similar"`` (the
        layers whose features the corpora share most, anchors in the sense of PA-CC and AG-CC) or
        ``"least_similar"`` (the layers that differ most, where alignment has most to do).

    Returns
    -------
    DataFrame, one row per layer: ``layer`` (0 = the CNN features' projection, l = transformer
    layer l), ``distance``, ``rank`` (1 = most similar) and ``selected``.
    """
    if pick not in PICKS:
        raise ValueError(f"lacc_pick must be one of {PICKS}, got {pick!r}")
    n_total = layers.shape[1]
    if not 1 <= n_layers <= n_total:
        raise ValueError(f"lacc_n_layers = {n_layers}, but the pre-trained model has {n_total} hidden states "
                         f"(layers 0..{n_total - 1})")
    distance = layer_distances(layers[np.sort(source_rows)], layers[np.sort(target_rows)], measure)
    order = np.argsort(distance, kind="stable")  # most similar first; ties: the lower layer
    rank = np.empty(n_total, np.int64)
    rank[order] = np.arange(1, n_total + 1)
    chosen = order[:n_layers] if pick == "most_similar" else order[::-1][:n_layers]
    return pd.DataFrame({"layer": np.arange(n_total), "distance": distance, "rank": rank,
                         "selected": np.isin(np.arange(n_total), chosen)})


def selected_layers(table: pd.DataFrame) -> np.ndarray:
    """The selected layers of a :func:`layer_similarity` table, in increasing order."""
    return table.loc[table["selected"], "layer"].to_numpy(np.int64)


def anchor_statistics(layers: np.ndarray, rows: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (k, H) of the chosen layers over ``rows`` (the utterances the analysis read):
    each anchor layer is standardised with them before the model's input projection."""
    x = np.asarray(layers[np.sort(rows)][:, chosen], np.float64)  # (n, k, H)
    return x.mean(0).astype(np.float32), (x.std(0) + 1e-5).astype(np.float32)


def similarity_wide(tables: pd.DataFrame) -> pd.DataFrame:
    """:func:`agcc.methods.layer_anchors` laid out for reading: one row per layer, per direction its
    distance and its rank, with a ``*`` on the layers selected."""
    cell = [f"{d:.3g} ({r}){' *' if s else ''}" for d, r, s in zip(tables["distance"], tables["rank"], tables["selected"])]
    return (tables.assign(cell=cell).pivot(index="layer", columns="direction", values="cell")
            .reindex(columns=list(dict.fromkeys(tables["direction"]))))
