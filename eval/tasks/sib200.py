"""SIB-200 (Adelani et al. 2024): 7-way topic classification of FLORES-200 sentences, the same 204 test sentences
and labels in every language. The SIB-200 paper's zero-shot prompt ("Is this a piece of news regarding
science/technology, travel, ... or geography? <text>"), with the seven label words scored after "Answer:" as
lm-eval scores multiple choice. The authors' script sends the prompt-source Jinja quotes `{{"…"}}` literally; we
leave them out, since they are template syntax, not part of the question."""

from __future__ import annotations

from pathlib import Path

from core.languages import from_flores
from core.readers import read_local
from eval.tasks.classification import classification

LABELS = ("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography")
QUESTION = f"Is this a piece of news regarding {', '.join(LABELS[:-1])} or {LABELS[-1]}?"
# The 30 languages of ../shared/data/sib200 (SIB-200 has 205; the hub config is the FLORES code).
FLORES = {from_flores(code): code for code in (
    "arb_Arab ben_Beng bul_Cyrl ces_Latn deu_Latn ell_Grek eng_Latn est_Latn fin_Latn fra_Latn hat_Latn hin_Deva "
    "ind_Latn isl_Latn ita_Latn jpn_Jpan kor_Hang nld_Latn por_Latn quy_Latn rus_Cyrl spa_Latn swh_Latn tam_Taml "
    "tel_Telu tha_Thai tur_Latn urd_Arab vie_Latn zho_Hans").split()}


def local(data_dir: Path, lang: str):
    """The test split in FLORES order (index_id): the files are grouped by topic, so the first N rows that
    `--limit N` takes would all be science/technology."""
    path = data_dir / "sib200" / FLORES[lang] / "test.tsv"
    return path, iter(sorted(read_local(path), key=_flores_order))


def _flores_order(where_row: tuple) -> int:
    row = where_row[1]  # a broken line (core.readers.Unparsable) sorts first, where load_items reports it
    return int(row["index_id"]) if isinstance(row, dict) and str(row.get("index_id", "")).isdigit() else -1


TASK = classification(
    "sib200", FLORES, LABELS,
    context=lambda row, lang: f"{QUESTION} {' '.join(row['text'].split())}\nAnswer:",
    label_of=lambda row, lang: row["category"],
    hub="Davlan/sib200", split="test", fields=("text", "category"), hub_config=FLORES.__getitem__, local=local,
    id_field="index_id", example=("de", {"index_id": 7, "category": "sports", "text": "Die Mannschaft gewann das "
                                         "Finale mit zwei Toren in der Nachspielzeit."}))
