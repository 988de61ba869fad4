"""bactrian-x-hub built end to end offline from stand-ins of MBZUAI/Bactrian-X (one config per language, ids
shared across languages) served through the real hub path (tests/hub_stand_ins.py)."""

from __future__ import annotations

import json

import pytest

from tests.hub_stand_ins import build_from_hub, user_turn

LANGS = ["en", "de", "fr", "it", "es"]


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
    return build_from_hub(tmp_path_factory, "bactrian-x-hub", BX_TABLES, ["mixture.size=4", "stats.tokenizer=null"])


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
        assert r.messages == [{"role": "user", "content": user_turn(instruction, extra)},
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
