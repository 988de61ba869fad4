"""The label-word classification shape: a text, a question, and one scored continuation per class label (the
log-likelihood of each label word, as lm-eval's multiple choice), reported as accuracy and as weighted and macro
F1 over however many classes the task has, since classes are often unbalanced."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from eval.tasks.base import Item, Task


def label_item(id: str, context: str, labels: Sequence[str], gold: int) -> Item:
    """One request per label: `context` then " <label>"."""
    return Item(id, tuple((context, " " + label) for label in labels), gold)


def class_f1(n_classes: int) -> Callable[[list[dict]], dict]:
    """A task's corpus metrics: weighted and macro F1 over `n_classes` classes from each record's gold and pred."""

    def scores(records: list[dict]) -> dict:
        from sklearn.metrics import f1_score

        if not records:
            return {}
        gold, pred = [r["gold"] for r in records], [r["pred"] for r in records]
        kw = dict(labels=list(range(n_classes)), zero_division=0)
        return {"f1_weighted": round(float(f1_score(gold, pred, average="weighted", **kw)), 4),
                "f1_macro": round(float(f1_score(gold, pred, average="macro", **kw)), 4)}

    return scores


def classification(name: str, langs: Sequence[str], labels: Sequence[str], context: Callable[[dict, str], str],
                   label_of: Callable[[dict, str], str | None], **task: object) -> Task:
    """A task that asks `context(row, lang)` and scores each of `labels` after it; `label_of(row, lang)` is the
    row's gold label (None: the row is not one of the classes and is skipped). `task` = the other Task fields."""
    labels = tuple(labels)

    def to_item(row: dict, lang: str, id: str) -> Item | None:
        gold = label_of(row, lang)
        if gold is None:
            return None
        if gold not in labels:
            raise ValueError(f"label {gold!r} is not one of {', '.join(labels)}")
        return label_item(id, context(row, lang), labels, labels.index(gold))

    return Task(name, tuple(langs), to_item=to_item, corpus=class_f1(len(labels)), **task)
