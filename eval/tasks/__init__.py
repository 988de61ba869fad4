"""The benchmark tasks by name: every module in this package is imported and each `Task` it defines at module
level is registered under its name, so a new task is one new module (see README.md here)."""

from __future__ import annotations

import importlib
import pkgutil

from core.errors import ConfigError
from core.languages import register_languages
from eval.tasks.base import Item, Task

__all__ = ["TASKS", "Item", "Task", "get_task", "task_langs"]


def _discover() -> dict[str, Task]:
    """Every module-level Task in this package's modules, in module order, then definition order."""
    found: dict[str, Task] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        for value in vars(importlib.import_module(f"{__name__}.{module.name}")).values():
            if not isinstance(value, Task) or found.get(value.name) is value:
                continue
            if value.name in found:
                raise ConfigError(f"Two tasks are called {value.name!r} (eval/tasks/{module.name}.py and another "
                                  f"module); give one of them another name.")
            found[value.name] = value
    return found


TASKS: dict[str, Task] = _discover()
for _task in TASKS.values():
    register_languages(_task.name, _task.langs)


def get_task(name: str) -> Task:
    """The task called `name`; an unknown name lists the valid ones."""
    if name not in TASKS:
        raise ConfigError(f"Unknown task {name!r}; the tasks are: {', '.join(TASKS)}.")
    return TASKS[name]


def task_langs(task: Task, langs: list[str] | None) -> list[str]:
    """The languages to run (all of the task's when None); one the task lacks is an error listing them."""
    if not langs:
        return list(task.langs)
    from core.languages import get_language

    out = []
    for lang in langs:
        code = get_language(lang).code  # "German", "deu" and "de" all mean de
        if code not in task.langs:
            raise ConfigError(f"{task.name} has no language {lang!r}; its languages are: {', '.join(task.langs)}.")
        out.append(code)
    return out
