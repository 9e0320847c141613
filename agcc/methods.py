"""The methods of Table II (Sec. IV), one registered class each, and the anchor groupings they use.

A method is everything the training loop (:func:`agcc.train.train_run`) needs to know about it:

* its **name**, the row label of Table II (kept exactly as the tables and the paper write it), a
  short **description** (for the report's sentences) and a **colour** for the plots;
* its **role**: the ``"proposed"`` method (AG-CC), a paper ``"baseline"`` (PA-CC, LA-CC,
  Hard-AG), the paper's ``"upper bound"``, or ``"added"`` by this book (source only, LA-CC
  (CORAL));
* the **directions** it runs on: cross-corpus (C->I, I->C) or, for the upper bound, within a
  corpus (C->C, I->I);
* whether it reads **unlabelled target batches** (``uses_target``), and whether it can run on the
  data at hand (:meth:`Method.unavailable`: LA-CC (CORAL) runs only where LA-CC aligns
  pre-trained layers);
* the **hyperparameters** it reads: the :class:`agcc.train.TrainConfig` fields beyond the shared
  model and optimiser settings. The others are reset to their defaults in a run's key
  (:func:`agcc.train.canonical`), so that changing, say, beta does not re-run LA-CC;
* its **loss term** for one step (:meth:`Method.term`), weighted by gamma in Eq. 4
  (L = L_ER + gamma * L_anchor): the AG-anchored triplet loss of Eq. 2-3 for AG-CC, the same loss
  on other groupings of the vowel tokens for PA-CC and Hard-AG (:class:`TripletAnchoring`), CORAL
  for LA-CC (on the wav2vec2 layers a cross-corpus similarity analysis chooses, as in [32]; on the
  downstream model's layers where the features have no pre-trained layers) and LA-CC (CORAL),
  none for source only and the upper bound.

Adding a method is one class with :func:`register` (see DomainBed's ``algorithms.py``, which this
follows): the grids (:func:`agcc.experiments.table_ii_runs`), the report and the plots enumerate
:data:`REGISTRY`. Registration order is Table II's row order. For example, a method that pulls the
mean utterance embeddings of the source and target batches together::

    @register
    class MeanMatching(Method):
        name, description, colour, role = "Mean matching", "mean matching", "C9", "added"
        uses_target, hyperparameters = True, ("gamma",)

        def term(self, step):
            gap = step.out_s["utterance"].mean(0) - step.out_t["utterance"].mean(0)
            return Term((gap ** 2).sum())

``tests/test_methods.py`` trains this one into Table II's frame.

Runs are tasks that may execute in other processes (:mod:`agcc.grid`); a task names its method
by its registered name. The built-in methods register when this module is imported (every worker
imports it through :mod:`agcc.train`); a task of a method registered elsewhere also carries the
module that registers it (:func:`agcc.train.task_for`), which the worker imports. A method defined
in ``__main__`` (a notebook or a script) cannot be imported by a worker: its runs need
``workers=1`` (in-process), and a worker asked to run one fails with an error that says so.

torch (and :mod:`agcc.losses`, :mod:`agcc.model`, which need it) is imported inside the loss
terms, not at the top: the registry is read by the report and the plots, and importing torch
takes 2-7 s (measured), more than the rest of the report's imports together.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import numpy as np
import pandas as pd

from .corpora import is_within
from .layer_anchoring import anchor_statistics, layer_similarity, selected_layers
from .overlap import cluster_overlap
from .vocab import VOWELS

if TYPE_CHECKING:  # annotations only: agcc.train imports this module
    import torch

    from .train import TrainConfig, TrainingData

ROLES = ("proposed", "baseline", "upper bound", "added")
# the settings of the triplet-anchoring methods (Eq. 2-4, the common clusters of Sec. III and
# this book's choices for what the paper leaves open; see the replication notes)
TRIPLET_SETTINGS = ("gamma", "alpha", "beta", "soft_weights", "centroid_distance", "normalize_embeddings",
                    "target_labels", "pseudo_threshold", "overlap_threshold", "overlap_reading", "vowels")

REGISTRY: dict[str, type["Method"]] = {}


# ------------------------------------------------------------------------------------------------
# The registry
# ------------------------------------------------------------------------------------------------
def register(cls: type["Method"]) -> type["Method"]:
    """Class decorator: add a :class:`Method` subclass to :data:`REGISTRY` under its ``name``.

    Refuses a name already taken, a missing attribute and an unknown role (the hyperparameters are
    checked against :class:`agcc.train.TrainConfig`'s fields by :func:`agcc.train.canonical`).
    """
    for attribute in ("name", "description", "colour", "role"):
        if not isinstance(getattr(cls, attribute, None), str) or not getattr(cls, attribute):
            raise ValueError(f"method class {cls.__qualname__} must set the class attribute {attribute!r}")
    if cls.role not in ROLES:
        raise ValueError(f"{cls.name}: role must be one of {ROLES}, got {cls.role!r}")
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"a method named {cls.name!r} is already registered ({REGISTRY[cls.name].__qualname__})")
    REGISTRY[cls.name] = cls
    return cls


def get(name: str) -> type["Method"]:
    """The registered method class named ``name`` (a clear error listing the names otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; registered methods: {', '.join(REGISTRY)}") from None


def names(role=None, *, within: bool | None = None, data: "TrainingData | None" = None) -> tuple[str, ...]:
    """Registered method names in Table II's row order, optionally only those of ``role`` (one role
    or a sequence of roles), of within-corpus (``True``) or cross-corpus (``False``) directions,
    and that can run on ``data`` (:meth:`Method.unavailable`)."""
    roles = (role,) if isinstance(role, str) else role
    return tuple(n for n, cls in REGISTRY.items() if (roles is None or cls.role in roles)
                 and (within is None or cls.within_corpus == within)
                 and (data is None or cls.unavailable(data) is None))


def proposed() -> str:
    """The name of the proposed method (AG-CC), the reference of every paired comparison."""
    found = names("proposed")
    if len(found) != 1:
        raise ValueError(f"expected one registered method with role 'proposed', found {found}")
    return found[0]


def colours() -> dict[str, str]:
    """Method name -> its matplotlib colour."""
    return {n: cls.colour for n, cls in REGISTRY.items()}


def method_settings() -> set[str]:
    """The :class:`agcc.train.TrainConfig` fields that some registered method reads and others do
    not (every method's ``hyperparameters``)."""
    return {h for cls in REGISTRY.values() for h in cls.hyperparameters}


# ------------------------------------------------------------------------------------------------
# The interface of a method
# ------------------------------------------------------------------------------------------------
class Step(NamedTuple):
    """One training step as a method's loss term sees it: the utterance rows of the source batch
    ``s_rows`` (B_s,) and of the unlabelled target batch ``t_rows`` (B_t,; ``None`` for methods
    without target batches) and the model's outputs on them (:meth:`agcc.model.SERModel.forward`)."""

    s_rows: np.ndarray
    t_rows: np.ndarray | None
    out_s: dict
    out_t: dict | None


class Term(NamedTuple):
    """A method's loss term for one step: ``loss`` (a scalar tensor, or ``None`` for no term),
    the number of ``triplets`` it used and of their anchors whose emotion was ``right`` (a
    diagnostic read from the target labels after the fact, never used for training)."""

    loss: torch.Tensor | None
    triplets: int = 0
    right: int = 0


class Method:
    """A training method. Subclasses set the class attributes and, where they add a loss term to
    the cross-entropy, override :meth:`term`.

    An instance is made once per run, after the model (:func:`agcc.train.train_run`), with the
    run's config, its data, the batch assembler (:class:`agcc.train.Batches`, for token spans),
    the labels of all utterances on the device, and the run's ``torch.Generator`` (the only
    source of randomness a method may use, so that runs repeat exactly).
    """

    #: Table II's row label (the ``model`` column of every table)
    name: ClassVar[str]
    #: a few words for the report's sentences ("phoneme anchoring")
    description: ClassVar[str]
    #: matplotlib colour in the plots
    colour: ClassVar[str]
    #: one of :data:`ROLES`
    role: ClassVar[str]
    #: trained and tested on one corpus (the upper bound) instead of across corpora
    within_corpus: ClassVar[bool] = False
    #: draws a batch of unlabelled target utterances every step, for :meth:`term`
    uses_target: ClassVar[bool] = False
    #: the :class:`agcc.train.TrainConfig` fields it reads beyond the shared ones (its run keys hold them)
    hyperparameters: ClassVar[tuple[str, ...]] = ()

    #: the run's model (:class:`agcc.model.SERModel`), set by :func:`agcc.train.start_run` once the
    #: method is made, for a term that reads the model beyond its outputs (LA-CC's projection)
    model: "torch.nn.Module | None" = None

    def __init__(self, cfg: "TrainConfig", data: "TrainingData", batches, labels: torch.Tensor,
                 generator: torch.Generator):
        why = self.unavailable(data)
        if why:
            raise ValueError(f"{self.name} cannot run on this data: {why}")
        self.cfg, self.data, self.batches, self.labels, self.generator = cfg, data, batches, labels, generator

    @classmethod
    def unavailable(cls, data: "TrainingData") -> str | None:
        """Why this method cannot run on ``data`` (e.g. it needs the pre-trained model's layers),
        or ``None`` when it can (the default)."""
        return None

    @classmethod
    def runs_on(cls, direction: str) -> bool:
        """Whether this method runs on ``direction`` (``"C->I"``: source C, target I): a
        within-corpus method from a corpus to itself, the others from one corpus to another."""
        return is_within(direction) == cls.within_corpus

    def term(self, step: Step) -> Term:
        """The loss term of one step (none by default: the cross-entropy alone)."""
        return Term(None)


# ------------------------------------------------------------------------------------------------
# Anchor groupings (Sec. III): which group each vowel token belongs to, and which groups may anchor
# ------------------------------------------------------------------------------------------------
@dataclass
class AnchorSet:
    """How one method groups the vowel tokens.

    ``group`` (n_tokens,) the group of every token; ``distance`` (G, G) the centroid distances of
    Eq. 3 (zeros give w = 1); ``common`` (G,) the groups an anchor may come from; ``usable``
    (n_tokens,) the tokens that take part at all (those of the anchoring vowels).
    """

    name: str
    group: np.ndarray
    distance: np.ndarray
    common: np.ndarray
    usable: np.ndarray | None = None


def common_groups(group, corpus, split, n_groups: int, source: str, target: str, threshold: float = 0.25,
                  reading: str = "ratio") -> np.ndarray:
    """Groups shared by the two corpora's *training* tokens: present in both, with the overlap of
    Eq. 1 (:func:`agcc.overlap.cluster_overlap`) at or above ``threshold`` — the "common AG
    clusters" of Sec. III, by the rule that gives Table I."""
    group, corpus, split = map(np.asarray, (group, corpus, split))
    train = split == "train"
    src, tgt = group[train & (corpus == source)], group[train & (corpus == target)]
    out = np.zeros(n_groups, bool)
    if src.size and tgt.size:
        out[cluster_overlap(src, tgt, threshold=threshold, reading=reading).kept] = True
    return out


def scale_distances(distance: np.ndarray, how: str) -> np.ndarray:
    """``"raw"``: as computed; ``"normalized"``: divided by the mean off-diagonal distance (so that
    beta = 0.2 acts on distances of order 1 whatever the feature scale)."""
    d = np.nan_to_num(np.asarray(distance, float), nan=0.0)
    if how == "raw":
        return d
    if how == "normalized":
        off = d[~np.eye(len(d), dtype=bool)]
        return d / off.mean() if off.size and off.mean() > 0 else d
    raise ValueError(f"centroid_distance must be 'raw' or 'normalized', got {how!r}")


def anchor_set(data: "TrainingData", cfg: "TrainConfig") -> AnchorSet:
    """The anchor grouping of ``cfg.method`` (a :class:`TripletAnchoring` method) for ``cfg``'s
    direction and settings."""
    method = get(cfg.method)
    if not issubclass(method, TripletAnchoring):
        raise ValueError(f"{cfg.method!r} does not anchor on triplets; choose one of "
                         f"{', '.join(n for n, c in REGISTRY.items() if issubclass(c, TripletAnchoring))}")
    return method.anchor_set(data, cfg)


def layer_anchors(data: "TrainingData", base: "TrainConfig", directions) -> pd.DataFrame:
    """LA-CC's similarity analysis (:meth:`LACC.analysis`) of each of ``directions`` with
    ``base``'s settings (its fold under ``target_protocol: folds``), stacked with a ``direction``
    column: what LA-CC's runs select, for notebook 6."""
    return pd.concat([LACC.analysis(data, replace(base, method=LACC.name, direction=d))[0].assign(direction=d)
                      for d in directions], ignore_index=True)


# ------------------------------------------------------------------------------------------------
# The methods
# ------------------------------------------------------------------------------------------------
@register
class UpperBound(Method):
    """Table II's upper bound: trained and tested on the same corpus (speaker-independent splits)."""

    name = "Upper Bound"
    description = "in-corpus upper bound"
    colour = "C5"
    role = "upper bound"
    within_corpus = True


@register
class SourceOnly(Method):
    """The same model trained on the labelled source alone (not in the paper's table): the
    reference every alignment must beat."""

    name = "Source only"
    description = "source-only training"
    colour = "0.45"
    role = "added"


class TripletAnchoring(Method):
    """Anchoring with the soft-weighted triplet loss of Eq. 2-3 on a grouping of the vowel tokens.

    For each target token in a group common to both corpora (the anchor z_i; its emotion the
    utterance's pseudo-label, Sec. III), a source token of the same group and emotion (positive)
    and one of another group and the same emotion (negative) are drawn from the step's batches
    (:func:`agcc.losses.mine_triplets`); w = exp(-beta d(C_i, C_n)) with d(C_i, C_n) the distance
    between the anchor's and the *negative's* groups (Eq. 3). Subclasses give the grouping
    (:meth:`groups`).
    """

    uses_target = True
    hyperparameters = TRIPLET_SETTINGS
    soft_weighted: ClassVar[bool] = True  # False: w = 1 whatever the distances (PA-CC)

    @classmethod
    def groups(cls, data: "TrainingData") -> tuple[np.ndarray, int, np.ndarray]:
        """``(group, n_groups, distance)``: the group of every token (n_tokens,), the number of
        groups and their (n_groups, n_groups) centroid distances before scaling."""
        raise NotImplementedError

    @classmethod
    def anchor_set(cls, data: "TrainingData", cfg: "TrainConfig") -> AnchorSet:
        """The grouping for ``cfg``: ``cfg.vowels`` restricts the tokens that take part, as anchors
        and in the source pool, to those vowels (Sec. II-B's six by default; an ablation), and the
        common groups are then those of the restricted tokens; ``cfg.soft_weights=False`` sets
        w = 1 (an ablation); ``cfg.centroid_distance`` scales the distances (:func:`scale_distances`)."""
        tok = data.tokens
        usable = np.isin(tok["vowel"].to_numpy(), [VOWELS.index(v) for v in cfg.vowels])
        group, n, dist = cls.groups(data)
        weighted = cls.soft_weighted and cfg.soft_weights
        dist = scale_distances(dist, cfg.centroid_distance) if weighted else np.zeros((n, n))
        common = common_groups(group[usable], tok["corpus"].to_numpy()[usable], tok["split"].to_numpy()[usable],
                               n, cfg.source, cfg.target, cfg.overlap_threshold, cfg.overlap_reading)
        return AnchorSet(cls.name, group.astype(np.int64), dist, common, usable)

    def __init__(self, cfg, data, batches, labels, generator):
        import torch

        super().__init__(cfg, data, batches, labels, generator)
        anchors = self.anchor_set(data, cfg)
        device = labels.device
        self.usable = anchors.usable
        self.group = torch.from_numpy(anchors.group).to(device)
        self.common = torch.from_numpy(anchors.common).to(device)
        self.distance = torch.from_numpy(anchors.distance).float().to(device)

    def term(self, step: Step) -> Term:
        """The triplet loss of one step, its number of triplets and of anchors whose
        (pseudo-)label is right."""
        import torch

        from .losses import confident_labels
        from .model import pool_spans

        cfg, batches, labels, device = self.cfg, self.batches, self.labels, self.labels.device
        s_tok, s_pos = batches.tokens(step.s_rows)  # token ids (n,), their batch positions (n,)
        t_tok, t_pos = batches.tokens(step.t_rows)
        s_use, t_use = self.usable[s_tok], self.usable[t_tok]  # tokens of the anchoring vowels
        s_tok, s_pos, t_tok, t_pos = s_tok[s_use], s_pos[s_use], t_tok[t_use], t_pos[t_use]
        if len(s_tok) == 0 or len(t_tok) == 0:
            return Term(step.out_s["logits"].sum() * 0.0)
        z_s = pool_spans(step.out_s["frames"], *batches.spans(s_tok, s_pos, cfg.frame_pool))  # (n_s, d_model)
        z_t = pool_spans(step.out_t["frames"], *batches.spans(t_tok, t_pos, cfg.frame_pool))  # (n_t, d_model)
        if cfg.normalize_embeddings:
            z_s, z_t = torch.nn.functional.normalize(z_s, dim=1), torch.nn.functional.normalize(z_t, dim=1)
        s_emotion = labels[torch.from_numpy(step.s_rows[s_pos]).to(device)]
        if cfg.target_labels == "oracle":  # analysis only: the true target labels
            t_emotion = labels[torch.from_numpy(step.t_rows[t_pos]).to(device)]
            confident = torch.ones_like(t_emotion, dtype=torch.bool)
        else:  # pseudo-labels of the current model, per target utterance, above a confidence
            pred, ok = confident_labels(step.out_t["logits"], cfg.pseudo_threshold)  # (B_t,), (B_t,)
            pos_t = torch.from_numpy(t_pos).to(device)
            t_emotion, confident = pred[pos_t], ok[pos_t]
        g_s = self.group[torch.from_numpy(s_tok).to(device)]
        g_t = self.group[torch.from_numpy(t_tok).to(device)]
        loss, a = self.triplet_loss(z_t, g_t, t_emotion, confident, z_s, g_s, s_emotion)
        # diagnostic only (never used for training or selection): anchors whose emotion is right
        truth = labels[torch.from_numpy(step.t_rows[t_pos]).to(device)]
        return Term(loss, int(a.numel()), int((t_emotion[a] == truth[a]).sum()))

    def triplet_loss(self, z_t, g_t, t_emotion, confident, z_s, g_s, s_emotion) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 2-3 over the triplets mined from target tokens (anchors: embeddings ``z_t`` (n_t, D),
        groups ``g_t``, emotions ``t_emotion``, ``confident`` (n_t,)) and source tokens (``z_s``
        (n_s, D), ``g_s``, ``s_emotion``): only anchors in a common group with a confident emotion
        take part. Returns the loss and the anchors used (indices into the target tokens)."""
        from .losses import ag_anchored_loss, mine_triplets

        a, p, n = mine_triplets(g_t, t_emotion, confident & self.common[g_t], g_s, s_emotion, self.generator)
        loss = ag_anchored_loss(z_t[a], z_s[p], z_s[n], self.distance[g_t[a], g_s[n]], self.cfg.alpha, self.cfg.beta)
        return loss, a


@register
class PACC(TripletAnchoring):
    """PA-CC [13]: phoneme anchoring, the triplets of AG-CC with tokens grouped by vowel and w = 1
    (phoneme anchoring has no soft weight)."""

    name = "PA-CC"
    description = "phoneme anchoring"
    colour = "C0"
    role = "baseline"
    soft_weighted = False
    hyperparameters = tuple(h for h in TRIPLET_SETTINGS if h not in ("beta", "soft_weights", "centroid_distance"))

    @classmethod
    def groups(cls, data):
        n = len(VOWELS)
        return data.tokens["vowel"].to_numpy(), n, np.zeros((n, n))


def downstream_coral(step: Step, layers) -> Term:
    """Deep CORAL (:func:`agcc.losses.coral_loss`) between the source and target batches at the
    downstream model's layers ``layers`` of :meth:`agcc.model.SERModel.forward` (0: the pooled
    encoder output; 1, 2, ...: the hidden FC layers), summed over the layers."""
    from .losses import coral_loss

    return Term(sum(coral_loss(step.out_s["layers"][k], step.out_t["layers"][k]) for k in layers))


@register
class LACC(Method):
    """LA-CC [32]: layer anchoring, as far as frozen pre-trained features allow.

    With wav2vec2 features (``data.layers``: the utterance mean of every hidden state), the layers
    are chosen as in [32] by a cross-corpus similarity analysis (:meth:`analysis`: the source's
    training utterances and the target's unlabelled ones, no label; ``lacc_similarity``,
    ``lacc_n_layers``, ``lacc_pick``), and the CORAL loss [32] uses aligns each chosen layer between
    the source and target batches. The pre-trained model is frozen, so what is aligned is the
    layer's image under the downstream model's input projection
    (:meth:`agcc.model.SERModel.project`), the first trainable map the wav2vec2 features meet: the
    loss makes that projection give the anchor layers the same second-order statistics in both
    corpora. Summed over the chosen layers.

    On features without pre-trained layers (log-mel) no such layer exists, and LA-CC aligns the
    downstream model's own layers ``lacc_layers`` with CORAL (:func:`downstream_coral`), this
    book's earlier reading, which stays available under its own name as LA-CC (CORAL).
    """

    name = "LA-CC"
    description = "layer anchoring"
    colour = "C1"
    role = "baseline"
    uses_target = True
    hyperparameters = ("gamma", "lacc_layers", "lacc_similarity", "lacc_n_layers", "lacc_pick")

    def __init__(self, cfg, data, batches, labels, generator):
        import torch

        super().__init__(cfg, data, batches, labels, generator)
        self.layers = list(cfg.lacc_layers)
        self.anchors = self.similarity = None
        if data.layers is not None:
            self.similarity, rows = self.analysis(data, cfg)
            self.anchors = selected_layers(self.similarity)  # (k,) layer indices
            mean, std = anchor_statistics(data.layers, rows, self.anchors)  # (k, H) each
            self.mean, self.std = torch.from_numpy(mean).to(labels.device), torch.from_numpy(std).to(labels.device)

    @classmethod
    def analysis(cls, data: "TrainingData", cfg: "TrainConfig") -> tuple[pd.DataFrame, np.ndarray]:
        """The similarity analysis of a run of ``cfg`` (:func:`agcc.layer_anchoring.layer_similarity`)
        on the utterances the run reads anyway: the source's training utterances and the target's
        unlabelled ones (:func:`agcc.train.run_splits` under ``target_protocol``). Returns the table
        and those rows."""
        from .train import run_splits  # agcc.train imports this module

        if data.layers is None:
            raise ValueError("LA-CC's layer analysis needs the pre-trained model's layers (features: wav2vec2)")
        if data.layers.shape[2] != data.n_features:
            raise ValueError(f"LA-CC: the pre-trained layers are {data.layers.shape[2]} wide, the input frames "
                             f"{data.n_features}: the layers go through the model's input projection, so they "
                             "must be as wide as the input frames (the same pre-trained model's)")
        splits = run_splits(data, cfg, uses_target=True)
        table = layer_similarity(data.layers, splits.src_train, splits.tgt_train, measure=cfg.lacc_similarity,
                                 n_layers=cfg.lacc_n_layers, pick=cfg.lacc_pick)
        return table, np.concatenate([splits.src_train, splits.tgt_train])

    def anchor_inputs(self, rows: np.ndarray) -> torch.Tensor:
        """The standardised anchor layers of utterances ``rows``: (B, k, H), read from the
        (memory-mapped) layer array, only these rows and layers."""
        import torch

        x = np.asarray(self.data.layers[rows[:, None], self.anchors[None, :]], np.float32)  # (B, k, H)
        return (torch.from_numpy(x).to(self.mean.device) - self.mean) / self.std

    def term(self, step: Step) -> Term:
        if self.anchors is None:
            return downstream_coral(step, self.layers)
        from .losses import coral_loss

        z_s = self.model.project(self.anchor_inputs(step.s_rows))  # (B_s, k, d_model)
        z_t = self.model.project(self.anchor_inputs(step.t_rows))  # (B_t, k, d_model)
        return Term(sum(coral_loss(z_s[:, j], z_t[:, j]) for j in range(len(self.anchors))))


@register
class LACCCoral(Method):
    """LA-CC (CORAL): this book's first reading of LA-CC, kept under its own name: Deep CORAL on
    the downstream model's layers ``lacc_layers`` (:func:`downstream_coral`). It runs where LA-CC
    aligns pre-trained layers (wav2vec2 features); elsewhere it is LA-CC itself."""

    name = "LA-CC (CORAL)"
    description = "CORAL on the downstream layers"
    colour = "C8"
    role = "added"
    uses_target = True
    hyperparameters = ("gamma", "lacc_layers")

    @classmethod
    def unavailable(cls, data: "TrainingData") -> str | None:
        if data.layers is None:
            return "the features have no pre-trained layers, so LA-CC itself is this CORAL alignment"
        return None

    def term(self, step: Step) -> Term:
        return downstream_coral(step, self.cfg.lacc_layers)


@register
class AGCC(TripletAnchoring):
    """AG-CC (Sec. III, Eq. 2-4), the proposed method: tokens grouped by their AG cluster; the
    distances of Eq. 3 are the soft-DTW divergences between the AG barycenters."""

    name = "AG-CC"
    description = "AG-anchored cross-corpus training"
    colour = "C2"
    role = "proposed"

    @classmethod
    def groups(cls, data):
        return data.tokens["ag_cluster"].to_numpy(), len(data.ag_distance), data.ag_distance


@register
class HardAG(TripletAnchoring):
    """Hard-AG: "fixed AG phonetic segments as anchors" (Sec. IV). Tokens grouped by vowel, i.e. the
    AG segment cut at the hard phonetic boundaries; the distance between two groups is the soft-DTW
    divergence of their mean AG trajectories (the vowel templates), so the only difference from
    AG-CC is hard phonetic groups in place of learned AG clusters."""

    name = "Hard-AG"
    description = "hard AG segments"
    colour = "C4"
    role = "baseline"

    @classmethod
    def groups(cls, data):
        return data.tokens["vowel"].to_numpy(), len(VOWELS), data.vowel_distance
