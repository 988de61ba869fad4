"""The contract every registered benchmark task meets, checked for each one found in eval/tasks/: its example row
becomes requests (or a prompt and golds), every declared language resolves, its local copy under ../shared/data
reads when present, and a tiny model scores the example end to end."""

from __future__ import annotations

import pytest

from core.engines import complete
from core.languages import get_language
from eval.bench import summarize
from eval.data import load_items
from eval.tasks import TASKS, Item, get_task

NAMES = sorted(TASKS)


@pytest.fixture(scope="module")
def tiny_engine(tmp_path_factory):
    from core.engines import load
    from tests.tiny_model import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("tiny"),
                            chat_template="{% for m in messages %}{{ m['content'] }}\n{% endfor %}")
    engine = load(f"hf:{path}")
    yield engine
    engine.close()


def _example_item(name: str) -> tuple[Item, str]:
    task = get_task(name)
    assert task.example, f"{name} has no `example` row: the contract test builds its requests from it"
    lang, row = task.example
    assert lang in task.langs
    missing = [f for f in task.fields if row.get(f) is None]
    assert not missing, f"{name}'s example lacks {missing}"
    item = task.to_item(row, lang, "example")
    assert isinstance(item, Item) and item.id == "example"
    return item, lang


@pytest.mark.parametrize("name", NAMES)
def test_example_row_becomes_a_well_formed_item(name):
    task, (item, _) = get_task(name), _example_item(name)
    if task.score is None:  # log-likelihood: one (context, continuation) per option and the right one's index
        assert len(item.requests) >= 2 and 0 <= item.gold < len(item.requests)
        assert all(isinstance(c, str) and cont for c, cont in item.requests)
        assert len(set(item.requests)) == len(item.requests), "two options make the same request"
    else:  # generative: a prompt for both styles and at least one gold answer
        assert item.golds and item.prompt["raw"] and any(m["role"] == "user" for m in item.prompt["chat"])


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_language_resolves_and_has_a_source(name):
    task = get_task(name)
    assert len(set(task.langs)) == len(task.langs), f"{name} declares a language twice"
    for lang in task.langs:
        assert get_language(lang).code == lang, f"{name} declares {lang!r}, which the table calls something else"
        hub, config, split = task.hub_of(lang)
        assert hub or task.local, f"{name}/{lang} has neither a hub copy nor a local reader"
        assert split


@pytest.mark.parametrize("name", NAMES)
def test_local_copy_reads_where_shared_data_has_it(name, shared_data):
    task = get_task(name)
    local = [lang for lang in task.langs if task.local and task.local(shared_data, lang) is not None
             and task.local(shared_data, lang)[0].exists()]
    if not local:
        pytest.skip(f"../shared/data holds no copy of {name}")
    for lang in local:
        items, source = load_items(task, lang, shared_data, limit=3)
        assert items and source["sha256"], f"{name}/{lang} read no item from {source.get('path')}"
        assert len({i.id for i in items}) == len(items)


@pytest.mark.parametrize("name", NAMES)
def test_a_tiny_model_scores_the_example(name, tiny_engine):
    task, (item, lang) = get_task(name), _example_item(name)
    if task.score is None:
        results = tiny_engine.loglikelihood(list(item.requests))
        lls = [r.logprob for r in results]
        assert len(lls) == len(item.requests) and all(ll < 0 for ll in lls)
        pred = max(range(len(lls)), key=lls.__getitem__)
        record = {"task": name, "lang": lang, "id": item.id, "gold": item.gold, "pred": pred,
                  "acc": float(pred == item.gold)}
    else:
        output = complete(tiny_engine, item.prompt["chat"], max_tokens=4, temperature=0.0, stop=task.stop(lang))
        record = {"task": name, "lang": lang, "id": item.id, "output": output, **task.score(output, item, lang)}
        assert record["em"] in (0.0, 1.0)
    row = summarize([record], [(name, lang)], {(name, lang): {item.id}})[name][lang]
    assert row["n"] == 1


def test_a_task_module_is_found_without_a_list(tmp_path, monkeypatch):
    """A new module in eval/tasks/ defining a Task is registered by the discovery alone."""
    import sys

    import eval.tasks as tasks

    module = tmp_path / "tasks_extra"
    module.mkdir()
    (module / "toy.py").write_text(
        "from eval.tasks.classification import classification\n"
        "TASK = classification('toy_topics', ('de', 'is'), ('a', 'b', 'c', 'd'), lambda row, lang: row['text'],\n"
        "                      lambda row, lang: row['label'], hub='x/toy', split='test', fields=('text', 'label'),\n"
        "                      example=('is', {'text': 'Halló', 'label': 'c'}))\n")
    monkeypatch.setattr(tasks, "__path__", [*tasks.__path__, str(module)])
    try:
        found = tasks._discover()
    finally:
        sys.modules.pop("eval.tasks.toy", None)
    assert "toy_topics" in found and "sib200" in found
    item = found["toy_topics"].to_item({"text": "Halló", "label": "c"}, "is", "1")
    assert item.gold == 2 and [c for _, c in item.requests] == [" a", " b", " c", " d"]
    assert found["toy_topics"].corpus([{"gold": 2, "pred": 2}, {"gold": 0, "pred": 2}])["f1_macro"] == 0.1667
