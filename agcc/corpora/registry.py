"""The registry of corpora, and the directions and upper bounds that derive from it (Sec. IV).

A direction is written ``"<source code>-><target code>"``: ``C->I`` trains on CREMA-D and tests
on MSP-IMPROV. Every ordered pair of two registered corpora is a cross-corpus direction; a corpus
with itself (``C->C``) is a within-corpus direction, the *upper bound* of the cross-corpus
directions into that corpus (Table II compares ``I->I`` with ``C->I``). With the two corpora of
the paper this gives ``C->I, I->C`` and ``C->C, I->I``; registering a third corpus adds its
directions everywhere that enumerates them.
"""
from __future__ import annotations

from .base import Corpus

_REGISTRY: dict[str, Corpus] = {}


def register(corpus: Corpus) -> Corpus:
    """Add a corpus (an instance of a :class:`~agcc.corpora.base.Corpus` subclass); returns it.
    Names and codes must be unique; the order of registration is the order of every enumeration."""
    if not corpus.name or not (len(corpus.code) == 1 and corpus.code.isupper()):
        raise ValueError(f"a corpus needs a name and a one-letter upper-case code, got {corpus.name!r}, {corpus.code!r}")
    for other in _REGISTRY.values():
        if other.name == corpus.name or other.code == corpus.code:
            raise ValueError(f"{corpus!r} clashes with the registered {other!r}")
    _REGISTRY[corpus.name] = corpus
    return corpus


def unregister(name: str) -> None:
    """Remove a corpus (tests that register a toy one)."""
    del _REGISTRY[name]


def corpora() -> list[Corpus]:
    """The registered corpora, in registration order."""
    return list(_REGISTRY.values())


def names() -> list[str]:
    return list(_REGISTRY)


def get(name: str) -> Corpus:
    """The corpus registered as ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown corpus {name!r}; registered: {', '.join(_REGISTRY)}") from None


def by_code(code: str) -> Corpus:
    for corpus in _REGISTRY.values():
        if corpus.code == code:
            return corpus
    raise KeyError(f"unknown corpus code {code!r}; registered: "
                   f"{', '.join(f'{c.code} ({c.name})' for c in _REGISTRY.values())}")


def pair() -> tuple[str, str]:
    """The names of the first two registered corpora: the paper's pair (Table I, Fig. 1)."""
    if len(_REGISTRY) < 2:
        raise ValueError("cross-corpus analyses need two registered corpora")
    first, second = list(_REGISTRY)[:2]
    return first, second


def direction(source: str, target: str) -> str:
    """The direction from corpus ``source`` to corpus ``target`` (names): ``"C->I"``."""
    return f"{get(source).code}->{get(target).code}"


def cross_directions() -> list[str]:
    """Every ordered pair of two registered corpora, by source then target: ``["C->I", "I->C"]``."""
    return [direction(s, t) for s in _REGISTRY for t in _REGISTRY if s != t]


def within_directions() -> list[str]:
    """Each registered corpus with itself: ``["C->C", "I->I"]``."""
    return [direction(c, c) for c in _REGISTRY]


def directions() -> list[str]:
    """The cross-corpus directions, then the within-corpus ones."""
    return cross_directions() + within_directions()


def _ends(name: str) -> tuple[Corpus, Corpus]:
    parts = str(name).split("->")
    if len(parts) != 2:
        raise ValueError(f"a direction is written 'S->T' with two corpus codes, got {name!r}")
    return by_code(parts[0].strip()), by_code(parts[1].strip())


def source_of(name: str) -> str:
    """Name of the corpus a direction trains on (``"C->I"`` -> ``"crema_d"``)."""
    return _ends(name)[0].name


def target_of(name: str) -> str:
    """Name of the corpus a direction tests on (``"C->I"`` -> ``"msp_improv"``)."""
    return _ends(name)[1].name


def is_within(name: str) -> bool:
    source, target = _ends(name)
    return source is target


def upper_bound_of(name: str) -> str:
    """The within-corpus direction of a direction's target: the upper bound of ``C->I`` is ``I->I``."""
    target = _ends(name)[1].name
    return direction(target, target)


def upper_bound_pairs() -> list[tuple[str, str]]:
    """``(upper bound, cross direction into its corpus)`` for every cross direction, ordered by
    the upper bound: ``[("C->C", "I->C"), ("I->I", "C->I")]``."""
    order = within_directions()
    pairs = [(upper_bound_of(d), d) for d in cross_directions()]
    return sorted(pairs, key=lambda p: order.index(p[0]))
