"""The project's vocabulary, defined once: the paper's vowels, the four emotions, Table II's metrics.

* :data:`VOWELS` — the six vowel phonemes of Sec. II-B, in Table I's column order.
* :data:`FOUR_CLASSES` — the four emotions of Sec. II-A, in the order of the classifier's outputs
  (label ``i`` is ``FOUR_CLASSES[i]``), spelled as the corpus readers write them.
* :data:`TABLE_I_EMOTIONS` — Table I's emotion rows, in its order, with the corpora's spelling.
* :data:`METRICS` / :data:`EMOTION_COLUMNS` — Table II's columns: 4-class UAR, then the per-emotion
  (binary) columns, each with the emotion it scores.
"""
from __future__ import annotations

VOWELS = ("a", "ə", "ɛ", "i", "æ", "u")
FOUR_CLASSES = ("neutral", "anger", "happiness", "sadness")
TABLE_I_EMOTIONS = (("Neutral", "neutral"), ("Happiness", "happiness"), ("Anger", "anger"), ("Sadness", "sadness"))
EMOTION_COLUMNS = (("Neu", "neutral"), ("Ang", "anger"), ("Hap", "happiness"), ("Sad", "sadness"))
METRICS = ("4-CAT", *(column for column, _ in EMOTION_COLUMNS))
