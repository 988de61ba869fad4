"""The two hub-only recipes (bactrian-x-hub, dolly-oasst-lima-hub) built end to end, offline: `datasets.load_dataset`
is replaced by small stand-ins in each dataset's published schema, so the rows travel the real hub path
(core.readers.read_hub) and a wrong dataset name, config or split in a recipe fails here."""

from __future__ import annotations

import json

import pytest

from core.errors import DataError
from tests.conftest import ROOT
from trainer.data.build import build
from trainer.data.recipe import load_recipe

RECIPES = ROOT / "configs" / "recipes"
LANGS = ["en", "de", "fr", "it", "es"]


def _fake_hub(mp: pytest.MonkeyPatch, tables: dict[tuple, list[dict]]) -> list[tuple]:
    """Serve `tables[(dataset, config, split)]` as a `datasets.Dataset`; anything else fails as the hub would."""
    import datasets

    calls = []

    def load_dataset(path, name=None, split=None, revision=None, **kwargs):
        calls.append((path, name, split, revision))
        if (path, name, split) not in tables or revision is not None or kwargs:
            raise FileNotFoundError(f"no stand-in for {path!r} config={name!r} split={split!r} revision={revision!r}")
        return datasets.Dataset.from_list(tables[(path, name, split)])

    mp.setattr(datasets, "load_dataset", load_dataset)
    return calls


def _build(tmp_path_factory, recipe: str, tables: dict, overrides: list[str]):
    with pytest.MonkeyPatch.context() as mp:
        calls = _fake_hub(mp, tables)
        out, logs = tmp_path_factory.mktemp(recipe), []
        path = RECIPES / f"{recipe}.yaml"
        result = build(load_recipe(path, overrides), out, tmp_path_factory.mktemp("no-local-files"), str(path),
                       log=logs.append)
    return result, calls, logs


def _user(instruction: str, extra: str) -> str:
    return f"{instruction}\n\n{extra}" if extra else instruction


# ---------------------------------------------------------------- Bactrian-X: MBZUAI/Bactrian-X, config per language

