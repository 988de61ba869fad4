"""dolly-oasst-lima-hub built end to end offline from stand-ins of Dolly 15k, oasst1 (message trees) and LIMA
served through the real hub path (tests/hub_stand_ins.py)."""

from __future__ import annotations

import json

import pytest

from core.errors import DataError
from tests.hub_stand_ins import build_from_hub

# ------------------------------------------- Dolly 15k + OpenAssistant oasst1 + LIMA, mixed with temperature sampling

DOLLY = [
    {"instruction": "When did Virgin Australia start operating?",
     "context": "Virgin Australia, the trading name of Virgin Australia Airlines Pty Ltd, is an Australian-based "
                "airline. It commenced services on 31 August 2000 as Virgin Blue, with two aircraft on a single "
                "route.",
     "response": "Virgin Australia commenced services on 31 August 2000 as Virgin Blue, with two aircraft on a single "
                 "route.",
     "category": "closed_qa"},
    {"instruction": "Why can camels survive for long without water?", "context": "",
     "response": "Camels store fat in their humps and their bodies lose very little water, so they can go for long "
                 "periods without drinking.",
     "category": "open_qa"},
    {"instruction": "Which is a species of fish? Tope or Rope", "context": "",
     "response": "Tope is a species of fish, while a rope is a thick cord made of twisted fibres.",
     "category": "classification"},
    {"instruction": "Give me some ideas for a rainy weekend at home.", "context": "",
     "response": "You could bake bread, read a long novel, play board games with friends or finally sort out your "
                 "old photographs.",
     "category": "brainstorming"},
]

LIMA = [
    {"conversations": ["How do I remove a stripped screw?",
                       "Press a wide rubber band between the screwdriver and the screw head; the rubber fills the "
                       "stripped slots and gives the driver enough grip to turn it out."],
     "source": "stackexchange"},
    {"conversations": ["Write a short poem about autumn leaves.",
                       "The maple lets its red leaves go, they drift across the quiet road and settle softly in "
                       "the rain.",
                       "Now write one about the first snow of winter.",
                       "The first snow falls without a sound, it covers every roof and street, and the whole town "
                       "is holding its breath."],
     "source": "multi_turn"},
    {"conversations": ["What are the benefits of drinking enough water?",
                       "Water keeps your body temperature stable, helps the kidneys remove waste and keeps your "
                       "joints and skin healthy."],
     "source": "wikihow"},
]


def _msg(tree: str, mid: str, parent: str | None, role: str, text: str, lang: str, rank: float | None = None,
         deleted: bool = False) -> dict:
    """One oasst1 row (the published columns; emojis, labels and detoxify left out)."""
    return {"message_id": mid, "parent_id": parent, "user_id": f"user-{mid}", "created_date": "2023-02-05T14:23:50Z",
            "text": text, "role": role, "lang": lang, "review_count": 3, "review_result": True, "deleted": deleted,
            "rank": rank, "synthetic": False, "model_name": None, "message_tree_id": tree,
            "tree_state": "ready_for_export"}


def _tree(tree: str, lang: str, *messages: tuple) -> list[dict]:
    return [_msg(tree, mid, parent, role, text, lang, *rest) for mid, parent, role, text, *rest in messages]


