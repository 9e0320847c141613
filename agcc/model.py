"""The SER model of Sec. IV and Fig. 3: a transformer encoder over frame-level acoustic features,
followed by a 4-layer fully connected classifier for the four emotions.

"We utilize Wav2vec2.0 embeddings as pretrained features and apply a transformer with a 4-layer
fully connected architecture" (Sec. IV). The paper gives no sizes; the defaults here are small
enough to train on a laptop CPU in seconds per epoch on the simulated corpora and are parameters
(``d_model``, ``n_heads``, ``n_layers``, ``d_ff``, ``fc_sizes``; see the replication notes).

Two embeddings come out of one forward pass:

* the **utterance embedding**: the encoder output averaged over the utterance's valid frames,
  which the classifier reads;
* the **token embeddings** z of Eq. 2: the encoder output averaged over each vowel token's frames
  (:func:`pool_spans`), which the anchored losses compare across corpora.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def pool_frames(x: torch.Tensor, mask: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Average ``factor`` consecutive valid frames: (B, T, F), (B, T) -> (B, ceil(T / factor), F)
    and its mask. Pooled frame ``j`` covers input frames ``factor * j .. factor * j + factor - 1``."""
    if factor == 1:
        return x, mask
    b, t, f = x.shape
    pad = (-t) % factor
    x = torch.nn.functional.pad(x * mask.unsqueeze(-1), (0, 0, 0, pad)).view(b, -1, factor, f)
    m = torch.nn.functional.pad(mask, (0, pad)).view(b, -1, factor)
    count = m.sum(-1, keepdim=True)  # (B, T', 1) valid input frames per pooled frame
    return x.sum(2) / count.clamp(min=1).to(x.dtype), count.squeeze(-1) > 0