# id -> language -> (instruction, input, output). Bactrian-X rows with the same id are translations.
BX = {
    "alpaca-11": {
        "en": ("Give three tips for staying healthy.", "",
               "Eat a balanced diet with plenty of vegetables, exercise regularly and get enough sleep every night."),
        "de": ("Gib drei Tipps, um gesund zu bleiben.", "",
               "Iss ausgewogen mit viel Gemüse, bewege dich regelmäßig und schlafe jede Nacht ausreichend."),
        "fr": ("Donne trois conseils pour rester en bonne santé.", "",
               "Mange de façon équilibrée avec beaucoup de légumes, fais du sport régulièrement et dors "
               "suffisamment chaque nuit."),
        "it": ("Dai tre consigli per restare in salute.", "",
               "Segui una dieta equilibrata con molte verdure, fai attività fisica con regolarità e dormi "
               "abbastanza ogni notte."),
        "es": ("Da tres consejos para mantenerse sano.", "",
               "Lleva una dieta equilibrada con muchas verduras, haz ejercicio con regularidad y duerme lo "
               "suficiente cada noche."),
    },
    "alpaca-27": {
        "en": ("Summarize the text in one sentence.",
               "The museum opened a new wing last spring. It shows paintings from local artists and is free on "
               "Sundays.",
               "The museum's new wing shows paintings by local artists and can be visited for free on Sundays."),
        "de": ("Fasse den Text in einem Satz zusammen.",
               "Das Museum hat im letzten Frühling einen neuen Flügel eröffnet. Er zeigt Bilder von Künstlern aus "
               "der Region und ist sonntags kostenlos.",
               "Der neue Flügel des Museums zeigt Bilder von Künstlern aus der Region und ist sonntags kostenlos "
               "zu besuchen."),
        "fr": ("Résume le texte en une phrase.",
               "Le musée a ouvert une nouvelle aile au printemps dernier. Elle présente des tableaux d'artistes de "
               "la région et elle est gratuite le dimanche.",
               "La nouvelle aile du musée présente des tableaux d'artistes de la région et se visite gratuitement "
               "le dimanche."),
        "it": ("Riassumi il testo in una frase.",
               "Il museo ha aperto una nuova ala la scorsa primavera. Espone dipinti di artisti locali ed è "
               "gratuita la domenica.",
               "La nuova ala del museo espone dipinti di artisti locali e si può visitare gratis la domenica."),
        "es": ("Resume el texto en una frase.",
               "El museo abrió un ala nueva la primavera pasada. Muestra cuadros de artistas locales y es gratuita "
               "los domingos.",
               "La nueva ala del museo muestra cuadros de artistas locales y se puede visitar gratis los domingos."),
    },
    "alpaca-103": {
        "en": ("Explain why the sky is blue.", "",
               "Sunlight is scattered by the molecules of the air, and blue light is scattered much more strongly "
               "than red light."),
        "de": ("Erkläre, warum der Himmel blau ist.", "",
               "Das Sonnenlicht wird von den Molekülen der Luft gestreut, und blaues Licht wird viel stärker "
               "gestreut als rotes Licht."),
        "fr": ("Explique pourquoi le ciel est bleu.", "",
               "La lumière du soleil est diffusée par les molécules de l'air, et la lumière bleue est beaucoup plus "
               "diffusée que la lumière rouge."),
        "it": ("Spiega perché il cielo è blu.", "",
               "La luce del sole viene diffusa dalle molecole dell'aria, e la luce blu viene diffusa molto più "
               "della luce rossa."),
        "es": ("Explica por qué el cielo es azul.", "",
               "La luz del sol se dispersa en las moléculas del aire, y la luz azul se dispersa mucho más que la "
               "luz roja."),
    },
    "dolly-42": {
        "en": ("What is the capital of Italy?", "",
               "The capital of Italy is Rome, a city with a history of almost three thousand years."),
        "de": ("Was ist die Hauptstadt von Italien?", "",
               "Die Hauptstadt von Italien ist Rom, eine Stadt mit einer Geschichte von fast dreitausend Jahren."),
        "fr": ("Quelle est la capitale de l'Italie ?", "",
               "La capitale de l'Italie est Rome, une ville qui a une histoire de presque trois mille ans."),
        "it": ("Qual è la capitale dell'Italia?", "",
               "La capitale dell'Italia è Roma, una città con una storia di quasi tremila anni."),
        "es": ("¿Cuál es la capital de Italia?", "",
               "La capital de Italia es Roma, una ciudad con una historia de casi tres mil años."),
    },
    # The teacher answered the German instruction in English: the LID filter drops that row, so the id is no
    # longer in all five languages and must leave the parallel mix.
    "dolly-77": {
        "en": ("Name two animals that live in the Arctic.", "",
               "Polar bears and arctic foxes both live in the Arctic and are well adapted to the cold."),
        "de": ("Nenne zwei Tiere, die in der Arktis leben.", "",
               "Polar bears and arctic foxes both live in the Arctic and are well adapted to the cold."),
        "fr": ("Cite deux animaux qui vivent dans l'Arctique.", "",
               "Les ours polaires et les renards arctiques vivent dans l'Arctique et sont bien adaptés au froid."),
        "it": ("Nomina due animali che vivono nell'Artico.", "",
               "Gli orsi polari e le volpi artiche vivono nell'Artico e sono ben adattati al freddo."),
        "es": ("Nombra dos animales que viven en el Ártico.", "",
               "Los osos polares y los zorros árticos viven en el Ártico y están bien adaptados al frío."),
    },
    # Missing from the Italian config (the published data dropped instances without output per language).
    "alpaca-500": {
        "en": ("Write a short slogan for a bakery.", "",
               "Fresh bread every morning, baked with love in the heart of our little town."),
        "de": ("Schreibe einen kurzen Slogan für eine Bäckerei.", "",
               "Jeden Morgen frisches Brot, mit Liebe gebacken im Herzen unserer kleinen Stadt."),
        "fr": ("Écris un court slogan pour une boulangerie.", "",
               "Du pain frais chaque matin, cuit avec amour au cœur de notre petite ville."),
        "es": ("Escribe un eslogan corto para una panadería.", "",
               "Pan fresco cada mañana, horneado con cariño en el corazón de nuestro pequeño pueblo."),
    },
}
BX_SHARED = {"alpaca-11", "alpaca-27", "alpaca-103", "dolly-42"}