GUITAR_BEST = "Start with a few open chords, practise for fifteen minutes every day and learn simple songs you enjoy."
SONG_BEST = "Most adults can play a simple song with three chords after a few weeks of daily practice."
OASST = [
    # The best-ranked reply comes after worse ones, and a deleted reply holds rank 0: neither the row order nor
    # a deleted message may decide the thread.
    *_tree("t-guitar", "en",
           ("t-guitar", None, "prompter", "What is a good way to learn the guitar as an adult?"),
           ("g-a-worse", "t-guitar", "assistant", "Just buy an expensive guitar and the motivation will come by "
                                                  "itself.", 2.0),
           ("g-a-deleted", "t-guitar", "assistant", "Cheap guitar lessons for everybody at my website, click "
                                                    "here now.", 0.0, True),
           ("g-a-best", "t-guitar", "assistant", GUITAR_BEST, 1.0),
           ("g-p-second", "g-a-best", "prompter", "Which songs should I start with?", 1.0),
           ("g-p-best", "g-a-best", "prompter", "How long until I can play a whole song?", 0.0),
           ("g-a2-worse", "g-p-best", "assistant", "It takes years before anybody can play a complete song "
                                                   "properly.", 1.0),
           ("g-a2-best", "g-p-best", "assistant", SONG_BEST, 0.0)),
    # The last question was never answered: the thread ends at the answer before it.
    *_tree("t-book", "en",
           ("t-book", None, "prompter", "Can you recommend a book about the history of science?"),
           ("b-a", "t-book", "assistant", "A Short History of Nearly Everything by Bill Bryson is a friendly and "
                                          "funny introduction to the history of science.", 0.0),
           ("b-p", "b-a", "prompter", "Thanks! Is there an audiobook version?", 0.0)),
    *_tree("t-pron", "es",
           ("t-pron", None, "prompter", "¿Cómo puedo mejorar mi pronunciación en inglés?"),
           ("p-a-worse", "t-pron", "assistant", "Escucha mucha música en inglés y repite las letras en voz alta "
                                                "cuando puedas.", 1.0),
           ("p-a-best", "t-pron", "assistant", "Escucha a hablantes nativos cada día, grábate leyendo en voz alta y "
                                               "compara tu pronunciación con la original.", 0.0)),
    *_tree("t-plants", "es",
           ("t-plants", None, "prompter", "¿Qué plantas son fáciles de cuidar en casa?"),
           ("pl-a", "t-plants", "assistant", "El potus, la sansevieria y los cactus necesitan poca agua y crecen "
                                             "bien con poca luz.", 0.0)),
    *_tree("t-job", "de",
           ("t-job", None, "prompter", "Wie bereite ich mich am besten auf ein Vorstellungsgespräch vor?"),
           ("j-a", "t-job", "assistant", "Informiere dich gründlich über das Unternehmen, übe typische Fragen laut "
                                         "und überlege dir eigene Fragen an die Firma.", 0.0)),
    # Catalan is not in the language table but is an ISO language: kept, as its own language.
    *_tree("t-bcn", "ca",
           ("t-bcn", None, "prompter", "Quina és la millor època per visitar Barcelona?"),
           ("c-a", "t-bcn", "assistant", "La primavera i la tardor són les millors èpoques, perquè fa bon temps i "
                                         "hi ha menys turistes que a l'estiu.", 0.0)),
    # A language tag no table can name: one bad row, under the recipe's 5% (of the 22 messages read).
    *_tree("t-und", "und",
           ("t-und", None, "prompter", "Mi lingvo estas nekonata al la tabelo, ĉu ne?"),
           ("u-a", "t-und", "assistant", "Jes, tial ĉi tiu arbo estas raportita kaj ne uzata.", 0.0)),
]
UND_ROOT = next(i for i, m in enumerate(OASST) if m["message_id"] == "t-und")

DOL_TABLES = {("databricks/databricks-dolly-15k", None, "train"): DOLLY,
              ("OpenAssistant/oasst1", None, "train"): OASST,
              ("GAIR/lima", None, "train"): LIMA}
SIZE, TEMPERATURE = 40, 3  # the recipe's temperature; a small size


@pytest.fixture(scope="module")
def dol(tmp_path_factory):
    overrides = [f"mixture.size={SIZE}", "stats.tokenizer=null"]
    return build_from_hub(tmp_path_factory, "dolly-oasst-lima-hub", DOL_TABLES, overrides)


def _first(rows, source: str, row_id: str):
    return next(r for r in rows if r.source == source and r.id == row_id and "repeat" not in r.meta)


def test_dolly_oasst_lima_loads_the_three_hub_datasets(dol):
    result, calls, _ = dol
    assert sorted(calls) == sorted((*key, None) for key in DOL_TABLES)
    origin = {i["source"]: (i["hub"], i["config"], i["split"], i["revision"]) for i in result.card["inputs"]}
    assert origin == {"dolly": ("databricks/databricks-dolly-15k", None, "train", None),
                      "oasst": ("OpenAssistant/oasst1", None, "train", None),
                      "lima": ("GAIR/lima", None, "train", None)}
    assert all(i["fingerprint"] for i in result.card["inputs"])


