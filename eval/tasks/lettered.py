"""Multiple choice answered by generating a letter (X-CSQA, CrossAlpaca's MMLU): the prompt that lists the
options as "A. ...", and reading the chosen letter back out of a free-form answer."""

from __future__ import annotations

import re

from eval.tasks.base import Item

INSTRUCTION = "Answer the multiple-choice question with the letter of the correct option."
LETTERS = "ABCDEFGHIJ"


def lettered_item(id: str, question: str, options: list[str], answer: str) -> Item:
    """The question and its options as raw text ending in "Answer:" and as a chat request; gold is the letter."""
    listed = "\n".join(f"{LETTERS[i]}. {option.strip()}" for i, option in enumerate(options))
    body = f"Question: {question.strip()}\n{listed}"
    prompt = {"raw": f"{body}\nAnswer:", "chat": [{"role": "user", "content": f"{INSTRUCTION}\n\n{body}"}]}
    return Item(id, prompt=prompt, golds=(answer.strip().upper(),))


def extract_letter(output: str, n: int) -> str:
    """The option letter an answer chose, or "" when it names none. A letter on its own at the start wins,
    then a marked one ("(B)", "B.", "answer is B"); a bare capital comes last, since "A" is also an article."""
    letters = LETTERS[:n]
    text = output.strip()
    patterns = (rf"^\(?([{letters}])(?:[.):\n]|$)", rf"\(([{letters}])\)", rf"\b([{letters}])[.):](?:\s|$)",
                rf"(?i:answer is|answer:)\s*\(?([{letters}])\b")
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return match.group(1)
    for match in re.finditer(rf"\b([{letters}])\b", text):
        # "A" and "E" before a lowercase word are words (English "A good...", Italian "E poi..."), not options
        if match.group(1) in "AE" and re.match(r"\s+[^\W\d_A-Z]", text[match.end():]):
            continue
        return match.group(1)
    return ""


def letter_scorer(n: int):
    """A task's `score` for questions with `n` options: the letter read from the answer, and whether it is right."""

    def score(output: str, item: Item, lang: str) -> dict:
        answer = extract_letter(output, n)
        return {"answer": answer, "em": float(answer == item.golds[0])}

    return score
