"""Blind pairwise human votes (the MT-Bench-X human study): a SQLite store (WAL, one commit per vote) of
answer pairs and votes, sides randomized per annotator and turn, and the statistics: agreement between
humans, Fleiss' kappa across annotators, and human-judge agreement per category.

A vote is stored from model A's side: "a" (A better), "b", "tie" or "both_bad"."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

from core.errors import ConfigError
from eval.judge_stats import fleiss_kappa
from eval.results import read_card, read_items

CHOICES = ("left", "right", "tie", "both_bad")
SCHEMA = """
CREATE TABLE IF NOT EXISTS items (item TEXT PRIMARY KEY, lang TEXT, qid TEXT, category TEXT, turn INTEGER,
    questions TEXT, answer_a TEXT, answer_b TEXT, model_a TEXT, model_b TEXT);
CREATE TABLE IF NOT EXISTS votes (annotator TEXT, item TEXT, vote TEXT, left_is TEXT, created REAL,
    PRIMARY KEY (annotator, item));
"""


def item_key(model_a: str, model_b: str, prompt_set: str, lang: str, qid: str, turn: int) -> str:
    """An item: one turn of one question, answered by one pair of models (another pair is another item). The
    pair is a hash, so the item names no model (the vote is blind)."""
    pair = hashlib.sha256(f"{model_a}\0{model_b}".encode()).hexdigest()[:10]
    return f"{pair}|{prompt_set}/{lang}/{qid}/{turn}"


def _left_is(annotator: str, item: str) -> str:
    """Which model an annotator sees on the left for an item: random-looking, but the same on every reload."""
    return "a" if hashlib.sha256(f"{annotator}\0{item}".encode()).digest()[0] % 2 == 0 else "b"


class VoteStore:
    """Answer pairs to vote on, and the votes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")  # many app sessions vote at once: wait, do not fail
        self._db.executescript(SCHEMA)

    def add_pairs(self, answers_a: Path, answers_b: Path, turns: int = 2) -> int:
        """Every (question, turn) both `generate` runs answered becomes an item; returns how many are new."""
        import json

        card_a, card_b = read_card(answers_a), read_card(answers_b)
        if not card_a or not card_b or card_a.get("set") != card_b.get("set"):
            raise ConfigError(f"{answers_a} and {answers_b} must be `python -m eval generate` runs of one set.")
        b = {(r["lang"], r["id"]): r for r in read_items(answers_b)}
        before = self.count()
        for rec in read_items(answers_a):
            other = b.get((rec["lang"], rec["id"]))
            if other is None:
                continue
            for turn in range(1, min(turns, len(rec["answers"]), len(other["answers"])) + 1):
                item = item_key(card_a["model"], card_b["model"], card_a["set"], rec["lang"], rec["id"], turn)
                self._db.execute("INSERT OR IGNORE INTO items VALUES (?,?,?,?,?,?,?,?,?,?)",
                                 (item, rec["lang"], rec["id"], rec.get("category", ""), turn,
                                  json.dumps(rec["turns"][:turn], ensure_ascii=False), rec["answers"][turn - 1],
                                  other["answers"][turn - 1], card_a["model"], card_b["model"]))
        return self.count() - before

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def next_item(self, annotator: str, lang: str | None = None) -> dict | None:
        """The next item `annotator` has not voted on, blind: questions and a left/right answer, no names."""
        row = self._db.execute(
            "SELECT item FROM items WHERE item NOT IN (SELECT item FROM votes WHERE annotator = ?)"
            " AND (? IS NULL OR lang = ?) ORDER BY item LIMIT 1", (annotator, lang, lang)).fetchone()
        return None if row is None else self.blind_item(annotator, row[0])

    def blind_item(self, annotator: str, item: str) -> dict:
        """Item `item` as `annotator` sees it: the questions and a left/right answer, no model names."""
        import json

        row = self._db.execute("SELECT lang, category, turn, questions, answer_a, answer_b FROM items WHERE item = ?",
                               (item,)).fetchone()
        if row is None:
            raise ConfigError(f"No item {item!r} in {self.path}.")
        lang, category, turn, questions, answer_a, answer_b = row
        left, right = (answer_a, answer_b) if _left_is(annotator, item) == "a" else (answer_b, answer_a)
        return {"item": item, "lang": lang, "category": category, "turn": turn, "questions": json.loads(questions),
                "left": left, "right": right}

    def vote(self, annotator: str, item: str, choice: str) -> str:
        """Record `choice` (left, right, tie, both_bad) as seen by `annotator`; returns it from A's side."""
        if choice not in CHOICES:
            raise ConfigError(f"A vote is one of {', '.join(CHOICES)}, not {choice!r}.")
        if not annotator.strip():
            raise ConfigError("A vote needs the annotator's name.")
        if self._db.execute("SELECT 1 FROM items WHERE item = ?", (item,)).fetchone() is None:
            raise ConfigError(f"No item {item!r} in {self.path}.")
        left_is = _left_is(annotator, item)
        vote = {"tie": "tie", "both_bad": "both_bad"}.get(choice) or (
            left_is if choice == "left" else ("b" if left_is == "a" else "a"))
        self._db.execute("INSERT OR REPLACE INTO votes VALUES (?,?,?,?,?)",
                         (annotator, item, vote, left_is, time.time()))
        return vote

    def votes(self) -> dict[str, dict[str, str]]:
        """item -> {annotator: vote}."""
        out: dict = defaultdict(dict)
        for annotator, item, vote in self._db.execute("SELECT annotator, item, vote FROM votes"):
            out[item][annotator] = vote
        return dict(out)

    def categories(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT item, category FROM items"))

    def close(self) -> None:
        self._db.close()


def human_agreement(votes: dict[str, dict[str, str]]) -> dict:
    """Between annotators: the share of shared items on which two annotators voted the same (over every pair
    of annotators), and Fleiss' kappa over the items with the most common number of votes."""
    same = total = 0
    for by in votes.values():
        for x, y in combinations(sorted(by), 2):
            total += 1
            same += by[x] == by[y]
    counts = Counter(len(by) for by in votes.values() if len(by) >= 2)
    kappa, items = None, 0
    if counts:
        k = counts.most_common(1)[0][0]
        rows = [list(by.values()) for by in votes.values() if len(by) == k]
        items = len(rows)
        kappa = round(fleiss_kappa(rows), 4) if len({v for r in rows for v in r}) > 1 else 1.0
    return {"pairs": total, "agreement": round(same / total, 4) if total else None, "fleiss_kappa": kappa,
            "fleiss_items": items}


def human_judge_agreement(votes: dict[str, dict[str, str]], judge: dict[str, str], categories: dict[str, str]
                          ) -> dict:
    """Per category and overall: how often the judge's outcome for an item ("a", "b", "tie", "both_bad")
    equals the humans' majority vote (items without a strict majority are left out), with and without ties
    (a tie or both-bad on either side)."""
    rows = defaultdict(lambda: [0, 0, 0, 0])  # agree, n, agree without ties, n without ties
    for item, by in votes.items():
        if item not in judge:
            continue
        (top, n), *rest = Counter(by.values()).most_common() + [(None, 0)]
        if rest and rest[0][1] == n:
            continue  # no strict majority
        for key in (categories.get(item, ""), "all"):
            r = rows[key]
            r[0] += judge[item] == top
            r[1] += 1
            if not {"tie", "both_bad"} & {top, judge[item]}:
                r[2] += judge[item] == top
                r[3] += 1
    return {k: {"n": n, "agreement": round(a / n, 4) if n else None, "n_without_ties": n2,
                "agreement_without_ties": round(a2 / n2, 4) if n2 else None} for k, (a, n, a2, n2) in rows.items()}


def judge_outcomes(judge_run: Path) -> dict[str, str]:
    """A pairwise judge run's outcome per item ("a", "b", "tie", "both_bad"; FastChat's rule for the orders)."""
    from eval.judge_protocols import get_protocol, is_pairwise
    from eval.judge_stats import combine

    card = read_card(judge_run)
    if not card or not is_pairwise(card.get("mode")):
        raise ConfigError(f"{judge_run} is not a finished pairwise judge run.")
    sides: dict = defaultdict(dict)
    for r in read_items(judge_run):
        if r["value"] is not None:
            sides[r["lang"], r["id"], r["turn"]][r["side"]] = r
    names = {"win": "a", "loss": "b", "tie": "tie", "both_bad": "both_bad"}
    swapped = {"a": "b", "b": "a", "tie": "tie", "both_bad": "both_bad"}
    outcome, out = get_protocol(card["mode"]).outcome, {}
    for (lang, qid, turn), s in sides.items():
        if "ab" in s and "ba" in s:
            said = names[combine(outcome(s["ab"]["value"], True), outcome(s["ba"]["value"], False))]
            out[item_key(card["a"], card["b"], card["set"], lang, qid, turn)] = said
            # the same pair stored the other way round (B as "a"): the same verdict, from the other side
            out[item_key(card["b"], card["a"], card["set"], lang, qid, turn)] = swapped[said]
    return out


def run_labels(judge_run: Path) -> dict[str, object]:
    """What a judge run said per item: the pairwise outcome, or the rating / Likert score per answer."""
    from eval.judge_protocols import get_protocol

    card = read_card(judge_run)
    if not card or "mode" not in card:
        raise ConfigError(f"{judge_run} is not a judge run (no card.json with a mode).")
    protocol = get_protocol(card["mode"])
    if protocol.pairwise:
        return judge_outcomes(judge_run)
    return {f"{r['lang']}/{r['id']}/{r['turn']}/{r['side']}": protocol.score(r["value"])
            for r in read_items(judge_run) if r["value"] is not None}


def runs_agreement(run_1: Path, run_2: Path) -> dict:
    """Cohen's kappa and raw agreement between two judge runs (two judges, or one judge twice) on the items
    both could read."""
    from eval.judge_stats import cohen_kappa

    one, two = run_labels(run_1), run_labels(run_2)
    shared = sorted(set(one) & set(two))
    if not shared:
        raise ConfigError(f"{run_1} and {run_2} share no judged item: judge the same answers in both.")
    a, b = [str(one[k]) for k in shared], [str(two[k]) for k in shared]
    return {"n": len(shared), "agreement": round(sum(x == y for x, y in zip(a, b)) / len(shared), 4),
            "cohen_kappa": round(cohen_kappa(a, b), 4) if len(set(a) | set(b)) > 1 else 1.0}


def agreement_report(votes_path: Path, judge_run: Path | None = None) -> str:
    """The human-agreement statistics of a vote store (and, with a pairwise judge run, per category) as text."""
    if not Path(votes_path).is_file():
        raise ConfigError(f"{votes_path} not found: votes are stored there by the app's Human eval tab.")
    store = VoteStore(votes_path)
    try:
        votes = store.votes()
        h = human_agreement(votes)
        lines = [f"{sum(len(v) for v in votes.values())} votes on {len(votes)} items; annotator pairs {h['pairs']}, "
                 f"agreement {h['agreement']}, Fleiss' kappa {h['fleiss_kappa']} ({h['fleiss_items']} items)"]
        if judge_run:
            rows = human_judge_agreement(votes, judge_outcomes(judge_run), store.categories())
            lines += [f"{cat:12} n={r['n']:3d}  agreement {r['agreement']}  without ties "
                      f"{r['agreement_without_ties']} (n={r['n_without_ties']})" for cat, r in sorted(rows.items())]
        return "\n".join(lines)
    finally:
        store.close()
