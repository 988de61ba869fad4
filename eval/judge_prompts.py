"""The judge's prompts per language, which the protocols (`eval.judge_protocols`) choose from.

- MT-Bench pairwise and single: FastChat's judge prompts (`judge_prompts.jsonl`), read from --data-dir:
  MT-Bench-X's translations for de/es/fr/it (German's v2 file adds the "[[D]]" both-bad verdict), else for
  another non-English language M2Lingual's multilingual prompts (which also ask the judge to check the
  answer's language), else the English originals. `english=True` uses the English ones everywhere.
- Vicuna / Bactrian-X pairwise scores and the Polyglots helpfulness Likert: our prompts below (English, naming
  the language the user speaks)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError, DataError
from core.readers import Unparsable, read_local

NEED_REFERENCE = ("math", "reasoning", "coding")  # FastChat's categories judged against a reference answer


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    system: str
    template: str  # str.format fields: question(_1/_2), answer_a/answer_b(_1/_2), answer(_1/_2), ref_answer_1/2

    @property
    def verdicts(self) -> str:
        """The verdict letters this prompt offers: A, B, C (tie) and D (both bad) where it asks for "[[D]]"."""
        return "ABCD" if "[[D]]" in self.system + self.template else "ABC"

    def delimiters(self) -> list[tuple[str, str]]:
        """(start, end) lines around each answer in the template, to cut echoed answers out of a reply."""
        lines = self.template.split("\n")
        marker = re.compile(r"^\s*[\[<].*[\]>]\s*$")
        pairs = []
        for i, line in enumerate(lines):
            if re.search(r"\{answer", line):
                before = next((x for x in reversed(lines[:i]) if marker.match(x)), None)
                after = next((x for x in lines[i + 1:] if marker.match(x)), None)
                if before and after and (before, after) not in pairs:
                    pairs.append((before.strip(), after.strip()))
        return pairs

    def messages(self, language: str, **fields) -> list[dict]:
        """The chat messages; `language` (an English name) also fills M2Lingual's {lang} and {lang1}."""
        user = self.template.format(language=language, lang=language, lang1=language, **fields)
        system = self.system.replace("{lang1}", language).replace("{lang}", language)  # no other fields there
        return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


MTBX = {"de": "DE", "en": "EN", "es": "ES", "fr": "FR", "it": "IT"}


def _read_prompts(path: Path) -> dict[str, JudgePrompt]:
    out = {}
    for _, row in read_local(path):
        if isinstance(row, Unparsable):
            continue  # upstream defect: MT-Bench-X's German v2 file has a broken first line
        out[row["name"]] = JudgePrompt(row["name"], row.get("system_prompt", ""), row["prompt_template"])
    return out


def fastchat_prompts(data_dir: Path | None, lang: str, english: bool = False) -> dict[str, JudgePrompt]:
    """FastChat's judge prompts by name (pair-v2, pair-math-v1, single-v1, ... and their -multi-turn)."""
    if data_dir is None:
        raise ConfigError("MT-Bench judging reads FastChat's judge_prompts.jsonl: pass --data-dir (the directory "
                          "holding mt_bench/judge_prompts.jsonl and, for translated prompts, mt_bench_x/).")
    english_file = data_dir / "mt_bench" / "judge_prompts.jsonl"
    folder = data_dir / "mt_bench_x" / f"mt_bench_{MTBX.get(lang, '')}"
    multilingual = data_dir / "mt_bench_multilingual_m2lingual" / "judge_prompts_multilingual.jsonl"
    if not english and lang in MTBX and (folder / "judge_prompts.jsonl").is_file():
        prompts = _read_prompts(folder / "judge_prompts.jsonl")
        if (folder / "judge_prompts_v2.jsonl").is_file():
            prompts |= _read_prompts(folder / "judge_prompts_v2.jsonl")
        return prompts
    if not english and lang != "en" and multilingual.is_file():
        return _read_prompts(multilingual)  # English text that also asks the judge to check the answer's language
    if not english_file.is_file():
        raise DataError(f"{english_file} not found: FastChat's fastchat/llm_judge/data/judge_prompts.jsonl goes "
                        f"there under --data-dir.")
    return _read_prompts(english_file)


def fastchat_name(family: str, category: str, turn: int) -> str:
    """FastChat's choice of prompt in a family ("pairwise" or "single"): the -math variant (with a reference)
    for math/reasoning/coding, the -multi-turn variant for the second turn."""
    math = category in NEED_REFERENCE
    base = {"pairwise": "pair-math-v1" if math else "pair-v2", "single": "single-math-v1" if math else "single-v1"}
    return base[family] + ("-multi-turn" if turn == 2 else "")


PAIR_SCORES = JudgePrompt(
    "pair-scores-v1",
    "You are a helpful and precise assistant for checking the quality of the answer.",
    "[Question]\n{question}\n\n[The Start of Assistant 1's Answer]\n{answer_a}\n[The End of Assistant 1's Answer]"
    "\n\n[The Start of Assistant 2's Answer]\n{answer_b}\n[The End of Assistant 2's Answer]\n\n[System]\n"
    "We would like your feedback on the two AI assistants' answers to the question above. The user speaks only "
    "{language}: an answer the user cannot read is of no help to them. Rate the helpfulness, relevance, accuracy "
    "and level of detail of each answer on a scale of 0 to 10, where a higher score means a better answer. "
    "Give a short explanation, avoiding any bias from the order in which the answers were presented, then end "
    "with the two scores in exactly this form: <score1>N</score1> <score2>N</score2>",
)

LIKERT = JudgePrompt(
    "likert-helpfulness-v1",
    "You are a careful evaluator of AI assistant answers.",
    "[Question]\n{question}\n\n[The Start of the Assistant's Answer]\n{answer}\n[The End of the Assistant's "
    "Answer]\n\n[System]\nRate how helpful the answer is to a user who speaks {language}, on a scale of 1 to 6:\n"
    "1 = not helpful at all (wrong, off-topic, or not in the user's language)\n2 = barely helpful\n"
    "3 = somewhat helpful, with clear problems\n4 = helpful, with minor problems\n5 = very helpful\n"
    "6 = excellent: complete, correct and well written\n"
    'Reply with one JSON object and nothing else: {{"reasoning": "<one or two sentences>", "score": <1-6>}}',
)
