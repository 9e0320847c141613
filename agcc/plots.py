"""Figures shared by the notebooks (kept here so that notebooks hold calls, not plotting code)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from scipy.signal import stft

from .alignment import read_textgrid
from .audio import SAMPLE_RATE, load_audio
from .landmarks import read_openface


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
    fig, (ax_s, ax_m) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True,
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
                      va="center", fontsize=7, rotation=90)
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
        ax_m.legend(loc="upper right", fontsize=8)
    ax_m.set_ylabel("Distance\n(inter-eye units)")
    ax_m.set_xlabel("Time (s)")
    fig.tight_layout()
    return fig


VOWEL_ORDER = ("a", "ə", "ɛ", "i", "æ", "u")


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
    fig, axes = plt.subplots(1, len(vowels), figsize=(1.9 * len(vowels), 2.4), sharex=True, sharey=True)
    for ax, vowel in zip(np.atleast_1d(axes), vowels):
        counts = []
        for corpus, color in (("crema_d", "C0"), ("msp_improv", "C1")):
            sel = ((tokens["vowel"] == vowel) & (tokens["corpus"] == corpus)).to_numpy()
            counts.append(f"{sel.sum()}")
            if not sel.any():
                continue
            mean = np.nanmean(shapes[sel], axis=0)
            closed = np.vstack([mean, mean[:1]])
            ax.plot(closed[:, 0], closed[:, 1], "-o", ms=2, color=color, label=corpus)
        ax.set_title(f"/{vowel}/  (n = {' / '.join(counts)})", fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlabel("x (inter-eye units)", fontsize=8)
    first = np.atleast_1d(axes)[0]
    first.invert_yaxis()  # image coordinates: y grows downwards
    first.set_ylabel("y (inter-eye units)", fontsize=8)
    handles, labels = first.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, bbox_to_anchor=(0.5, 1.03))
    fig.tight_layout()
    return fig


# Columns of an AG segment (n_frames, 24): x and y of landmarks 48..59 interleaved.
def lip_column(landmark: int, axis: str) -> int:
    """Column of landmark 48-59's x or y in an AG segment."""
    return 2 * (landmark - 48) + (0 if axis == "x" else 1)


