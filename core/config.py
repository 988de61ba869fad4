"""Load YAML configs into validated dataclasses, with `key=value` overrides and errors that name the fix.

Config classes are pydantic dataclasses with `extra="forbid"` (use `config_dataclass`), so types are checked
on load. This module turns pydantic's errors into one message per problem: an unknown key lists the valid
keys at that place, a wrong value says what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from core.errors import ConfigError, UnknownLanguageError

T = TypeVar("T")
_STRICT = pydantic.ConfigDict(extra="forbid")


def config_dataclass(cls: type[T]) -> type[T]:
    """Decorator: a dataclass whose constructor validates types and refuses unknown keys."""
    return pydantic.dataclasses.dataclass(cls, config=_STRICT)


def language_code(value: str) -> str:
    """A language's table code, for config checks: an unknown one is a ValueError that says where it was."""
    from core.languages import get_language

    try:
        return get_language(value).code
    except UnknownLanguageError as exc:
        raise ValueError(str(exc)) from None


def language_codes(values: list[str]) -> list[str]:
    """Table codes of a list of languages; a language listed twice is an error."""
    out = [language_code(x) for x in values]
    dupes = {x for x in out if out.count(x) > 1}
    if dupes:
        raise ValueError(f"language(s) listed twice: {', '.join(sorted(dupes))}")
    return out


def load_config(cls: type[T], source: str | Path | dict, overrides: Sequence[str] = ()) -> T:
    """Build `cls` from a YAML file (or a dict), after applying `a.b=value` overrides."""
    where = str(source) if not isinstance(source, dict) else "config"
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"Config file {path} not found; pass the path of a YAML file.")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a YAML mapping of keys to values, not {type(data).__name__}.")
    data = apply_overrides(data, overrides)
    try:
        return pydantic.TypeAdapter(cls).validate_python(data)
    except pydantic.ValidationError as exc:
        problems = [_describe(cls, err) for err in exc.errors()]
        raise ConfigError(f"{where} has {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems)) \
            from None
    except ValueError as exc:  # raised by a __post_init__ check
        raise ConfigError(f"{where}: {exc}") from None


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Return a copy of `data` with each `dotted.key=yaml-value` override set."""
    data = _deep_copy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Override {item!r} is not key=value; write e.g. mixture.size=300.")
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {item!r}: {part!r} is not a section, so it has no sub-keys.")
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None
    return data


def to_dict(config: Any) -> dict:
    """A plain dict of a config dataclass (for run cards)."""
    return dataclasses.asdict(config)


def _deep_copy(value):
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _describe(cls: type, err: dict) -> str:
    loc = [str(p) for p in err["loc"]]
    path = ".".join(loc) or "(top level)"
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        valid = _fields_at(cls, err["loc"][:-1])
        close = difflib.get_close_matches(loc[-1], valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown key {path!r}.{hint} Valid keys here: {', '.join(valid)}."
    if err["type"] == "missing":
        return f"{path!r} is required but missing."
    if err["type"] == "value_error":  # our own __post_init__ checks: the message says it all
        return f"{path}: {err['msg'].removeprefix('Value error, ')}"
    return f"{path}: {err['msg']} (got {err.get('input')!r})."


def _fields_at(cls: type, loc: Sequence) -> list[str]:
    """Field names of the dataclass at `loc` inside `cls`; dict keys and list indexes step into the values."""
    tp: Any = cls
    for part in loc:
        tp = _unwrap_optional(tp)
        origin = typing.get_origin(tp)
        if origin in (dict, list, tuple):
            tp = typing.get_args(tp)[-1] if typing.get_args(tp) else Any
        elif dataclasses.is_dataclass(tp):
            tp = typing.get_type_hints(tp).get(str(part), Any)
    tp = _unwrap_optional(tp)
    return [f.name for f in dataclasses.fields(tp)] if dataclasses.is_dataclass(tp) else []


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp
