"""The corpora (Sec. II-A): one module per corpus, one registry, one utterance-table schema.

A corpus is one module (:mod:`~agcc.corpora.crema_d`, :mod:`~agcc.corpora.msp_improv`) holding
its name and one-letter code, how to find its files below a root, its reader, its label choices,
its speaker-independent split unit and its simulated twin (a generator of :mod:`agcc.simulate`),
as a :class:`~agcc.corpora.base.Corpus` registered with :func:`register`. Everything that concerns
"the corpora" enumerates the registry: the directions and upper bounds of Table II
(:mod:`~agcc.corpora.registry`), the data-preparation stage (:func:`agcc.stages.read_corpora`),
the report and the figures.

Modules of agcc.corpora
-----------------------
base       the utterance-table schema, :data:`FOUR_CLASSES`, the :class:`Corpus` class
files      layout search, side files, label-file decoding shared by the readers
registry   :func:`register`, :func:`corpora`, directions (``C->I``) and upper bounds
crema_d    CREMA-D (``C``)
msp_improv MSP-IMPROV (``I``)
roots      :func:`ensure_corpora`: the real copy or the simulated twin of each corpus of a run

Adding a corpus: write a module like :mod:`~agcc.corpora.crema_d` (a reader and a ``Corpus``
subclass), declare its root (and label) parameter in ``agcc/profiles/profiles.yml``, and
register it below.
"""
from __future__ import annotations

from . import crema_d, msp_improv
from .base import COLUMNS, FOUR_CLASSES, LETTERS, Corpus, pick_example, skipped
from .crema_d import read as read_crema_d
from .msp_improv import read as read_msp_improv
from .msp_improv import read_evaluation
from .registry import (by_code, corpora, cross_directions, direction, directions, get, is_within, names, pair,
                       register, source_of, target_of, unregister, upper_bound_of, upper_bound_pairs,
                       within_directions)
from .roots import ensure_corpora

# The paper's pair, in the order of its directions (C->I first).
register(crema_d.CremaD())
register(msp_improv.MspImprov())

__all__ = ["COLUMNS", "FOUR_CLASSES", "LETTERS", "Corpus", "by_code", "corpora", "cross_directions", "direction",
           "directions", "ensure_corpora", "get", "is_within", "names", "pair", "pick_example", "read_crema_d",
           "read_evaluation",
           "read_msp_improv", "register", "skipped", "source_of", "target_of", "unregister", "upper_bound_of",
           "upper_bound_pairs", "within_directions"]