def _bx_config(lang: str) -> list[dict]:
    rows = [{"instruction": t[0], "input": t[1], "id": i, "output": t[2]} for i, by in BX.items()
            if (t := by.get(lang))]
    # French in another row order: pairing must go by the `id` column, not by position.
    return rows[::-1] if lang == "fr" else rows


BX_TABLES = {("MBZUAI/Bactrian-X", lang, "train"): _bx_config(lang) for lang in LANGS}


@pytest.fixture(scope="module")
def bactrian(tmp_path_factory):
    return _build(tmp_path_factory, "bactrian-x-hub", BX_TABLES, ["mixture.size=4", "stats.tokenizer=null"])


def test_bactrian_x_loads_one_hub_config_per_language(bactrian):
    result, calls, _ = bactrian
    assert sorted(calls) == sorted(("MBZUAI/Bactrian-X", lang, "train", None) for lang in LANGS)
    inputs = {i["source"]: i for i in result.card["inputs"]}
    assert set(inputs) == {f"bx/{lang}" for lang in LANGS}
    for lang in LANGS:
        i = inputs[f"bx/{lang}"]
        assert (i["format"], i["lang"], i["hub"], i["config"], i["split"], i["revision"]) == \
            ("bactrian-x", lang, "MBZUAI/Bactrian-X", lang, "train", None)
        assert isinstance(i["fingerprint"], str) and i["fingerprint"]
        assert "path" not in i and "sha256" not in i  # nothing local was read
    assert result.card["bad_rows"] == {f"bx/{lang}": {"read": len(BX_TABLES["MBZUAI/Bactrian-X", lang, "train"]),
                                                      "bad": 0, "reasons": {}} for lang in LANGS}


def test_bactrian_x_parallel_mix_pairs_translations_by_id(bactrian):
    result, _, _ = bactrian
    rows = result.rows
    assert len(rows) == 4 * len(LANGS) == result.card["rows"]
    # Only ids present (and LID-clean) in all five languages; size 4 takes every one of them.
    assert {lang: {r.id for r in rows if r.lang == lang} for lang in LANGS} == {lang: BX_SHARED for lang in LANGS}
    for r in rows:
        instruction, extra, output = BX[r.id][r.lang]
        # The row's language is the config it came from, and its text is that config's row for its id.
        assert r.source == f"bx/{r.lang}"
        assert r.meta["where"].startswith(f"MBZUAI/Bactrian-X/{r.lang}[train] row ")
        assert r.messages == [{"role": "user", "content": _user(instruction, extra)},
                              {"role": "assistant", "content": output}]


def test_bactrian_x_lid_filter_drops_the_english_answer_in_german(bactrian):
    result, _, _ = bactrian
    lid = result.card["lid_filter"]
    assert (lid["de"]["rows"], lid["de"]["failed"], lid["de"]["found"]) == (6, 1, {"en": 1})
    assert all(lid[lang]["failed"] == 0 for lang in LANGS if lang != "de")
    # The pool keeps the one-sided ids; only the parallel mixture leaves them out.
    assert result.card["pool"] == {"de": 5, "en": 6, "es": 6, "fr": 6, "it": 5}


def test_bactrian_x_writes_mix_and_card(bactrian):
    result, _, _ = bactrian
    written = [json.loads(line) for line in (result.out / "mix.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["lang"]) for r in written] == [(r.id, r.lang) for r in result.rows]
    card = json.loads((result.out / "card.json").read_text(encoding="utf-8"))
    assert card["recipe"]["sources"]["bx"]["hub"] == "MBZUAI/Bactrian-X"
    assert {i["config"] for i in card["inputs"]} == set(LANGS)
    assert (result.out / "bad_rows.jsonl").read_text() == ""


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
    return _build(tmp_path_factory, "dolly-oasst-lima-hub", DOL_TABLES, overrides)


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
        _build(tmp_path_factory, "dolly-oasst-lima-hub", DOL_TABLES, ["max_bad_fraction=0.0", "stats.tokenizer=null"])


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
