"""Job configs: one validated dataclass per job that is at once a CLI's flags, an experiment's YAML section and
what a run's card records. Flags are generated from the fields (type, default, `help=` metadata), so a new field
is a new flag without touching a parser; values are checked by the dataclass's own validators, and a bad flag
fails with the same one-line message as a bad YAML key.

    @config_dataclass
    class BenchJob:
        model: str = arg(help="an engine spec")
        limit: int | None = arg(None, help="the first N items")
        out: Path = arg(help="run directory", identity=False)
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import pydantic

from core.config import config_dataclass
from core.errors import ConfigError

__all__ = ["arg", "add_dataclass_args", "build_job", "config_dataclass", "identity", "job_from_args", "parse_job",
           "section_job", "to_argv"]

T = TypeVar("T")
_MISSING = dataclasses.MISSING


def arg(default: Any = _MISSING, *, help: str = "", positional: bool = False, nargs: str | int | None = None,
        repeat: bool = False, identity: bool = True, metavar: str | None = None,
        default_factory: Any = _MISSING) -> Any:
    """A job field: `positional` is an argument, not a --flag; `repeat` takes the flag once per value (values
    that may hold commas); `identity=False` for settings that do not change the results (paths, speed)."""
    meta = {"help": help, "positional": positional, "nargs": nargs, "repeat": repeat, "identity": identity,
            "metavar": metavar}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def fields(cls: type) -> tuple[dataclasses.Field, ...]:
    """The dataclass fields of `cls` with their annotations resolved (modules may postpone them)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        f = copy.copy(f)
        f.type = hints[f.name]
        out.append(f)
    return tuple(out)