def plot_fig1(segments, labels, clusters_by_vowel: dict, *, n_samples: int = 50, n_points: int = 10, seed: int = 0):
    """The paper's Fig. 1: per vowel and AG cluster, mean ± std per (resampled) frame of landmark
    57's y and landmarks 48 and 54's x, both corpora overlaid, ``n_samples`` tokens each.

    ``clusters_by_vowel`` maps a vowel to the two cluster ids shown. Coordinates are normalised
    (inter-eye units; y grows downwards). Returns the figure.
    """
    from .clustering import resample

    rng = np.random.default_rng(seed)
    tokens = segments.tokens
    rows = [(57, "y"), (48, "x"), (54, "x")]
    vowels = list(clusters_by_vowel)
    fig, axes = plt.subplots(len(rows), len(vowels), figsize=(4.6 * len(vowels), 2.3 * len(rows)),
                             sharex=True, squeeze=False)
    u = np.linspace(0, 1, n_points)
    for c, vowel in enumerate(vowels):
        for ci, cluster in enumerate(clusters_by_vowel[vowel]):
            for corpus, style in (("crema_d", "-"), ("msp_improv", "--")):
                idx = np.flatnonzero(((tokens["vowel"] == vowel) & (tokens["corpus"] == corpus)).to_numpy()
                                     & (labels == cluster))
                if idx.size == 0:
                    continue
                idx = rng.choice(idx, size=min(n_samples, idx.size), replace=False)
                curves = np.stack([resample(segments.ag(i), n_points) for i in idx])  # (n, points, 24)
                for r, (lm, axis) in enumerate(rows):
                    vals = curves[:, :, lip_column(lm, axis)]
                    m, s = vals.mean(0), vals.std(0)
                    ax = axes[r, c]
                    ax.plot(u, m, style, color=f"C{ci}", label=f"cluster {cluster + 1}, {corpus} (n={idx.size})")
                    ax.fill_between(u, m - s, m + s, color=f"C{ci}", alpha=0.12)
        for r, (lm, axis) in enumerate(rows):
            axes[r, c].set_title(f"/{vowel}/: landmark {lm}, {axis}", fontsize=9)
            axes[r, c].set_ylabel(f"{axis} (inter-eye units)", fontsize=8)
        axes[-1, c].set_xlabel("Normalised time in the vowel", fontsize=8)
        axes[0, c].legend(fontsize=7, loc="best")
    fig.tight_layout()
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
    from .association import contingency, row_normalize

    fig, axes = plt.subplots(1, len(emotions), figsize=(3.7 * len(emotions), 4.2), sharey=True)
    for ax, emotion in zip(np.atleast_1d(axes), emotions):
        part = tokens[tokens["emotion"] == emotion]
        table = row_normalize(contingency(part["ag_cluster"], part["acoustic_cluster"], n_ag, n_acoustic))
        image = ax.imshow(table, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_title(f"{emotion} ({len(part)} tokens)")
        ax.set_xlabel("Acoustic cluster")
        ax.set_xticks(range(n_acoustic), [str(i + 1) for i in range(n_acoustic)], fontsize=7)
        ax.set_yticks(range(n_ag), [str(i + 1) for i in range(n_ag)], fontsize=7)
        ax.grid(False)
    np.atleast_1d(axes)[0].set_ylabel("AG cluster")
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
    ax.set_xticks(range(n), labels, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
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
    ``seed`` and a ``history`` dict of lists), with each run's best epoch marked."""
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3.0))
    for i, run in enumerate(runs.itertuples(index=False)):
        hist = run.history
        label = f"{run.model} {run.direction} seed {run.seed}"
        for ax, (col, title) in zip(axes, columns):
            values = np.asarray(hist[col], float) * (100 if col == "anchor_label_acc" else 1)
            ax.plot(hist["epoch"], values, color=f"C{i}", label=label, lw=1.2)
            ax.axvline(run.best_epoch, color=f"C{i}", ls=":", lw=0.8)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("Epoch", fontsize=8)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_table_ii(summary, paper, methods, metric: str = "4-CAT"):
    """Table II as bars: per direction, each model's measured mean UAR with its 95 % interval,
    and the paper's value as a black diamond (labelled as the paper's)."""
    # each cross-corpus direction beside the upper bound of its *target* corpus (C->I with I->I)
    directions = [("C->I", "I->I"), ("I->C", "C->C")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, (cross, within) in zip(axes, directions):
        names, means, errs, paper_vals = [], [], [], []
        for method in methods:
            direction = within if method == "Upper Bound" else cross
            row = summary[(summary["model"] == method) & (summary["direction"] == direction)
                          & (summary["metric"] == metric)]
            if row.empty:
                continue
            m, lo, hi = row[["mean", "ci_low", "ci_high"]].iloc[0]
            names.append(f"{method}\n{direction}")
            means.append(m)
            errs.append(0.0 if np.isnan(lo) else (hi - lo) / 2)
            key = (method, direction)
            paper_vals.append(paper.loc[key, metric] if key in paper.index else np.nan)
        x = np.arange(len(names))
        ax.bar(x, means, yerr=errs, color=["C2" if n.startswith("AG-CC") else "C0" for n in names],
               alpha=0.8, capsize=4, label="measured (mean, 95% CI)")
        ax.plot(x, paper_vals, "kD", ms=6, label="paper (reported)")
        ax.axhline(25.0, color="grey", ls=":", lw=1, label="chance (4 classes)")
        ax.set_xticks(x, names, fontsize=7.5)
        ax.set_title(f"{cross}: {metric} UAR", fontsize=10)
    axes[0].set_ylabel("UAR (%)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


EMOTION_COLOURS = {"neutral": "0.45", "anger": "C3", "happiness": "C1", "sadness": "C0"}


def plot_emotion_examples(examples: dict, vtl_scale: float | None = None):
    """One sentence in several emotions (:func:`agcc.simulate.showcase.emotion_examples`): lip
    opening and spreading (what the landmarks see), F1 and F2 (what the sound carries) and F0,
    over time, one colour per emotion. Returns the figure."""
    from .simulate.synth import formants

    fig, axes = plt.subplots(4, 1, figsize=(9, 7.5), sharex=True)
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
               bbox_to_anchor=(0.5, 0.965), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def plot_vowel_space(frame):
    """The paper's six vowels in articulation (lip spreading against opening, what the mouth
    landmarks see) and in acoustics (F2 against F1, axes reversed as in phonetics), per emotion
    (:func:`agcc.simulate.showcase.vowel_space`). Returns the figure."""
    markers = {"neutral": "o", "anger": "^", "happiness": "s", "sadness": "v"}
    means = frame.groupby(["vowel", "emotion"], observed=True)[["open", "spread", "F1", "F2"]].mean()
    fig, (ax_m, ax_f) = plt.subplots(1, 2, figsize=(10, 4.2))
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
    fig.legend(handles=handles, loc="lower center", ncol=len(markers), fontsize=8)
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
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
