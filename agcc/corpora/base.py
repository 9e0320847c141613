"""What every corpus module provides (Sec. II-A): the utterance-table schema and the :class:`Corpus` class.

A corpus reader returns one row per audio file with the columns

==================  ==========================================================================
``utt_id``           file stem (``1001_DFA_ANG_XX``, ``MSP-IMPROV-S01A-F01-P-FM01``)
``corpus``           the corpus's registered name (``crema_d``, ``msp_improv``)
``speaker``          actor id (``1001``) or speaker code (``F01``)
``gender``           ``F``, ``M`` or ``""`` when unknown
``sentence``         sentence code (``DFA``) or number (``S01``)
``emotion``          ``neutral``, ``anger``, ``happiness``, ``sadness`` (the paper's four classes) or
                     another explicit value (``disgust``, ``fear``, ``other``, ``no_agreement``,
                     ``unlabeled``), which later stages filter out
``session``          the corpus's unit of speaker-independent splits (:attr:`Corpus.split_unit`):
                     the CREMA-D actor, the MSP-IMPROV session (one female and one male speaker)
``audio_path``       the WAV file
``landmarks_path``   OpenFace CSV (default ``<root>/openface/<utt_id>.csv``), ``""`` if absent
``alignment_path``   MFA TextGrid (default ``<root>/mfa/<utt_id>.TextGrid``), ``""`` if absent
==================  ==========================================================================

Files that cannot be used are never dropped silently: they are listed, with the reason, in
``df.attrs["skipped"]`` (records ``{"utt_id", "reason"}``; :func:`skipped` returns them as a table).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import pandas as pd

from ..vocab import FOUR_CLASSES  # noqa: F401  (re-exported: the readers' four classes)

COLUMNS = ["utt_id", "corpus", "speaker", "gender", "sentence", "emotion", "session",
           "audio_path", "landmarks_path", "alignment_path"]
# Perceptual vote / consensus letters shared by CREMA-D's summaryTable.csv and MSP-IMPROV's Evaluation.txt.
LETTERS = {"A": "anger", "D": "disgust", "F": "fear", "H": "happiness", "N": "neutral",
           "S": "sadness", "O": "other", "X": "no_agreement"}


# The simulator's realism knobs that every simulated twin takes (agcc.simulate.corpora), with the
# parameters that set them; a corpus's twin_params add its own sizes and intensity to these.
SIMULATOR_KNOBS = {"landmark_noise": "sim_landmark_noise", "speaker_variability": "sim_speaker_variability",
                   "articulatory_deviation": "sim_articulatory_deviation",
                   "spontaneous_reduction": "sim_spontaneous_reduction", "style_mismatch": "sim_style_mismatch"}


class Corpus:
    """One corpus, as the rest of agcc sees it. Subclasses set the class attributes and :meth:`read`.

    Attributes
    ----------
    name
        Value of the utterance table's ``corpus`` column and the folder of its simulated twin
        under ``artifacts/<profile>/corpora/``.
    code
        One capital letter; directions are written ``"<source code>-><target code>"`` (``C->I``).
    display
        Name in tables and figures (``CREMA-D``).
    root_param
        The parameter (declared in ``profiles.yml``) holding the root of a real copy.
    label_param
        The parameter choosing among :attr:`labels` (``None`` if the corpus has one labelling).
    labels
        The label choices the reader understands; the first is the default.
    split_unit
        What the ``session`` column holds: the unit that speaker-independent splits keep whole.
    layout
        The expected file layout, shown when a root holds no file of this corpus.
    twin, twin_params
        The simulated twin: the generator in :mod:`agcc.simulate`, named ``"module:function"``
        (called as ``function(folder, seed=, workers=, progress=, **kwargs)``; named rather than
        imported because the generator writes the corpus's formats with this module's codes),
        and the map from its keyword arguments to the parameters that set them.
    """

    name: ClassVar[str] = ""
    code: ClassVar[str] = ""
    display: ClassVar[str] = ""
    root_param: ClassVar[str] = ""
    label_param: ClassVar[str | None] = None
    labels: ClassVar[tuple[str, ...]] = ()
    split_unit: ClassVar[str] = ""
    layout: ClassVar[str] = ""
    twin: ClassVar[str] = ""
    twin_params: ClassVar[Mapping[str, str]] = {}
    #: the module-level reader ``reader(root, *, label, landmarks_dir, alignments_dir, corpus)``
    reader: ClassVar[Callable[..., pd.DataFrame] | None] = None

    def read(self, root, *, label: str | None = None, landmarks_dir=None, alignments_dir=None) -> pd.DataFrame:
        """The utterance table of a copy of the corpus under ``root`` (the schema above), by its
        :attr:`reader` (the first label choice by default)."""
        if self.reader is None:
            raise NotImplementedError(f"{type(self).__name__} sets no reader")
        return type(self).reader(root, label=label or self.labels[0], landmarks_dir=landmarks_dir,
                                 alignments_dir=alignments_dir, corpus=self.name)

    def group_of(self, utt_id: str) -> str:
        """The kind of recording a clip is (e.g. MSP-IMPROV's read, improvised, target-sentence,
        natural): the rows of :func:`agcc.stages.label_agreement`. One kind by default."""
        return "all"

    def label_choice(self, params: Mapping[str, Any]) -> str | None:
        """The label choice a run asks for (``None``: the corpus's only labelling)."""
        return params[self.label_param] if self.label_param else None

    def generator(self) -> Callable[..., Path]:
        """The simulated twin's generator function (:attr:`twin` resolved)."""
        if not self.twin:
            raise ValueError(f"{self.display} has no simulated twin: pass -p {self.root_param} /path/to/it")
        module, _, function = self.twin.partition(":")
        return getattr(importlib.import_module(module), function)

    def simulate(self, folder, params: Mapping[str, Any], *, progress: bool = True) -> Path:
        """Generate (or reuse) the simulated twin under ``folder`` with the run's parameters."""
        kwargs = {arg: params[name] for arg, name in self.twin_params.items()}
        return self.generator()(folder, seed=params.get("seed", 0), workers=params.get("workers", 0),
                                progress=progress, **kwargs)

    def __repr__(self) -> str:
        return f"<corpus {self.name} ({self.code}, {self.display})>"


def skipped(df: pd.DataFrame) -> pd.DataFrame:
    """The files a reader could not use, with the reason (``utt_id``, ``corpus``, ``reason``)."""
    corpus = df.attrs.get("corpus", df["corpus"].iloc[0] if len(df) else "")
    out = pd.DataFrame(df.attrs.get("skipped", []), columns=["utt_id", "reason"])
    return out.assign(corpus=corpus)[["utt_id", "corpus", "reason"]]


def finish(rows: list[dict], skipped_rows: list[dict], corpus: str) -> pd.DataFrame:
    """The reader's table, sorted by ``utt_id``, with its skips in ``attrs``."""
    df = pd.DataFrame(rows, columns=COLUMNS).sort_values("utt_id", ignore_index=True)
    df.attrs["skipped"] = [dict(r) for r in skipped_rows]  # plain records: pandas compares attrs on concat
    df.attrs["corpus"] = corpus
    return df


def pick_example(table: pd.DataFrame, emotion: str, corpus: str | None = None) -> pd.Series:
    """The first utterance of ``emotion`` (of ``corpus``, if given) that has both landmarks and an
    alignment (for displays)."""
    ok = table[(table["emotion"] == emotion) & table["landmarks_path"].ne("") & table["alignment_path"].ne("")]
    if corpus is not None:
        ok = ok[ok["corpus"] == corpus]
    if ok.empty:
        raise LookupError(f"No {emotion} utterance{f' of {corpus}' if corpus else ''} with both landmarks "
                          "and an alignment.")
    return ok.iloc[0]