def flag_name(field: dataclasses.Field) -> str:
    """--data-dir for data_dir; --no-verify for a bool that is on by default."""
    name = field.name.replace("_", "-")
    return f"--no-{name}" if _kind(field)[0] is bool and field.default is True else f"--{name}"


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add an argument per field of `cls`; values stay strings here, the dataclass validates and converts them."""
    for f in fields(cls):
        tp, is_list = _kind(f)
        meta = f.metadata
        required = f.default is _MISSING and f.default_factory is _MISSING
        text = meta.get("help", "") + _default_text(f, tp, required)
        metavar = meta.get("metavar") or (
            "{" + ",".join(map(str, typing.get_args(tp))) + "}" if typing.get_origin(tp) is Literal else None)
        if meta.get("positional"):
            nargs = meta.get("nargs") or ("+" if is_list else None)
            if not required and nargs is None:
                nargs = "?"
            parser.add_argument(f.name, nargs=nargs, help=text, metavar=metavar,
                                default=argparse.SUPPRESS if not required and nargs != "*" else None)
        elif tp is bool:
            parser.add_argument(flag_name(f), dest=f.name, action="store_false" if f.default is True else "store_true",
                                default=argparse.SUPPRESS, help=text)
        else:
            metavar = metavar or (f"{f.name.upper()}[,...]" if is_list and not meta.get("repeat") else None)
            parser.add_argument(flag_name(f), dest=f.name, required=required, default=argparse.SUPPRESS,
                                action="append" if meta.get("repeat") else "store", metavar=metavar, help=text)


def job_from_args(cls: type[T], ns: argparse.Namespace | dict) -> T:
    """The job config from parsed arguments: comma-separated lists split, then validated like a YAML section."""
    given = vars(ns) if isinstance(ns, argparse.Namespace) else dict(ns)
    values = {}
    for f in fields(cls):
        if f.name not in given:
            continue
        value = given[f.name]
        tp, is_list = _kind(f)
        if is_list and isinstance(value, str) and not f.metadata.get("positional"):
            value = [x.strip() for x in value.split(",") if x.strip()] or None
        if typing.get_origin(tp) is Literal and isinstance(value, str):  # --bits 4 means the literal 4
            value = next((x for x in typing.get_args(tp) if str(x) == value), value)
        values[f.name] = value
    return build_job(cls, values, flags=True)


def parse_job(cls: type[T], argv: Sequence[str], prog: str | None = None) -> T:
    """Parse `argv` as the flags of `cls` alone (a script's whole CLI, or a test)."""
    parser = argparse.ArgumentParser(prog=prog, description=cls.__doc__)
    add_dataclass_args(parser, cls)
    return job_from_args(cls, parser.parse_args(list(argv)))


def build_job(cls: type[T], values: dict, flags: bool = False) -> T:
    """Validate `values` into `cls`; a problem is a ConfigError of one line naming the key (or the --flag)."""
    try:
        return pydantic.TypeAdapter(cls).validate_python(values)
    except pydantic.ValidationError as exc:
        problems = [_describe(cls, err, flags).rstrip(".") + "." for err in exc.errors()]
        raise ConfigError(" ".join(dict.fromkeys(problems))) from None
    except ValueError as exc:  # a __post_init__ check across fields
        raise ConfigError(str(exc)) from None


def section_job(cls: type[T], section: Any, **fixed: Any) -> T:
    """The job config from an experiment's YAML section (those of its keys that are the job's fields; the others,
    e.g. a judge section's `arms`, are the experiment's own) and the values the experiment fixes (model, out ...)."""
    values = dataclasses.asdict(section) if dataclasses.is_dataclass(section) else dict(section or {})
    names = {f.name for f in dataclasses.fields(cls)}
    return build_job(cls, {k: v for k, v in values.items() if k in names} | fixed)


def identity(job: Any) -> dict:
    """The fields that define a run's results (not where it writes, nor how fast): for run cards."""
    return {f.name: _plain(getattr(job, f.name)) for f in fields(type(job)) if f.metadata.get("identity", True)}


def to_argv(job: Any) -> list[str]:
    """The command-line arguments that parse back into `job` (positionals first, defaults left out)."""
    positional, options = [], []
    for f in fields(type(job)):
        value = getattr(job, f.name)
        tp, is_list = _kind(f)
        if f.metadata.get("positional"):
            positional += [str(v) for v in value] if is_list else [str(value)]
            continue
        default = f.default_factory() if f.default_factory is not _MISSING else f.default
        if default is not _MISSING and value == default:
            continue
        if tp is bool:
            options.append(flag_name(f))
        elif is_list and f.metadata.get("repeat"):
            options += [x for v in value for x in (flag_name(f), str(v))]
        else:
            options += [flag_name(f), ",".join(map(str, value)) if is_list else str(value)]
    return positional + options


def _kind(f: dataclasses.Field) -> tuple[Any, bool]:
    """(the field's type without None, whether it is a list/tuple)."""
    tp = f.type
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else tp
    return tp, typing.get_origin(tp) in (list, tuple)


def _default_text(f: dataclasses.Field, tp: Any, required: bool) -> str:
    if required or tp is bool:
        return ""
    default = f.default_factory() if f.default_factory is not _MISSING else f.default
    if default is None or default == []:
        return ""
    shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
    return f" (default: {shown})"


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _describe(cls: type, err: dict, flags: bool) -> str:
    """One problem as `--limit: Input should be a valid integer (got 'abc')`; a YAML section names the key."""
    names = [f.name for f in fields(cls)]
    loc = [str(p) for p in err["loc"]]
    field = next((f for f in fields(cls) if loc and f.name == loc[0]), None)
    where = (flag_name(field) if flags and field else ".".join(loc)) or cls.__name__
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        close = difflib.get_close_matches(loc[-1], names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown key {where!r}.{hint} Valid keys here: {', '.join(names)}."
    if err["type"] == "missing":
        return f"{where} is required but missing."
    if err["type"] == "value_error":
        return f"{where}: {err['msg'].removeprefix('Value error, ')}"
    return f"{where}: {err['msg']} (got {err.get('input')!r})."
