"""Notebook parameters and profiles: one typed schema, three presets, validation once at load.

Every parameter a notebook may take is declared once in ``agcc/profiles/profiles.yml``: its type
(``int``, ``float``, ``str``, ``bool`` or a list of one of them, e.g. ``list[float]``,
``list[list[str]]``), its default, the values it may take (``min``/``max``, ``choices``,
``pattern``, ``min_items``) and its meaning. A *profile* (``smoke``, ``default``, ``paper``) is a
small set of overrides of those defaults. :func:`resolve` is the one place where values are
parsed and checked: the runner (``python -m agcc build``) and :func:`agcc.setup` (papermill, or a
notebook run by hand) both go through it, so an unknown name, a value of the wrong type, a value
out of range, an unknown choice or an inconsistent combination is refused before any work starts,
with a message that says what was expected.

Strings (a command line, ``papermill -p/-r``) are parsed to the declared type; a list may be
written ``0.3,1.0`` or ``[0.3, 1.0]``, a list of lists ``a,i,u;ə,ɛ`` or ``[[a, i, u], [ə, ɛ]]``,
and a list of integers may hold ranges (``5-30``, inclusive).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import yaml

_SCALARS = {"int": int, "float": float, "str": str, "bool": bool}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")  # "5-30" (inclusive) in a list of ints
_SPEC_KEYS = {"type", "default", "doc", "min", "max", "min_open", "max_open", "choices", "pattern",
              "min_items", "sorted", "special"}


class ParameterError(ValueError):
    """An unknown parameter name or profile, or a value of the wrong type, out of range, not one
    of the choices, or inconsistent with another parameter."""


@dataclass(frozen=True)
class Parameter:
    """One declared notebook parameter (see the header of ``profiles.yml`` for the keys)."""

    name: str
    type: str
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    min_open: bool = False  # min itself is not allowed
    max_open: bool = False
    choices: tuple | None = None
    pattern: str | None = None
    min_items: int = 0  # every list level (a vowel set of list[list[str]] too)
    sorted: bool = False  # a list is sorted and its duplicates dropped
    special: Mapping[Any, str] = field(default_factory=dict)  # value -> meaning, allowed out of range

    @property
    def depth(self) -> int:
        """Nesting of list types: 0 for a scalar, 1 for ``list[float]``, 2 for ``list[list[str]]``."""
        return self.type.count("list[")

    @property
    def scalar(self) -> str:
        """The element type: ``float`` for ``list[float]``."""
        return self.type.replace("list[", "").rstrip("]")

    def allowed(self) -> str:
        """The allowed values in words (``>= 1``, ``in [0, 1]``, ``one of a, b``, ``at least 1
        item``), '' if any."""
        text = self.allowed_values()
        if self.depth and self.min_items:
            text = (text + "; " if text else "") + f"at least {self.min_items} item{'s' if self.min_items > 1 else ''}"
        return text

    def allowed_values(self) -> str:
        """The allowed scalar values (of every element of a list) in words."""
        parts = []
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.min is not None and self.max is not None:
            parts.append(f"in {'(' if self.min_open else '['}{self.min:g}, {self.max:g}{')' if self.max_open else ']'}")
        elif self.min is not None:
            parts.append(f"{'>' if self.min_open else '>='} {self.min:g}")
        elif self.max is not None:
            parts.append(f"{'<' if self.max_open else '<='} {self.max:g}")
        if self.pattern:
            parts.append(f"matching {self.pattern}")
        text = " ".join(parts)
        if self.special:
            text = " or ".join([text, *(f"{v!r} ({meaning})" for v, meaning in self.special.items())])
        return text


def _parameter(name: str, spec: Mapping[str, Any]) -> Parameter:
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ParameterError(f"profiles.yml: parameter {name!r} has unknown keys {sorted(unknown)}")
    kind = str(spec["type"])
    if kind.replace("list[", "").rstrip("]") not in _SCALARS or kind.count("list[") != kind.count("]"):
        raise ParameterError(f"profiles.yml: parameter {name!r} has unknown type {kind!r}")
    choices = spec.get("choices")
    return Parameter(name, kind, spec["default"], spec.get("doc", ""), spec.get("min"), spec.get("max"),
                     bool(spec.get("min_open", False)), bool(spec.get("max_open", False)),
                     None if choices is None else tuple(choices), spec.get("pattern"),
                     int(spec.get("min_items", 0)), bool(spec.get("sorted", False)), dict(spec.get("special") or {}))


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Parameter], dict[str, dict[str, Any]]]:
    text = resources.files("agcc").joinpath("profiles/profiles.yml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    schema_ = {name: _parameter(name, spec) for name, spec in raw["parameters"].items()}
    profiles = {name: dict(values or {}) for name, values in raw["profiles"].items()}
    return schema_, profiles


def schema() -> dict[str, Parameter]:
    """All declared parameters, by name."""
    return dict(_load()[0])


def profile_names() -> list[str]:
    """The names of the presets (``smoke``, ``default``, ``paper``)."""
    return list(_load()[1])


def _suggest(value: str, known) -> str:
    close = difflib.get_close_matches(str(value), [str(k) for k in known], n=3)
    return f" Did you mean {', '.join(close)}?" if close else ""


def _unknown(name: str, known) -> ParameterError:
    return ParameterError(
        f"Unknown parameter {name!r}.{_suggest(name, known)} Declared parameters are listed in "
        "agcc/profiles/profiles.yml (or run `python -m agcc params`)."
    )


def _scalar(param: Parameter, value: Any) -> Any:
    """One scalar of ``param``'s element type (strings parsed), or raise."""
    kind = _SCALARS[param.scalar]
    what = f"Parameter {param.name!r} expects {param.type}"
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() in _TRUE:
                    return True
                if text.lower() in _FALSE:
                    return False
                raise ValueError(text)
            return kind(text)
        except ValueError:
            raise ParameterError(f"{what}, got {value!r}.") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # papermill -p wav2vec2_layer 6 injects an int
    if isinstance(value, bool) and kind is not bool:
        raise ParameterError(f"{what}, got bool {value!r}.")
    if not isinstance(value, kind):
        raise ParameterError(f"{what}, got {type(value).__name__} {value!r}.")
    return value


