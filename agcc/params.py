"""Notebook parameters and profiles: one schema, three presets, strict validation.

Every parameter a notebook may take is declared once, with its type, default and meaning, in
``agcc/profiles/profiles.yml``. A *profile* (``smoke``, ``default``, ``paper``) is a small set of
overrides of those defaults. Both the runner (``python -m agcc build``) and :func:`agcc.setup` go
through :func:`resolve`, so an unknown name or a value of the wrong type is refused with a message
that says what was expected, whether the notebook is run by the runner, by papermill or by hand.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import yaml

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class ParameterError(ValueError):
    """An unknown parameter name, an unknown profile, or a value of the wrong type."""


@dataclass(frozen=True)
class Parameter:
    """One declared notebook parameter."""

    name: str
    type: str
    default: Any
    doc: str


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Parameter], dict[str, dict[str, Any]]]:
    text = resources.files("agcc").joinpath("profiles/profiles.yml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    schema = {}
    for name, spec in raw["parameters"].items():
        if spec["type"] not in _TYPES:
            raise ParameterError(f"profiles.yml: parameter {name!r} has unknown type {spec['type']!r}")
        schema[name] = Parameter(name, spec["type"], spec["default"], spec.get("doc", ""))
        coerce(schema[name], spec["default"])  # the defaults themselves must type-check
    profiles = {name: dict(values or {}) for name, values in raw["profiles"].items()}
    return schema, profiles


def schema() -> dict[str, Parameter]:
    """All declared parameters, by name."""
    return dict(_load()[0])


def profile_names() -> list[str]:
    """The names of the presets (``smoke``, ``default``, ``paper``)."""
    return list(_load()[1])


def _unknown(name: str, known) -> ParameterError:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ParameterError(
        f"Unknown parameter {name!r}.{hint} Declared parameters are listed in "
        "agcc/profiles/profiles.yml (or run `python -m agcc params`)."
    )


def coerce(param: Parameter, value: Any) -> Any:
    """Return ``value`` as the parameter's type, or raise :class:`ParameterError`.

    Strings (as typed on a command line) are parsed; other values must already have the right
    type (an int is accepted for a float parameter, a bool is never accepted for an int).
    """
    kind = _TYPES[param.type]
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
            raise ParameterError(
                f"Parameter {param.name!r} expects {param.type}, got {value!r}."
            ) from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and kind is not bool:
        raise ParameterError(f"Parameter {param.name!r} expects {param.type}, got bool {value!r}.")
    if not isinstance(value, kind):
        raise ParameterError(
            f"Parameter {param.name!r} expects {param.type}, got {type(value).__name__} {value!r}."
        )
    return value


def resolve(profile: str = "default", overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Full parameter set of ``profile`` with ``overrides`` applied, validated and typed.

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
    """
    schema_, profiles = _load()
    if profile not in profiles:
        raise ParameterError(f"Unknown profile {profile!r}; choose one of {', '.join(profiles)}.")
    values = {name: p.default for name, p in schema_.items()}
    for name, value in profiles[profile].items():
        if name not in schema_:
            raise _unknown(name, schema_)
        values[name] = coerce(schema_[name], value)
    values["profile"] = profile
    for name, value in (overrides or {}).items():
        if name not in schema_:
            raise _unknown(name, schema_)
        values[name] = coerce(schema_[name], value)
    return values


def check(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate parameter values given to a notebook (by papermill or by hand).

    Names that are not declared raise; values are coerced to the declared type. Returns the
    validated subset.
    """
    schema_ = _load()[0]
    out = {}
    for name, value in values.items():
        if name not in schema_:
            raise _unknown(name, schema_)
        out[name] = coerce(schema_[name], value)
    return out
