"""Training recipes: each composes the trainer's components (model + PEFT setup, optimizer, step loop,
per-language eval, run log) into one training method, registered under the name `recipe:` picks.

A recipe is `fn(cfg: TrainConfig, job: Job) -> dict` (the final metrics) decorated with `@register(NAME)`;
every module in this package is imported on first lookup, so a new recipe is one new module here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError

RECIPES: dict[str, Callable] = {}
_discovered = False


@dataclass
class Job:
    """One adapter to train: where it goes, on which languages (None: the whole mix), resumed or not."""

    out: Path
    resume: bool = False
    languages: list[str] | None = None
    log: Callable[[str], None] = print
    progress: bool = True


def register(name: str) -> Callable[[Callable], Callable]:
    """Decorator: make the recipe function selectable as `recipe: NAME`."""
    def add(fn: Callable) -> Callable:
        if RECIPES.get(name, fn) is not fn:
            raise ValueError(f"recipe {name!r} is registered twice ({RECIPES[name].__module__} and {fn.__module__})")
        RECIPES[name] = fn
        return fn
    return add


def _discover() -> None:
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _discovered = True


def names() -> list[str]:
    """The registered recipe names."""
    _discover()
    return sorted(RECIPES)


def get(name: str) -> Callable:
    """The recipe registered as `name`; a ConfigError lists the registered ones."""
    _discover()
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; registered: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]
