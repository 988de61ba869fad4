"""The benchmark tasks by name."""

from __future__ import annotations

from core.errors import ConfigError
from eval.tasks import (
    belebele,
    crossalpaca,
    mgsm,
    mlqa,
    pawsx,
    sentiment,
    xcopa,
    xcsqa,
    xnli,
    xquad,
    xstorycloze,
    xwinograd,
)
from eval.tasks.base import Item, Task

TASKS: dict[str, Task] = {t.name: t for t in (
    xcopa.TASK, xstorycloze.TASK, xwinograd.TASK, xnli.TASK, pawsx.TASK, belebele.TASK,  # lm-eval log-likelihood
    sentiment.SENTIMENTX, sentiment.NUSAX_TASK,  # log-likelihood of label words, F1
    xquad.TASK, xquad.TASK_EN, mlqa.TASK, mlqa.TASK_EN, mgsm.TASK, xcsqa.TASK, crossalpaca.MMLU, crossalpaca.BBH,
)}

__all__ = ["TASKS", "Item", "Task", "get_task", "task_langs"]


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
