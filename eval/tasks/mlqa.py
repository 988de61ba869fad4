"""MLQA (facebook/mlqa, context and question in the same language), generative as XQuAD in Polyglots: the same
prompts, forced prefix and EM/F1 (xquad.py), in `mlqa` (xx:xx) and `mlqa_en` (en:xx). Italian is CrossAlpaca's
translation of MLQA (not on the hub; --data-dir), prompted with our Italian rendering of the Polyglots prompt,
which the paper does not have."""

from __future__ import annotations

import re
from pathlib import Path

from core.readers import read_local
from eval.tasks.base import Item, Task
from eval.tasks.xquad import EN, TEMPLATES, qa_item, score, squad_rows

IT = ("### Human: ", "Rispondi alla domanda a partire dal testo dato. La tua risposta deve essere estratta "
      "direttamente dal testo e deve essere una singola entità, un nome o un numero, non una frase.", "Testo:",
      "Domanda:", "Nota: la tua risposta deve essere estratta direttamente dal testo ed essere una singola entità, "
      "un nome o un numero. Scrivi la risposta tra virgolette.", "", "### Assistant: ",
      'In base al testo, la risposta alla domanda è "')
MLQA_TEMPLATES = {lang: TEMPLATES[lang] for lang in ("ar", "de", "en", "es", "hi", "vi", "zh")} | {"it": IT}


# The answer inside the "risposte" cell, a translated dict literal: the key is "text" or "testo", and 100 of
# 1,621 answers have unescaped apostrophes ('dell'acqua'), so it is matched, not parsed. MLQA has one answer.
ANSWER = re.compile(r"""['"](?:text|testo)['"]\s*:\s*\[\s*(['"])(.*)\1\s*\]""", re.S)


def _crossalpaca_rows(path: Path):
    """CrossAlpaca's mlqa_IT.csv: contesto, domanda, risposte, id."""
    for i, (where, row) in enumerate(read_local(path), 1):
        match = ANSWER.search(row.get("risposte") or "")
        # 54 ids repeat (translated, e.g. "0" and "IL"): the row number keeps them apart
        yield where, {"id": f"{i}:{row.get('id')}", "context": row.get("contesto"), "question": row.get("domanda"),
                      "answers": {"text": [match.group(2)]} if match else None}


def local(data_dir: Path, lang: str):
    """MLQA's release file (MLQA_V1/test/test-context-xx-question-xx.json under <data-dir>/mlqa), or for
    Italian CrossAlpaca's CSV."""
    if lang == "it":
        path = data_dir / "crossalpaca_eval" / "Italian" / "MLQA" / "mlqa_IT.csv"
        return path, _crossalpaca_rows(path)
    path = data_dir / "mlqa" / "test" / f"test-context-{lang}-question-{lang}.json"
    return path, squad_rows(path)


def _hub(lang: str) -> tuple[str, str | None, str]:
    return ("", None, "test") if lang == "it" else ("facebook/mlqa", f"mlqa.{lang}.{lang}", "test")


EXAMPLE = {"id": "q1", "context": "Der Rhein fließt durch Basel und Köln.",
           "question": "Durch welche Stadt fließt der Rhein?", "answers": {"text": ["Basel", "Köln"]}}


def _task(name: str, to_item) -> Task:
    return Task(name, tuple(MLQA_TEMPLATES), "facebook/mlqa", "test", ("context", "question", "answers"), to_item,
                hub_source=_hub, local=local, id_field="id", score=score, max_tokens=48, example=("de", EXAMPLE),
                local_note="it: CrossAlpaca's translation (github.com/lranaldii/CrossAlpaca data/Italian/MLQA)")


def _native(row: dict, lang: str, id: str) -> Item:
    return qa_item(MLQA_TEMPLATES[lang], row, id)


TASK = _task("mlqa", _native)
TASK_EN = _task("mlqa_en", lambda row, lang, id: qa_item(EN, row, id))
