"""Belebele (facebook/belebele), as lm-eval's belebele_<flores code>: passage, question, four options,
scored on the answer letter."""

from __future__ import annotations

from eval.tasks.base import Item, Task

# Our code -> FLORES code, for the languages the packaged models and the seeds cover.
CONFIGS = {"en": "eng_Latn", "de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn", "it": "ita_Latn",
           "pt": "por_Latn", "ru": "rus_Cyrl", "zh": "zho_Hans", "ja": "jpn_Jpan", "ko": "kor_Hang",
           "ar": "arb_Arab", "hi": "hin_Deva", "sw": "swh_Latn", "id": "ind_Latn", "vi": "vie_Latn",
           "th": "tha_Thai", "tr": "tur_Latn", "bn": "ben_Beng", "ur": "urd_Arab", "ta": "tam_Taml",
           "te": "tel_Telu", "fi": "fin_Latn", "et": "est_Latn", "cs": "ces_Latn", "pl": "pol_Latn",
           "nl": "nld_Latn", "el": "ell_Grek", "bg": "bul_Cyrl", "uk": "ukr_Cyrl", "he": "heb_Hebr"}


def to_item(row: dict, lang: str, id: str) -> Item:
    ctx = (f"P: {row['flores_passage']}\nQ: {row['question'].strip()}\nA: {row['mc_answer1']}\n"
           f"B: {row['mc_answer2']}\nC: {row['mc_answer3']}\nD: {row['mc_answer4']}\nAnswer:")
    return Item(id, tuple((ctx, " " + letter) for letter in "ABCD"),
                ["1", "2", "3", "4"].index(str(row["correct_answer_num"])))


TASK = Task("belebele", tuple(CONFIGS), "facebook/belebele", "test",
            ("flores_passage", "question", "mc_answer1", "mc_answer2", "mc_answer3", "mc_answer4",
             "correct_answer_num"), to_item, hub_config=CONFIGS.__getitem__)
