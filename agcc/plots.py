"""Figures shared by the notebooks (kept here so that notebooks hold calls, not plotting code).

Legibility rule: the book's content column is about 740 px wide (sphinx-book-theme at a 1280 px
window), and a wider figure is scaled down to it. Figures are therefore at most
:data:`MAX_WIDTH_IN` inches wide and use no text below :data:`MIN_FONT_PT` points, so every label
renders at 9 px or more; legends sit outside the axes (above or beside), never on the data.
"""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch, Rectangle
from scipy.signal import stft

from . import methods as registry
from .alignment import read_textgrid
from .association import contingency, row_normalize
from .audio import SAMPLE_RATE, load_audio
from .clustering import resample, speaker_normalised
from .corpora import cross_directions, get, names, pair, upper_bound_of
from .landmarks import read_openface
from .simulate.synth import formants
from .vocab import VOWELS as VOWEL_ORDER

MAX_WIDTH_IN = 8.5  # inches: wider figures are scaled below the legibility rule
MIN_FONT_PT = 9  # points: 9 pt on an 8.5 in figure shown 740 px wide is 10.9 px


def mouth_measures(xy: np.ndarray) -> dict[str, np.ndarray]:
    """Lip opening (57 to 51) and mouth width (48 to 54) per frame, in inter-eye distances.

    Distances are rotation- and translation-invariant, so no alignment is needed for this view;
    the pipeline's full normalisation is :func:`agcc.landmarks.normalize_landmarks`.
    """
    eyes = np.linalg.norm(xy[:, 36:42].mean(1) - xy[:, 42:48].mean(1), axis=-1)
    eyes = np.where(eyes > 0, eyes, np.nan)
    return {"opening": np.linalg.norm(xy[:, 57] - xy[:, 51], axis=-1) / eyes,
            "width": np.linalg.norm(xy[:, 54] - xy[:, 48], axis=-1) / eyes}


def plot_utterance(audio_path, alignment_path, landmarks_path, *, title: str = ""):
    """Spectrogram with the phone alignment above the mouth-landmark trajectory of one utterance.

    Returns the matplotlib figure (two panels sharing the time axis).
    """
    wav = load_audio(audio_path)
    f, t, z = stft(wav, fs=SAMPLE_RATE, nperseg=400, noverlap=240)  # 25 ms windows, 10 ms hop
    power_db = 20 * np.log10(np.abs(z) + 1e-6)
    fig, (ax_s, ax_m) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    vmax = power_db.max()
    ax_s.pcolormesh(t, f / 1000, power_db, vmin=vmax - 70, vmax=vmax, cmap="magma", shading="auto")
    ax_s.set_ylabel("Frequency (kHz)")
    ax_s.set_ylim(0, 8)
    ax_s.grid(False)
    if alignment_path:
        phones = read_textgrid(alignment_path)
        for row in phones.itertuples():
            for ax in (ax_s, ax_m):
                ax.axvline(row.start, color="white" if ax is ax_s else "0.7", lw=0.6, alpha=0.8)
            ax_s.text((row.start + row.end) / 2, 7.4, row.label, color="white", ha="center",
                      va="center", fontsize=MIN_FONT_PT, rotation=90)
    ax_s.set_title(title or "Spectrogram with the forced-aligned phones")
    if landmarks_path:
        track = read_openface(landmarks_path)
        m = mouth_measures(track.xy)
        ok = track.success
        for key, color in (("opening", "C0"), ("width", "C1")):
            values = np.where(ok, m[key], np.nan)
            ax_m.plot(track.timestamps, values, color=color, marker=".", ms=3,
                      label=f"lip {key} (57-51)" if key == "opening" else "mouth width (48-54)")
        if (~ok).any():
            ax_m.plot(track.timestamps[~ok], np.zeros((~ok).sum()), "x", color="C3",
                      label="tracking failed")
        ax_m.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, fontsize=MIN_FONT_PT)
    ax_m.set_ylabel("Distance\n(inter-eye units)")
    ax_m.set_xlabel("Time (s)")
    fig.tight_layout()
    return fig