def test_oasst_takes_the_best_ranked_thread(dol):
    rows = dol[0].rows
    guitar = _first(rows, "oasst", "t-guitar")
    assert guitar.lang == "en" and guitar.meta["where"] == "OpenAssistant/oasst1[train] row 0"
    assert guitar.messages == [
        {"role": "user", "content": "What is a good way to learn the guitar as an adult?"},
        {"role": "assistant", "content": GUITAR_BEST},
        {"role": "user", "content": "How long until I can play a whole song?"},
        {"role": "assistant", "content": SONG_BEST}]
    assert [m["role"] for m in _first(rows, "oasst", "t-book").messages] == ["user", "assistant"]
    pron = _first(rows, "oasst", "t-pron")
    assert pron.lang == "es" and pron.messages[1]["content"].startswith("Escucha a hablantes nativos")
    assert _first(rows, "oasst", "t-bcn").lang == "ca"  # the tree's `lang`, not a declared one


def test_oasst_tree_in_an_unknown_language_is_reported_not_fatal(dol, tmp_path_factory):
    result, _, logs = dol
    # `read` counts oasst1 messages, not threads: the recipe's 5% is a share of messages.
    assert result.card["bad_rows"]["oasst"] == {"read": len(OASST), "bad": 1, "reasons": {"unknown language 'und'": 1}}
    assert result.card["bad_rows"]["dolly"]["bad"] == result.card["bad_rows"]["lima"]["bad"] == 0
    bad = [json.loads(line) for line in (result.out / "bad_rows.jsonl").read_text(encoding="utf-8").splitlines()]
    assert bad == [{"source": "oasst", "where": f"OpenAssistant/oasst1[train] row {UND_ROOT}",
                    "reason": "unknown language 'und'"}]
    assert any("1 malformed input row(s) skipped" in line for line in logs)
    assert not any(r.id == "t-und" for r in result.rows)
    # The same row over a stricter threshold stops the build: the ledger really counted it.
    with pytest.raises(DataError, match=r"Source 'oasst': 1 of 22 rows are malformed[\s\S]*unknown language 'und'"):
        build_from_hub(tmp_path_factory, "dolly-oasst-lima-hub", DOL_TABLES,
                       ["max_bad_fraction=0.0", "stats.tokenizer=null"])


def test_dolly_context_goes_into_the_user_turn(dol):
    rows = dol[0].rows
    with_context, without = _first(rows, "dolly", "dolly-0"), _first(rows, "dolly", "dolly-1")
    assert with_context.messages == [
        {"role": "user", "content": DOLLY[0]["instruction"] + "\n\n" + DOLLY[0]["context"]},
        {"role": "assistant", "content": DOLLY[0]["response"]}]
    assert with_context.meta["category"] == "closed_qa" and with_context.lang == "en"
    assert without.messages[0]["content"] == DOLLY[1]["instruction"]  # an empty context adds nothing


def test_lima_conversations_alternate_user_and_assistant(dol):
    multi = _first(dol[0].rows, "lima", "lima-1")
    assert [m["role"] for m in multi.messages] == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in multi.messages] == LIMA[1]["conversations"]
    assert multi.meta["origin"] == "multi_turn"


def test_temperature_sampling_upsamples_the_small_languages(dol):
    result = dol[0]
    pool = result.card["pool"]
    # Every stand-in passed the LID filter; oasst1 alone brings es, de and ca.
    assert pool == {"ca": 1, "de": 1, "en": len(DOLLY) + len(LIMA) + 2, "es": 2}
    assert result.card["rows"] == len(result.rows) == SIZE
    mixed = {lang: sum(r.lang == lang for r in result.rows) for lang in pool}
    raw = {lang: n / sum(pool.values()) for lang, n in pool.items()}
    tempered = {lang: n ** (1 / TEMPERATURE) for lang, n in pool.items()}
    for lang, n in mixed.items():
        assert n / SIZE == pytest.approx(tempered[lang] / sum(tempered.values()), abs=1 / SIZE)
        assert (n / SIZE < raw[lang]) if lang == "en" else (n / SIZE > raw[lang])
    # German has one thread: its quota is that thread repeated, each copy marked.
    de = [r for r in result.rows if r.lang == "de"]
    assert {r.id for r in de} == {"t-job"}
    assert sorted(r.meta.get("repeat", 0) for r in de) == list(range(mixed["de"]))