def _split(param: Parameter, text: str, depth: int) -> list:
    """A command-line list: ``a,b`` (``;`` between the inner lists of a list of lists), or
    ``[a, b]`` as YAML/JSON; ranges ``lo-hi`` expand in a list of ints."""
    text = text.strip()
    if text.startswith("["):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ParameterError(f"Parameter {param.name!r} expects {param.type}, got {text!r} ({err}).") from None
    sep = ";" if depth > 1 else ","
    parts = [p.strip() for p in text.split(sep)]
    if any(not p for p in parts) and text:
        raise ParameterError(f"Parameter {param.name!r} expects {param.type}: an empty item in {text!r}.")
    parts = [p for p in parts if p]
    if depth > 1:
        return [_split(param, p, depth - 1) for p in parts]
    if param.scalar == "int":
        out = []
        for p in parts:
            match = _RANGE.match(p)
            if match:
                lo, hi = int(match.group(1)), int(match.group(2))
                if lo > hi:
                    raise ParameterError(f"Parameter {param.name!r}: the range {p!r} is empty.")
                out.extend(range(lo, hi + 1))
            elif re.fullmatch(r"\s*-?\d+\s*", p):
                out.append(int(p))
            else:
                raise ParameterError(f"Parameter {param.name!r} expects {param.type} (e.g. 5,10,15 or a range "
                                     f"5-30 or [5, 10]); {p!r} is neither an integer nor a range lo-hi.")
        return out
    return parts


def _typed(param: Parameter, value: Any, depth: int) -> Any:
    if depth == 0:
        return _scalar(param, value)
    if isinstance(value, str):
        value = _split(param, value, depth)
    elif isinstance(value, (int, float, bool)) and depth == 1:
        value = [value]  # papermill -p gamma_grid 0.5 arrives as a float
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise ParameterError(f"Parameter {param.name!r} expects {param.type}, got {type(value).__name__} {value!r}.")
    out = [_typed(param, v, depth - 1) for v in value]
    if param.sorted:
        out = sorted(set(out))
    return out


def _check_scalar(param: Parameter, value: Any, whole: Any) -> None:
    if value in param.special and not isinstance(value, bool):
        return
    where = "" if whole is value else f" (in {whole!r})"
    if param.choices is not None and value not in param.choices:
        raise ParameterError(f"Parameter {param.name!r} must be one of {', '.join(map(str, param.choices))}; "
                             f"got {value!r}{where}.{_suggest(value, param.choices)}")
    if param.pattern is not None and not re.fullmatch(param.pattern, str(value)):
        raise ParameterError(f"Parameter {param.name!r} must match {param.pattern}, got {value!r}{where}.")
    low = param.min is not None and (value < param.min or (param.min_open and value == param.min))
    high = param.max is not None and (value > param.max or (param.max_open and value == param.max))
    if low or high:
        raise ParameterError(f"Parameter {param.name!r} must be {param.allowed_values()}, got {value!r}{where}. "
                             f"({param.doc})")