def plot_mouth_shapes(segments, *, vowels=VOWEL_ORDER):
    """Mean normalised outer-lip contour (landmarks 48-59) at the middle frame of each vowel's
    tokens, one panel per vowel, the two corpora overlaid.

    Coordinates are in inter-eye units after :func:`agcc.landmarks.normalize_landmarks` (y down,
    drawn with y pointing down as in the image); panel titles give the token counts
    (CREMA-D / MSP-IMPROV). Returns the figure.
    """
    tokens = segments.tokens
    mid = (tokens["offset"] + tokens["n_frames"] // 2).to_numpy()
    shapes = segments.ag_frames[mid].reshape(-1, 12, 2)  # (tokens, 12 points, xy)
    ncols = min(3, len(vowels))
    nrows = -(-len(vowels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 2.9 * nrows + 0.4), sharex=True, sharey=True,
                             squeeze=False)
    for ax in axes.flat[len(vowels):]:
        ax.set_visible(False)
    for ax, vowel in zip(axes.flat, vowels):
        counts = []
        for k, corpus in enumerate(names()):
            color = f"C{k}"
            sel = ((tokens["vowel"] == vowel) & (tokens["corpus"] == corpus)).to_numpy()
            counts.append(f"{sel.sum()}")
            if not sel.any():
                continue
            mean = np.nanmean(shapes[sel], axis=0)
            closed = np.vstack([mean, mean[:1]])
            ax.plot(closed[:, 0], closed[:, 1], "-o", ms=2, color=color, label=corpus)
        ax.set_title(f"/{vowel}/  (n = {' / '.join(counts)})", fontsize=10)
        ax.set_aspect("equal")
    for ax in axes[-1]:
        ax.set_xlabel("x (inter-eye units)")
    for ax in axes[:, 0]:
        ax.set_ylabel("y (inter-eye units)")
    first = axes.flat[0]
    first.invert_yaxis()  # image coordinates: y grows downwards
    handles, labels = first.get_legend_handles_labels()
    fig.legend(handles, [get(l).display for l in labels], loc="upper center", ncol=2)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


# Columns of an AG segment (n_frames, 24): x and y of landmarks 48..59 interleaved.
def lip_column(landmark: int, axis: str) -> int:
    """Column of landmark 48-59's x or y in an AG segment."""
    return 2 * (landmark - 48) + (0 if axis == "x" else 1)


def plot_fig1(segments, labels, clusters_by_vowel: dict, *, speaker_norm: str, n_samples: int = 50,
              n_points: int = 10, seed: int = 0):
    """The paper's Fig. 1, lettered as the paper's: (a) /a/ and (b) /i/, the lower mid-lip point's
    y (landmark 57); (c) /a/ and (d) /i/, the mouth corners' x (landmark 48 above, 54 below). Per
    vowel, its two AG clusters (colour) and both corpora (solid CREMA-D, dashed MSP-IMPROV): mean
    ± std per resampled frame over ``n_samples`` tokens each.

    ``clusters_by_vowel`` maps a vowel to the two cluster ids shown (the first two vowels are
    drawn). Coordinates are those the AG clusters were fitted on (:func:`agcc.clustering.speaker_normalised`
    with ``speaker_norm``, the clustering's ``ag_speaker_norm``): inter-eye units as cut (``none``)
    or per-speaker standard scores (``per_speaker``); y grows downwards. Returns the figure.
    """
    rng = np.random.default_rng(seed)
    tokens = segments.tokens
    ag = speaker_normalised(segments, speaker_norm)
    unit = "inter-eye units" if speaker_norm == "none" else "speaker z-score"
    vowels = list(clusters_by_vowel)[:2]
    fig = plt.figure(figsize=(8.0, 7.4))
    grid = fig.add_gridspec(3, 2, height_ratios=[1.2, 1, 1], hspace=0.45, wspace=0.3)
    panels = {}  # (vowel column, (landmark, axis)) -> axes
    for c, vowel in enumerate(vowels):
        top = fig.add_subplot(grid[0, c])
        mid = fig.add_subplot(grid[1, c])
        low = fig.add_subplot(grid[2, c], sharex=mid)
        panels[(c, (57, "y"))], panels[(c, (48, "x"))], panels[(c, (54, "x"))] = top, mid, low
        top.set_title(f"({'ab'[c]}) /{vowel}/: lower mid-lip (landmark 57), y", fontsize=10, loc="left")
        mid.set_title(f"({'cd'[c]}) /{vowel}/: mouth corners, x", fontsize=10, loc="left")
        plt.setp(mid.get_xticklabels(), visible=False)
    u = np.linspace(0, 1, n_points)
    handles = {}
    for c, vowel in enumerate(vowels):
        for ci, cluster in enumerate(clusters_by_vowel[vowel]):
            for corpus, style in zip(pair(), ("-", "--")):
                idx = np.flatnonzero(((tokens["vowel"] == vowel) & (tokens["corpus"] == corpus)).to_numpy()
                                     & (labels == cluster))
                if idx.size == 0:
                    continue
                idx = rng.choice(idx, size=min(n_samples, idx.size), replace=False)
                curves = np.stack([resample(ag[i], n_points) for i in idx])  # (n, points, 24)
                for (cc, (lm, axis)), ax in panels.items():
                    if cc != c:
                        continue
                    vals = curves[:, :, lip_column(lm, axis)]
                    m, sd = vals.mean(0), vals.std(0)
                    line, = ax.plot(u, m, style, color=f"C{ci}", lw=1.6)
                    ax.fill_between(u, m - sd, m + sd, color=f"C{ci}", alpha=0.12)
                handles[(c, ci, corpus)] = (line, f"/{vowel}/ cluster {cluster + 1}, {get(corpus).display} "
                                                  f"(n = {idx.size})")
    for (c, (lm, axis)), ax in panels.items():
        ax.set_ylabel(f"{'y' if axis == 'y' else f'x of {lm}'}\n({unit})", fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT)
        if lm == 54:
            ax.set_xlabel("Normalised time in the vowel", fontsize=MIN_FONT_PT)
    ordered = [handles[k] for k in sorted(handles)]
    fig.legend([h for h, _ in ordered], [t for _, t in ordered], loc="lower center", ncol=2,
               fontsize=MIN_FONT_PT, bbox_to_anchor=(0.5, 0.0))
    fig.subplots_adjust(left=0.1, right=0.98, top=0.96, bottom=0.2)
    return fig


def plot_elbow(ks, inertias, chosen: int, used: int):
    """Inertia against k with the elbow's choice and the k actually used marked."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(ks, inertias, "o-", color="C0")
    ax.axvline(chosen, color="C3", ls="--", label=f"elbow rule: k = {chosen}")
    if used != chosen:
        ax.axvline(used, color="C2", ls=":", label=f"used: k = {used}")
    ax.set_xlabel("Number of AG clusters k")
    ax.set_ylabel("Inertia (sum of soft-DTW\nto the barycenters)")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_fig2(tokens, n_ag: int, n_acoustic: int, emotions=("neutral", "happiness", "anger", "sadness")):
    """The paper's Fig. 2: per emotion, AG cluster (rows) × acoustic cluster (columns) counts,
    each row normalised to the share of the AG cluster's tokens. Returns the figure."""
    ncols = min(2, len(emotions))
    nrows = -(-len(emotions) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(8.0, 3.4 * nrows + 0.3), sharex=True, sharey=True,
                             squeeze=False, layout="constrained")
    for ax in axes.flat[len(emotions):]:
        ax.set_visible(False)
    for k, (ax, emotion) in enumerate(zip(axes.flat, emotions)):
        part = tokens[tokens["emotion"] == emotion]
        table = row_normalize(contingency(part["ag_cluster"], part["acoustic_cluster"], n_ag, n_acoustic))
        image = ax.imshow(table, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_title(f"({'abcdefgh'[k]}) {emotion} ({len(part)} tokens)", fontsize=10, loc="left")
        ax.set_xticks(range(n_acoustic), [str(i + 1) for i in range(n_acoustic)], fontsize=MIN_FONT_PT)
        ax.set_yticks(range(n_ag), [str(i + 1) for i in range(n_ag)], fontsize=MIN_FONT_PT)
        ax.grid(False)
    for ax in axes[-1]:
        ax.set_xlabel("Acoustic cluster")
    for ax in axes[:, 0]:
        ax.set_ylabel("AG cluster")
    fig.colorbar(image, ax=axes, shrink=0.8, label="Share of the AG cluster's tokens")
    return fig


def plot_soft_weights(distance: np.ndarray, common: np.ndarray, beta: float, names=None):
    """Eq. 3's soft weights w = exp(-beta d) between the groups an anchor and a negative come from
    (rows: the anchor's group), with the common groups (allowed anchors) marked on the axis labels."""
    w = np.exp(-beta * np.asarray(distance, float))
    n = len(w)
    names = names or [str(i + 1) for i in range(n)]
    labels = [f"{name}*" if c else name for name, c in zip(names, common)]
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    image = ax.imshow(w, vmin=0, vmax=1, cmap="magma")
    ax.set_xticks(range(n), labels, fontsize=MIN_FONT_PT)
    ax.set_yticks(range(n), labels, fontsize=MIN_FONT_PT)
    ax.set_xlabel("Negative's group")
    ax.set_ylabel("Anchor's group")
    ax.grid(False)
    fig.colorbar(image, ax=ax, label=f"w = exp(-{beta:g} d)")
    fig.tight_layout()
    return fig


def plot_history(runs, columns=(("val_uar", "Source validation UAR (%)"), ("ce", "Cross-entropy"),
                                ("anchor", "Anchored loss"), ("triplets", "Triplets per step"),
                                ("anchor_label_acc", "Anchors with the right emotion\n(diagnostic, %)"))):
    """Per-epoch curves of training runs (one line per run; ``runs`` has ``model``, ``direction``,
    ``seed``, ``best_epoch`` and a ``history`` dict of lists), with the epoch each run kept marked
    (dotted: the best on source validation, or the last under ``model_selection: last``): a grid
    of panels, three to a row, lettered, the legend in a cell of its own."""
    ncols = 3
    nrows = -(-(len(columns) + 1) // ncols)  # one more cell for the legend
    fig, axes = plt.subplots(nrows, ncols, figsize=(8.4, 2.9 * nrows), squeeze=False)
    cells = list(axes.flat)  # a list: every run draws into the same panels (a flat iterator would run on)
    handles = []
    for i, run in enumerate(runs.itertuples(index=False)):
        hist = run.history
        for k, (ax, (col, title)) in enumerate(zip(cells, columns)):
            values = np.asarray(hist[col], float) * (100 if col == "anchor_label_acc" else 1)
            line, = ax.plot(hist["epoch"], values, color=f"C{i}", lw=1.4)
            ax.axvline(run.best_epoch, color=f"C{i}", ls=":", lw=1.0)
            ax.set_title(f"({'abcdefgh'[k]}) {title}", fontsize=10, loc="left")
            ax.set_xlabel("Epoch", fontsize=MIN_FONT_PT)
            ax.tick_params(labelsize=MIN_FONT_PT)
        handles.append((line, f"{run.model} {run.direction}, seed {run.seed}"))
    legend_ax = axes.flat[len(columns)]
    legend_ax.set_axis_off()
    handles.append((plt.Line2D([], [], color="0.3", ls=":", lw=1.0), "epoch kept"))
    legend_ax.legend([h for h, _ in handles], [t for _, t in handles], loc="center", fontsize=MIN_FONT_PT)
    for ax in list(axes.flat)[len(columns) + 1:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def plot_table_ii(summary, paper, methods, metric: str = "4-CAT"):
    """Table II as bars: per target corpus (one panel each), each model's measured mean UAR with
    its 95 % interval (in the method's colour, :mod:`agcc.methods`), and the paper's value as a
    black diamond (labelled as the paper's); the legend above the panels, off the bars."""
    # each cross-corpus direction beside the upper bound of its *target* corpus (C->I with I->I)
    directions = [(d, upper_bound_of(d)) for d in cross_directions()]
    fig, axes = plt.subplots(len(directions), 1, figsize=(8.0, 3.2 * len(directions)), sharey=True, squeeze=False)
    axes = axes[:, 0]
    for k, (ax, (cross, within)) in enumerate(zip(axes, directions)):
        names, colours, means, errs, paper_vals = [], [], [], [], []
        for method in methods:
            direction = within if registry.get(method).within_corpus else cross
            row = summary[(summary["model"] == method) & (summary["direction"] == direction)
                          & (summary["metric"] == metric)]
            if row.empty:
                continue
            m, lo, hi = row[["mean", "ci_low", "ci_high"]].iloc[0]
            names.append(f"{method}\n{direction}")
            colours.append(registry.get(method).colour)
            means.append(m)
            errs.append(0.0 if np.isnan(lo) else (hi - lo) / 2)
            key = (method, direction)
            paper_vals.append(paper.loc[key, metric] if key in paper.index else np.nan)
        x = np.arange(len(names))
        ax.bar(x, means, yerr=errs, color=colours,
               alpha=0.8, capsize=4, label="measured: mean and 95 % interval over seeds (one colour per method)")
        ax.plot(x, paper_vals, "kD", ms=7, label="paper (reported)")
        ax.axhline(25.0, color="grey", ls=":", lw=1, label="chance (4 classes)")
        ax.set_xticks(x, names, fontsize=MIN_FONT_PT)
        ax.set_title(f"({'abcdef'[k]}) {cross} beside the upper bound of its target, {within}: {metric} UAR",
                     fontsize=10, loc="left")
        ax.set_ylabel("UAR (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=MIN_FONT_PT)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


EMOTION_COLOURS = {"neutral": "0.45", "anger": "C3", "happiness": "C1", "sadness": "C0"}


def plot_emotion_examples(examples: dict, vtl_scale: float | None = None):
    """One sentence in several emotions (:func:`agcc.simulate.showcase.emotion_examples`): lip
    opening and spreading (what the landmarks see), F1 and F2 (what the sound carries) and F0,
    over time, one colour per emotion. Returns the figure."""
    fig, axes = plt.subplots(4, 1, figsize=(8, 7.5), sharex=True)
    for emotion, ex in examples.items():
        t, tr = ex.traj["t"], ex.traj
        speech = tr["voicing"] > 0.5
        colour = EMOTION_COLOURS.get(emotion, None)
        axes[0].plot(t, tr["open"], color=colour, label=emotion)
        axes[1].plot(t, tr["spread"], color=colour)
        freqs, _ = formants({k: tr[k] for k in ("open", "spread", "round", "height", "front")},
                            vtl_scale or 1.0)
        axes[2].plot(t, np.where(speech, freqs[:, 0], np.nan), color=colour)
        axes[2].plot(t, np.where(speech, freqs[:, 1], np.nan), color=colour, ls="--")
        axes[3].plot(t, np.where(speech, tr["f0_hz"], np.nan), color=colour)
    axes[0].set_ylabel("lip opening\n(0-1)")
    axes[1].set_ylabel("lip spreading\n(0-1)")
    axes[2].set_ylabel("F1 (solid), F2 (dashed)\nHz, voiced frames")
    axes[3].set_ylabel("F0 (Hz)")
    axes[3].set_xlabel("Time (s)")
    first = next(iter(examples.values()))
    fig.suptitle(f'"{first.text}": the same speaker and random draws in each emotion', fontsize=10)
    fig.legend(*axes[0].get_legend_handles_labels(), ncol=len(examples), loc="upper center",
               bbox_to_anchor=(0.5, 0.965), fontsize=MIN_FONT_PT)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def plot_vowel_space(frame):
    """The paper's six vowels in articulation (lip spreading against opening, what the mouth
    landmarks see) and in acoustics (F2 against F1, axes reversed as in phonetics), per emotion
    (:func:`agcc.simulate.showcase.vowel_space`). Returns the figure."""
    markers = {"neutral": "o", "anger": "^", "happiness": "s", "sadness": "v"}
    means = frame.groupby(["vowel", "emotion"], observed=True)[["open", "spread", "F1", "F2"]].mean()
    fig, (ax_m, ax_f) = plt.subplots(1, 2, figsize=(8.5, 4.2))
    for i, vowel in enumerate(means.index.get_level_values("vowel").unique()):
        part = means.loc[vowel]
        for emotion, r in part.iterrows():
            kw = dict(color=f"C{i}", marker=markers.get(emotion, "o"), ms=6, ls="none")
            ax_m.plot(r["spread"], r["open"], **kw)
            ax_f.plot(r["F2"], r["F1"], **kw)
        ax_m.annotate(f"/{vowel}/", (part["spread"].mean(), part["open"].mean()), xytext=(6, 6),
                      textcoords="offset points", color=f"C{i}", fontsize=11)
        ax_f.annotate(f"/{vowel}/", (part["F2"].mean(), part["F1"].mean()), xytext=(6, 6),
                      textcoords="offset points", color=f"C{i}", fontsize=11)
    handles = [ax_m.plot([], [], marker=m, color="0.3", ls="none", label=e)[0] for e, m in markers.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(markers), fontsize=MIN_FONT_PT)
    ax_m.set_xlabel("lip spreading (0-1)")
    ax_m.set_ylabel("lip opening (0-1)")
    ax_m.set_title("Mouth gesture at the vowel's middle")
    ax_f.invert_xaxis()
    ax_f.invert_yaxis()
    ax_f.set_xlabel("F2 (Hz)")
    ax_f.set_ylabel("F1 (Hz)")
    ax_f.set_title("Formants at the vowel's middle")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_spectra(spectra: dict, *, title: str = "", fmax: float = 8000.0):
    """Long-term average spectra, ``{label: (frequencies Hz, level dB)}``, on one axis."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for label, (f, db) in spectra.items():
        keep = f <= fmax
        ax.plot(f[keep] / 1000, db[keep], label=label)
    ax.set_xlabel("Frequency (kHz)")
    ax.set_ylabel("Level (dB)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=MIN_FONT_PT, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# Ablations and sensitivity (notebooks 07 and 08)
# ------------------------------------------------------------------------------------------------
def plot_ablation(summary, factor: str, title: str, reference=None, metric: str = "4-CAT"):
    """One ablation (:func:`agcc.ablations.ablation_summary` rows of ``factor``): left, the mean
    ``metric`` UAR of each value with its 95 % t-interval (the default value filled, the others
    hollow) and ``reference`` (direction -> (mean, low, high), e.g. source only) as a dashed line
    and band; right, each value minus the default on the same seed, with its 95 % interval."""
    part = summary[summary["factor"] == factor]
    directions = list(dict.fromkeys(part["direction"]))
    labels = list(part.sort_values("position").drop_duplicates("position")["label"])
    fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(8.5, 3.8))
    width = 0.12 * (len(directions) - 1)
    for i, direction in enumerate(directions):
        rows = part[part["direction"] == direction].sort_values("position")
        x = rows["position"].to_numpy() + (i * 0.12 - width / 2 if len(directions) > 1 else 0)
        color = f"C{i}"
        for ax, mid, lo, hi in ((ax_l, "mean", "ci_low", "ci_high"), (ax_r, "diff_mean", "diff_low", "diff_high")):
            err = np.vstack([rows[mid] - rows[lo], rows[hi] - rows[mid]])
            err = np.where(np.isnan(err), 0.0, err)
            ax.errorbar(x, rows[mid], yerr=err, fmt="none", ecolor=color, capsize=4, lw=1.2)
            ax.scatter(x, rows[mid], s=42, zorder=3, label=direction,
                       facecolors=[color if d else "white" for d in rows["is_default"]], edgecolors=color)
        if reference and direction in reference:
            m, lo, hi = reference[direction]
            ax_l.axhline(m, color=color, ls="--", lw=1, label=f"source only, {direction}")
            if not np.isnan(lo):
                ax_l.axhspan(lo, hi, color=color, alpha=0.08)
    ax_r.axhline(0.0, color="0.3", lw=0.8)
    for ax in (ax_l, ax_r):
        ax.set_xticks(range(len(labels)), labels, fontsize=MIN_FONT_PT)
        ax.set_xlim(-0.5, len(labels) - 0.5)
    ax_l.set_ylabel(f"{metric} UAR (%)")
    ax_l.set_title("(a) mean, 95 % interval (filled: default)", fontsize=MIN_FONT_PT, loc="left")
    ax_r.set_ylabel("value − default (points)")
    ax_r.set_title("(b) minus the default, paired by seed", fontsize=MIN_FONT_PT, loc="left")
    handles, names = ax_l.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=MIN_FONT_PT)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def plot_sensitivity(levels, gains, titles: dict, centre: dict | None = None, metric: str = "4-CAT"):
    """The sensitivity study (:mod:`agcc.sensitivity`): one column per knob; top, the ``metric``
    UAR of each arm against the knob's value (mean and 95 % interval; an arm with oracle target
    labels dashed, in its method's colour); bottom, each comparison's paired difference on the same
    seed with its 95 % interval (:func:`agcc.sensitivity.sensitivity_gains`), 0 marked, the marker
    filled where the interval excludes 0. ``centre`` (knob -> the profile's own value) is drawn as a
    dotted vertical line. Directions differ by marker (circle, triangle)."""
    present = set(levels["knob"])
    knobs = [k for k in titles if k in present] + sorted(present - set(titles))  # the study's order of knobs
    fig, axes = plt.subplots(2, len(knobs), figsize=(MAX_WIDTH_IN, 7.6), squeeze=False, sharey="row")
    colours = registry.colours()
    colour = lambda arm: colours.get(arm.split(" (")[0], "0.3")  # noqa: E731  "PA-CC (oracle)" -> PA-CC's
    dashed = lambda arm: "(oracle)" in arm  # noqa: E731
    markers = dict(zip(cross_directions(), ("o", "^", "s", "D")))

    def draw(ax, rows, x_col, mid, lo, hi, j, n, name, arm, filled):
        rows = rows.sort_values(x_col)
        span = np.ptp(rows[x_col]) or 1.0
        x = rows[x_col] + (j - (n - 1) / 2) * 0.018 * span  # side by side, not on top of each other
        err = np.nan_to_num(np.vstack([rows[mid] - rows[lo], rows[hi] - rows[mid]]))
        ax.errorbar(x, rows[mid], yerr=err, color=colour(arm), ls="--" if dashed(arm) else "-", capsize=3, lw=1.2,
                    marker="none", label=name)
        ax.scatter(x, rows[mid], s=22, zorder=3, marker=markers.get(rows["direction"].iloc[0], "o"),
                   edgecolors=colour(arm), facecolors=[colour(arm) if f else "white" for f in filled(rows)])

    for c, knob in enumerate(knobs):
        top, bottom = axes[0, c], axes[1, c]
        groups = list(levels[levels["knob"] == knob].groupby(["method", "direction"], sort=False))
        for j, ((arm, direction), rows) in enumerate(groups):
            draw(top, rows, "value", "mean", "ci_low", "ci_high", j, len(groups), f"{arm} {direction}", arm,
                 lambda r: np.ones(len(r), bool))
        gv = gains[gains["knob"] == knob]
        pairs = list(gv.groupby(["comparison", "direction"], sort=False))
        for j, ((comparison, direction), rows) in enumerate(pairs):
            baseline = rows["baseline"].iloc[0]
            draw(bottom, rows, "value", "diff_mean", "ci_low", "ci_high", j, len(pairs), f"{comparison} {direction}",
                 baseline, lambda r: r["effect"].isin(["higher", "lower"]).to_numpy())
        bottom.axhline(0.0, color="0.2", lw=0.8)
        if centre and knob in centre:
            for ax in (top, bottom):
                ax.axvline(centre[knob], color="0.6", ls=":", lw=1)
        name = titles.get(knob, knob).split(" (")[0]
        wrapped = textwrap.fill(name, 64 // len(knobs))
        top.set_title(f"({'abcdefgh'[c]}) {wrapped}", fontsize=MIN_FONT_PT, loc="left")
        bottom.set_xlabel(wrapped, fontsize=MIN_FONT_PT)
        for ax in (top, bottom):
            ax.tick_params(labelsize=MIN_FONT_PT)
    axes[0, 0].set_ylabel(f"{metric} UAR (%)", fontsize=MIN_FONT_PT)
    axes[1, 0].set_ylabel("paired difference (points)\nfilled: 95 % interval off 0", fontsize=MIN_FONT_PT)
    for row, anchor in ((0, (0.5, 0.515)), (1, (0.5, 0.0))):
        handles, names = axes[row, 0].get_legend_handles_labels()
        fig.legend(handles, names, ncol=3 if row == 0 else 2, fontsize=MIN_FONT_PT, loc="lower center",
                   bbox_to_anchor=anchor)
    fig.tight_layout(rect=(0, 0.09, 1, 1), h_pad=6.0)
    return fig


def _box(ax, x, y, w, h, text, face="white", edge="0.25", size=MIN_FONT_PT, weight="normal", align="center"):
    """A rounded box with its lower-left corner at (x, y) in axes units; returns its centre."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.004,rounding_size=0.012", fc=face, ec=edge,
                                lw=1.1, transform=ax.transAxes))
    tx = x + w / 2 if align == "center" else x + 0.008
    ax.text(tx, y + h / 2, text, ha=align, va="center", fontsize=size, weight=weight, transform=ax.transAxes,
            linespacing=1.35)
    return x + w / 2, y + h / 2


def _arrow(ax, start, end, text="", color="0.2", ls="-", rad=0.0, size=MIN_FONT_PT):
    ax.annotate("", xy=end, xytext=start, xycoords="axes fraction", textcoords="axes fraction",
                arrowprops=dict(arrowstyle="-|>", color=color, lw=1.1, ls=ls, shrinkA=0, shrinkB=0,
                                connectionstyle=f"arc3,rad={rad}"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.015, text, ha="center", va="bottom",
                fontsize=size, color=color, transform=ax.transAxes)


def plot_architecture(model, cfg, *, k: int, n_common: int | None = None):
    """The paper's Fig. 3 drawn from a built :class:`agcc.model.SERModel` and the
    :class:`agcc.train.TrainConfig` it is trained with: the source (labelled) and target
    (unlabelled) batches through one shared encoder, token pooling into the AG-anchored loss
    (Eq. 2-3) and the classifier into the cross-entropy loss, combined by Eq. 4. Every layer and
    size is read from ``model`` (:meth:`~agcc.model.SERModel.describe` and its modules); ``k`` is
    the AG clustering's number of clusters, ``n_common`` how many are common to both corpora.

    The one figure wider than :data:`MAX_WIDTH_IN` (12.2 in: four columns of boxes): pages show it
    across the full width of the page, margin included (cell tag ``full-width``), where its
    9-point text stays at 9 px or more."""
    rows = model.describe()
    d_model = model.config["d_model"]
    n_params = sum(p.numel() for p in model.parameters())
    encoder_rows = [r for r in rows if not r[0].startswith(("FC", "mean over"))]
    fc_rows = [r for r in rows if r[0].startswith("FC")]
    src_c, tgt_c, loss_c, shared_c = "#dbe9f6", "#fde3cf", "#e5f5e0", "#f2f2f2"
    src_a, tgt_a = "#2b6ca3", "#d0661c"  # arrow colours of the source and target paths

    fig = plt.figure(figsize=(12.2, 7.0))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    n_feat = model.config["n_features"]
    s_in = _box(ax, 0.01, 0.70, 0.14, 0.12, f"Source batch\nlabelled, {cfg.batch_size} utterances\n"
                                              f"frames T × {n_feat}", face=src_c, size=MIN_FONT_PT)
    t_in = _box(ax, 0.01, 0.49, 0.14, 0.12, f"Target batch\nunlabelled, {cfg.batch_size} utterances\n"
                                              f"frames T × {n_feat}", face=tgt_c, size=MIN_FONT_PT)

    # the shared encoder, one box per block as read from the model
    x0, w, h, gap, top = 0.20, 0.27, 0.068, 0.035, 0.80
    ys = [top - i * (h + gap) for i in range(len(encoder_rows))]

    frame_bottom = ys[-1] - 0.02
    ax.add_patch(Rectangle((x0 - 0.012, frame_bottom), w + 0.024, top + h + 0.02 - frame_bottom, fill=False,
                           ls="--", ec="0.4", lw=1.0, transform=ax.transAxes))
    ax.text(x0 + w / 2, top + h + 0.035, "shared encoder (the same weights for both corpora)", ha="center",
            fontsize=11.5, weight="bold", transform=ax.transAxes)
    for i, ((name, shape), y) in enumerate(zip(encoder_rows, ys)):
        _box(ax, x0, y, w, h, f"{name}\n[{shape}]", face=shared_c, size=MIN_FONT_PT)
        if i:
            _arrow(ax, (x0 + w / 2, ys[i - 1]), (x0 + w / 2, y + h))
    _arrow(ax, (0.15, s_in[1]), (x0, top + 0.045), color=src_a)
    _arrow(ax, (0.15, t_in[1]), (x0, top + 0.02), color=tgt_a)
    out_y = ys[-1] + h / 2  # the encoder's output frames

    # classifier branch
    utt = _box(ax, 0.53, 0.74, 0.16, 0.09, f"utterance embedding:\nmean over valid\nframes [{d_model}]", size=MIN_FONT_PT)
    fc_text = "\n".join(f"{name} [{shape}]" for name, shape in fc_rows)
    fc = _box(ax, 0.53, 0.47, 0.16, 0.21, f"fully connected classifier\n{fc_text}", size=MIN_FONT_PT)
    _arrow(ax, (x0 + w + 0.012, out_y + 0.02), (0.53, utt[1]), rad=0.15)
    _arrow(ax, (utt[0], 0.74), (utt[0], 0.68))
    ce = _box(ax, 0.74, 0.79, 0.245, 0.10, "L_ER: cross-entropy\non the source's emotion labels", face=loss_c,
              size=10, weight="bold")
    _arrow(ax, (0.69, 0.64), (0.74, ce[1]), color=src_a, rad=-0.25)
    ax.text(0.745, 0.70, "source logits", ha="left", va="center", fontsize=MIN_FONT_PT, color=src_a,
            transform=ax.transAxes)
    pseudo_text = (f"target pseudo-labels: the prediction,\nwhere its softmax ≥ {cfg.pseudo_threshold:g} (no gradient)"
                   if cfg.target_labels == "pseudo" else "target anchors' emotion:\nTRUE target labels (oracle diagnostic)")
    pl = _box(ax, 0.74, 0.56, 0.245, 0.10, pseudo_text, face=tgt_c, size=MIN_FONT_PT)
    _arrow(ax, (0.69, 0.53), (0.74, pl[1]), color=tgt_a, rad=0.15)
    ax.text(0.712, 0.525, "target\nlogits", ha="center", va="top", fontsize=MIN_FONT_PT, color=tgt_a, transform=ax.transAxes)

    # token branch
    tok = _box(ax, 0.53, 0.22, 0.16, 0.14, f"token pooling: mean of the\nencoder frames of each\nvowel token -> z [{d_model}]"
               + ("\nL2-normalised" if cfg.normalize_embeddings else ""), size=MIN_FONT_PT)
    _arrow(ax, (x0 + w + 0.012, out_y - 0.02), (0.53, tok[1] + 0.03), rad=-0.15)
    w_text = (f"w = exp(−{cfg.beta:g} · d(C_ki, C_kn))   (Eq. 3)" if cfg.soft_weights else "w = 1 (soft weights off)")
    ag = _box(ax, 0.74, 0.13, 0.245, 0.32,
              "L_AG: AG-anchored triplet loss (Eq. 2)\n"
              "anchor z_i: target token, common AG cluster\n"
              "positive z_p: source token, same cluster\n    and same emotion\n"
              "negative z_n: source token, other cluster,\n    same emotion\n"
              f"[ d(z_i, z_p) − w · d(z_i, z_n) + {cfg.alpha:g} ]+\n{w_text}",
              face=loss_c, size=MIN_FONT_PT)
    _arrow(ax, (0.69, tok[1]), (0.74, tok[1]))
    ax.text(0.715, tok[1] + 0.03, "z_s, z_t", ha="center", fontsize=MIN_FONT_PT, transform=ax.transAxes)
    _arrow(ax, (pl[0], 0.56), (pl[0], 0.45), color=tgt_a, ls="--")
    ax.text(pl[0] + 0.005, 0.505, "anchors' emotion", fontsize=MIN_FONT_PT, color=tgt_a, transform=ax.transAxes)
    common = "" if n_common is None else f", {n_common} common to both corpora"
    clusters = _box(ax, x0, 0.03, w, 0.12,
                    f"AG cluster of every vowel token: soft-DTW\nk-means of lip landmarks 48-59 (Sec. II-C)\n"
                    f"k = {k}{common} (overlap ≥ {100 * cfg.overlap_threshold:g} %)", face="#efe6f5", size=MIN_FONT_PT)
    _arrow(ax, (x0 + w, clusters[1]), (0.74, 0.17))
    ax.text(0.62, 0.09, "cluster of each token, centroid distances", ha="center", va="top", fontsize=MIN_FONT_PT,
            transform=ax.transAxes)

    ax.text(0.862, 0.955, f"L_Total = L_ER + γ · L_AG   (Eq. 4, γ = {cfg.gamma:g})", ha="center", va="center",
            fontsize=11, weight="bold", transform=ax.transAxes, bbox=dict(boxstyle="round", fc="white", ec="0.3"))
    _arrow(ax, (ce[0], 0.89), (ce[0], 0.93))
    ax.annotate("", xy=(0.99, 0.93), xytext=(0.99, 0.45), xycoords="axes fraction",
                arrowprops=dict(arrowstyle="-|>", color="0.2", lw=1.1))
    ax.text(0.01, 0.955, f"AG-CC as built here: {n_params:,} trainable parameters", fontsize=11.5,
            transform=ax.transAxes, va="center")
    ax.text(0.01, 0.42, "blue: source path\norange: target path", fontsize=MIN_FONT_PT, transform=ax.transAxes, va="top")
    return fig