def pooled_span(start: torch.Tensor, end: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input-frame span ``[start, end)`` -> the pooled frames that overlap it (at least one)."""
    return start // factor, torch.maximum((end + factor - 1) // factor, start // factor + 1)


def pool_spans(frames: torch.Tensor, batch_index: torch.Tensor, start: torch.Tensor,
               end: torch.Tensor) -> torch.Tensor:
    """Mean of ``frames[b, start:end]`` for many spans at once, without a Python loop.

    Uses a cumulative sum over time: ``mean = (C[b, end] - C[b, start]) / (end - start)`` with
    ``C[:, t] = sum(frames[:, :t])``.

    Parameters
    ----------
    frames : (B, T, D) tensor
    batch_index, start, end : (n,) long tensors
        Span ``j`` covers frames ``start[j] <= t < end[j]`` of utterance ``batch_index[j]``;
        ``end > start`` and ``end <= T``.

    Returns
    -------
    (n, D) tensor
    """
    csum = torch.nn.functional.pad(frames.cumsum(dim=1), (0, 0, 1, 0))  # (B, T + 1, D)
    total = csum[batch_index, end] - csum[batch_index, start]  # (n, D)
    return total / (end - start).unsqueeze(1).to(frames.dtype)


class SinusoidalPosition(nn.Module):
    """Fixed sinusoidal positional encoding (Vaswani et al. 2017), added to the projected frames."""

    def __init__(self, d_model: int, max_len: int = 4096):
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div[: d_model // 2])
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.pe.shape[0]:
            raise ValueError(f"utterance of {x.shape[1]} frames exceeds the positional table ({self.pe.shape[0]})")
        return x + self.pe[: x.shape[1]]


class SERModel(nn.Module):
    """Transformer encoder + 4-layer fully connected classifier (Fig. 3).

    Parameters
    ----------
    n_features : int
        Dimension of the input frames (40 log-mel bands, 768 for wav2vec2-base).
    d_model, n_heads, n_layers, d_ff, dropout
        Encoder size: model width, attention heads, encoder layers, feed-forward width, dropout.
    frame_pool : int
        Average this many consecutive input frames before the encoder (1 = the features' 50 fps;
        2 = 25 fps, about four times cheaper attention). Token spans are mapped to the pooled
        frames that overlap them (:func:`pooled_span`).
    fc_sizes : tuple of int
        Widths of the hidden fully connected layers; with the output layer the classifier has
        ``len(fc_sizes) + 1`` layers (the paper's four for the default three).
    n_classes : int
        Four emotions.
    mean, std : (n_features,) tensors, optional
        Input standardisation (from the source training frames), kept as buffers so that a saved
        model carries it.
    """

    def __init__(self, n_features: int, d_model: int = 128, n_heads: int = 4, n_layers: int = 2,
                 d_ff: int = 256, dropout: float = 0.1, fc_sizes=(128, 64, 32), n_classes: int = 4,
                 mean: torch.Tensor | None = None, std: torch.Tensor | None = None, frame_pool: int = 1):
        super().__init__()
        if frame_pool < 1:
            raise ValueError(f"frame_pool must be >= 1, got {frame_pool}")
        self.frame_pool = int(frame_pool)
        self.config = dict(n_features=n_features, d_model=d_model, n_heads=n_heads, n_layers=n_layers,
                           d_ff=d_ff, dropout=dropout, fc_sizes=tuple(fc_sizes), n_classes=n_classes,
                           frame_pool=self.frame_pool)
        self.register_buffer("mean", torch.zeros(n_features) if mean is None else torch.as_tensor(mean).float())
        self.register_buffer("std", torch.ones(n_features) if std is None else torch.as_tensor(std).float())
        self.input = nn.Linear(n_features, d_model)
        self.position = SinusoidalPosition(d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True, norm_first=True)
        # dropout on the residual and feed-forward paths only: dropout of the (B, heads, T, T)
        # attention weights cost a third of a training step on the CPU (measured) for no gain here
        layer.self_attn.dropout = 0.0
        # nested tensors take a different (fast-path) kernel in eval mode; off, so that training and
        # evaluation compute the same function
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        sizes = [d_model, *fc_sizes]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.drop = nn.Dropout(dropout)
        self.output = nn.Linear(sizes[-1], n_classes)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame embeddings (B, T', d_model) of frames ``x`` (B, T, n_features), ``mask`` (B, T)
        True on valid frames; T' = ceil(T / frame_pool). Returns the embeddings and their mask."""
        x, mask = pool_frames((x - self.mean) / self.std, mask, self.frame_pool)
        h = self.position(self.input(x))
        h = self.encoder(h, src_key_padding_mask=~mask)
        return self.norm(h) * mask.unsqueeze(-1), mask  # padded frames exactly zero

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """The input projection alone, on features already standardised: (..., n_features) ->
        (..., d_model). LA-CC aligns pre-trained layers through it (:class:`agcc.methods.LACC`)."""
        return self.input(x)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict:
        """Returns ``frames`` (B, T', d_model) and their ``mask``, ``utterance`` (B, d_model),
        ``layers`` (the utterance embedding and each hidden FC activation, for layer anchoring) and
        ``logits`` (B, 4)."""
        frames, mask = self.encode(x, mask)
        lengths = mask.sum(1, keepdim=True).clamp(min=1).to(frames.dtype)  # (B, 1)
        h = frames.sum(1) / lengths  # (B, d_model): mean over valid frames
        layers = [h]
        for linear in self.hidden:
            h = self.drop(torch.relu(linear(h)))
            layers.append(h)
        return {"frames": frames, "mask": mask, "utterance": layers[0], "layers": layers,
                "logits": self.output(h)}

    def describe(self) -> list[tuple[str, str]]:
        """(block, shape) rows of the architecture, read from the modules (for Fig. 3)."""
        c = self.config
        t = "T" if self.frame_pool == 1 else f"T/{self.frame_pool}"
        rows = [("input frames (standardised)", f"T x {c['n_features']}")]
        if self.frame_pool > 1:
            rows.append((f"average of {self.frame_pool} frames", f"{t} x {c['n_features']}"))
        rows.append(("linear projection + sinusoidal position", f"{t} x {c['d_model']}"))
        rows += [(f"transformer encoder layer {i + 1} ({c['n_heads']} heads, FF {c['d_ff']})", f"{t} x {c['d_model']}")
                 for i in range(len(self.encoder.layers))]
        rows.append(("mean over frames (utterance) / over vowel tokens (z)", f"{c['d_model']}"))
        rows += [(f"FC {i + 1} + ReLU", f"{lin.out_features}") for i, lin in enumerate(self.hidden)]
        rows.append((f"FC {len(self.hidden) + 1} (logits)", f"{self.output.out_features}"))
        return rows