def _check(param: Parameter, value: Any, depth: int, whole: Any) -> None:
    if depth == 0:
        _check_scalar(param, value, whole)
        return
    if len(value) < param.min_items:
        raise ParameterError(f"Parameter {param.name!r} needs at least {param.min_items} item"
                             f"{'s' if param.min_items > 1 else ''}, got {value!r}{'' if whole is value else f' (in {whole!r})'}.")
    for v in value:
        _check(param, v, depth - 1, whole)


def coerce(param: Parameter, value: Any) -> Any:
    """``value`` as the parameter's type, checked against its range, choices and pattern, or
    raise :class:`ParameterError`. Strings (as typed on a command line) are parsed; other values
    must already have the right type (an int is accepted for a float, a number for a string, as
    papermill -p parses numbers, a bool never for an int, a scalar for a list of one)."""
    typed = _typed(param, value, param.depth)
    _check(param, typed, param.depth, typed)
    return typed


# Checks across parameters: (names, holds(values), what is wrong). Each runs on the resolved set.
CROSS_CHECKS = (
    (("val_fraction", "test_fraction"), lambda p: p["val_fraction"] + p["test_fraction"] < 1,
     "val_fraction + test_fraction must be below 1 (the rest is the training split)"),
    (("d_model", "n_heads"), lambda p: p["d_model"] % p["n_heads"] == 0,
     "d_model must be a multiple of n_heads (each attention head gets d_model / n_heads dimensions)"),
    (("lacc_layers", "fc_sizes"), lambda p: max(p["lacc_layers"], default=0) <= len(p["fc_sizes"]),
     "lacc_layers index 0 (the pooled encoder output) and 1..len(fc_sizes) (the hidden FC layers)"),
    (("ablation_seeds", "n_seeds"), lambda p: p["ablation_seeds"] <= p["n_seeds"],
     "ablation_seeds must not exceed n_seeds (each ablation value is paired with notebook 05's runs)"),
    (("elbow_subsample", "elbow_ks", "n_acoustic_clusters"),
     lambda p: p["elbow_subsample"] == 0 or p["elbow_subsample"] >= max(*p["elbow_ks"], p["n_acoustic_clusters"]),
     "elbow_subsample (tokens per elbow fit and of the acoustic clustering) must be 0 (all) or at least the "
     "largest k it fits (max of elbow_ks and n_acoustic_clusters)"),
)


def _cross_check(values: Mapping[str, Any]) -> None:
    for names, holds, message in CROSS_CHECKS:
        if not holds(values):
            given = ", ".join(f"{n} = {values[n]!r}" for n in names)
            raise ParameterError(f"Inconsistent parameters: {message}; got {given}.")


def resolve(profile: str = "default", overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Full parameter set of ``profile`` with ``overrides`` applied, typed and validated.

    Parameters
    ----------
    profile
        One of :func:`profile_names`.
    overrides
        Name -> value (strings are parsed to the declared type).

    Returns
    -------
    dict
        Every declared parameter, with ``profile`` set to the profile's name.

    Raises
    ------
    ParameterError
        For an unknown profile or name (with the closest names), a wrong type, a value out of
        range or not among the choices, or parameters that contradict each other
        (:data:`CROSS_CHECKS`).
    """
    schema_, profiles = _load()
    if profile not in profiles:
        raise ParameterError(f"Unknown profile {profile!r}; choose one of {', '.join(profiles)}."
                             f"{_suggest(profile, profiles)}")
    values = {name: coerce(p, p.default) for name, p in schema_.items()}
    for source in (profiles[profile], overrides or {}):
        for name, value in source.items():
            if name not in schema_:
                raise _unknown(name, schema_)
            values[name] = coerce(schema_[name], value)
    values["profile"] = profile
    _cross_check(values)
    return values


def defaults() -> dict[str, Any]:
    """The declared defaults (the ``default`` profile), typed."""
    return resolve("default")


def check(values: Mapping[str, Any]) -> dict[str, Any]:
    """Type-check and range-check some parameter values (names must be declared); returns them
    coerced. No cross-parameter check: :func:`resolve` does that on a full set."""
    schema_ = _load()[0]
    out = {}
    for name, value in values.items():
        if name not in schema_:
            raise _unknown(name, schema_)
        out[name] = coerce(schema_[name], value)
    return out


def describe(profile: str = "default") -> list[dict[str, str]]:
    """One row per parameter for ``python -m agcc params``: name, value in ``profile``, type,
    allowed values and meaning."""
    values = resolve(profile)
    return [{"name": name, "value": _show(values[name]), "type": p.type, "allowed": p.allowed(), "doc": p.doc}
            for name, p in schema().items()]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)
