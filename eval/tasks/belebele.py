"""Belebele (facebook/belebele), as lm-eval's belebele_<flores code>: passage, question, four options,
scored on the answer letter."""

from __future__ import annotations

from core.languages import from_flores
from eval.tasks.base import Item, Task

# Our code -> FLORES code, for the languages the packaged models and the seeds cover.
CONFIGS = {from_flores(code): code for code in (
    "eng_Latn deu_Latn fra_Latn spa_Latn ita_Latn por_Latn rus_Cyrl zho_Hans jpn_Jpan kor_Hang arb_Arab hin_Deva "
    "swh_Latn ind_Latn vie_Latn tha_Thai tur_Latn ben_Beng urd_Arab tam_Taml tel_Telu fin_Latn est_Latn ces_Latn "
    "pol_Latn nld_Latn ell_Grek bul_Cyrl ukr_Cyrl heb_Hebr").split()}


def to_item(row: dict, lang: str, id: str) -> Item:
    ctx = (f"P: {row['flores_passage']}\nQ: {row['question'].strip()}\nA: {row['mc_answer1']}\n"
           f"B: {row['mc_answer2']}\nC: {row['mc_answer3']}\nD: {row['mc_answer4']}\nAnswer:")
    return Item(id, tuple((ctx, " " + letter) for letter in "ABCD"),
                ["1", "2", "3", "4"].index(str(row["correct_answer_num"])))


TASK = Task("belebele", tuple(CONFIGS), "facebook/belebele", "test",
            ("flores_passage", "question", "mc_answer1", "mc_answer2", "mc_answer3", "mc_answer4",
             "correct_answer_num"), to_item, hub_config=CONFIGS.__getitem__,
            example=("sw", {"flores_passage": "Mto Nile ni mrefu.", "question": "Nini ni mrefu?", "mc_answer1": "Mto",
                            "mc_answer2": "Mlima", "mc_answer3": "Ziwa", "mc_answer4": "Bahari",
                            "correct_answer_num": "1"}))
