"""Three-way sentiment (positive / neutral / negative), SentimentX-style, scored like lm-eval's multiple choice:
the log-likelihood of each label word after the text and an English question; reported as accuracy and as
weighted and macro F1 over the three classes (sklearn), since the classes are unbalanced.

Two tasks: `sentimentx` (ar ASTD, id SmSA, ru RuSentiTweet, sw AfriSenti: native tweets and reviews) and
`nusax` (NusaX: the same 400 Indonesian reviews human-translated into 11 more languages)."""

from __future__ import annotations

import csv
from pathlib import Path

from core.readers import read_local
from eval.tasks.classification import class_f1, classification

LABELS = ("positive", "neutral", "negative")
QUESTION = "Question: Is the sentiment of this text positive, neutral or negative?\nAnswer:"
# Labels -> ours. RuSentiTweet's speech acts and skipped tweets are not sentiment and are left out. ASTD's
# OBJ (objective: no sentiment) is neutral; its NEUTRAL is the paper's "mixed" (both polarities), which none
# of the three classes fits, so it is left out.
ALIASES = {"positive": "positive", "neutral": "neutral", "negative": "negative"}
ASTD = {"pos": "positive", "neg": "negative", "obj": "neutral"}


def _label(row: dict, lang: str) -> str | None:
    return (ASTD if lang == "ar" else ALIASES).get(str(row["label"]).strip().lower())  # None: not a class


def _context(row: dict, lang: str) -> str:
    text = row["text"] if "text" in row else row.get("tweet")  # AfriSenti calls it "tweet"
    return f"{' '.join(text.split())}\n{QUESTION}"  # tweets carry newlines and runs of spaces


f1_scores = class_f1(len(LABELS))


def _smsa_rows(path: Path):
    """SmSA's TSV has no header: text, then label."""
    with path.open(encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.reader(f, delimiter="\t"), 1):
            yield f"{path.name}:{i}", {"text": row[0], "label": row[1] if len(row) > 1 else None}


def _astd(data_dir: Path):
    """ASTD: the unbalanced test split is a list of 0-based line numbers into Tweets.txt (TEXT<TAB>LABEL)."""
    root = data_dir / "astd_arabic_sentiment"
    split = root / "4class-unbalanced-test.txt"
    path = root / "Tweets.txt"

    def rows():
        wanted = {int(x) for x in split.read_text().split()}
        with path.open(encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i in wanted:
                    text, _, label = line.rstrip("\n").rpartition("\t")
                    yield f"{path.name}:{i + 1}", {"text": text, "label": label, "id": str(i)}

    return path if split.is_file() else split, rows()


def local_x(data_dir: Path, lang: str):
    if lang == "ar":
        return _astd(data_dir)
    path = {"id": data_dir / "indonlu_smsa" / "test_preprocess.tsv", "sw": data_dir / "afrisenti_sw" / "test.tsv",
            "ru": data_dir / "rusentitweet" / "rusentitweet_test.csv"}[lang]
    return path, _smsa_rows(path) if lang == "id" else read_local(path)  # the others have a header row


HUB_X = {"ar": ("arbml/ASTD", None, "test"), "id": ("indonlp/indonlu", "smsa", "test"),
         "ru": ("psytechlab/RuSentiTweet", None, "test"),
         "sw": ("shmuhammad/AfriSenti-twitter-sentiment", "swa", "test")}

# NusaX: our code -> (the repository's folder, the hub config).
NUSAX = {"id": ("indonesian", "ind"), "en": ("english", "eng"), "ace": ("acehnese", "ace"),
         "ban": ("balinese", "ban"), "bjn": ("banjarese", "bjn"), "bug": ("buginese", "bug"),
         "jv": ("javanese", "jav"), "mad": ("madurese", "mad"), "min": ("minangkabau", "min"),
         "nij": ("ngaju", "nij"), "su": ("sundanese", "sun"), "bbc": ("toba_batak", "bbc")}


def local_nusax(data_dir: Path, lang: str):
    path = data_dir / "nusax" / "sentiment" / NUSAX[lang][0] / "test.csv"
    return path, read_local(path)


SENTIMENTX = classification(
    "sentimentx", tuple(HUB_X), LABELS, _context, _label, hub="", split="test", fields=("label",),
    local=local_x, hub_source=HUB_X.__getitem__, class_names=True, id_field="id",
    local_note="ar: ASTD's unbalanced test split, OBJ as neutral, without NEUTRAL (mixed); ru: RuSentiTweet's test "
               "without speech and skip", example=("sw", {"id": "1", "tweet": "Mbaya sana leo", "label": "negative"}))
NUSAX_TASK = classification(
    "nusax", tuple(NUSAX), LABELS, _context, _label, hub="indonlp/NusaX-senti", split="test",
    fields=("text", "label"), hub_config=lambda lang: NUSAX[lang][1], local=local_nusax, class_names=True,
    id_field="id", example=("jv", {"id": "1", "text": "Panganane enak banget", "label": "positive"}))
to_item = NUSAX_TASK.to_item  # (row, lang, id) -> Item; the label mapping depends on the language, not the task
