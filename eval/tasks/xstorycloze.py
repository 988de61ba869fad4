"""XStoryCloze (juletxara/xstory_cloze), as lm-eval's xstorycloze_<lang>: four sentences, then each ending."""

from __future__ import annotations

from eval.tasks.base import Item, Task


def to_item(row: dict, lang: str, id: str) -> Item:
    ctx = " ".join(row[f"input_sentence_{i}"] for i in range(1, 5))
    return Item(id, ((ctx, " " + row["sentence_quiz1"]), (ctx, " " + row["sentence_quiz2"])),
                int(row["answer_right_ending"]) - 1)


TASK = Task("xstorycloze", ("ar", "en", "es", "eu", "hi", "id", "my", "ru", "sw", "te", "zh"),
            "juletxara/xstory_cloze", "eval",
            ("input_sentence_1", "input_sentence_2", "input_sentence_3", "input_sentence_4", "sentence_quiz1",
             "sentence_quiz2", "answer_right_ending"), to_item, id_field="story_id",
            example=("en", {"story_id": "s1", **{f"input_sentence_{i}": f"Sentence {i}." for i in range(1, 5)},
                            "sentence_quiz1": "It rained.", "sentence_quiz2": "It snowed.", "answer_right_ending": 1}))
