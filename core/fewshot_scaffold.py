"""Base models (no instruction tuning) run as a few-shot Q/A completion in the prompt's language.

A base model fed a chat template echoes the prompt and loops; continuing `Q: ...\\nA: ...` pairs in the
question's own language makes it answer, and in that language. Instruct models keep their chat messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.engines.spec import parse_spec
from core.languages import detect
from core.models import PACKAGED

STOP = ("\nQ:", "\n\n")  # the next question, or the end of the answer's paragraph

# Two short question/answer pairs per language of the built-in `examples` prompt set: a how-to answered in a few
# steps, then a fact. The fact comes last because a small model that is lost copies the pair nearest the
# question, and a short fact less often than steps (bench/base_scaffold.py, gemma3-270m: 16/16 answers in the
# prompt's language in this order, 14/16 with the fact first).
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (
        ("How do I make a cup of tea?",
         "Boil water, pour it over a tea bag in a cup, let it steep for three minutes, then take the bag "
         "out."),
        ("What is the capital of France?", "The capital of France is Paris.")),
    "de": (
        ("Wie mache ich eine Tasse Tee?",
         "Koche Wasser, gieß es in einer Tasse über einen Teebeutel, lass ihn drei Minuten ziehen und nimm "
         "den Beutel dann heraus."),
        ("Was ist die Hauptstadt von Frankreich?", "Die Hauptstadt von Frankreich ist Paris.")),
    "fr": (
        ("Comment préparer une tasse de thé ?",
         "Fais bouillir de l'eau, verse-la sur un sachet de thé dans une tasse, laisse infuser trois "
         "minutes, puis retire le sachet."),
        ("Quelle est la capitale de la France ?", "La capitale de la France est Paris.")),
    "es": (
        ("¿Cómo preparo una taza de té?",
         "Hierve agua, viértela sobre una bolsita de té en una taza, déjala reposar tres minutos y luego "
         "saca la bolsita."),
        ("¿Cuál es la capital de Francia?", "La capital de Francia es París.")),
    "it": (
        ("Come preparo una tazza di tè?",
         "Fai bollire l'acqua, versala su una bustina di tè in una tazza, lascia in infusione per tre "
         "minuti, poi togli la bustina."),
        ("Qual è la capitale della Francia?", "La capitale della Francia è Parigi.")),
    "pt": (
        ("Como faço uma xícara de chá?",
         "Ferva água, despeje-a sobre um saquinho de chá numa xícara, deixe em infusão por três minutos e "
         "depois retire o saquinho."),
        ("Qual é a capital da França?", "A capital da França é Paris.")),
    "ru": (
        ("Как заварить чашку чая?",
         "Вскипяти воду, залей ею чайный пакетик в чашке, подожди три минуты и вынь пакетик."),
        ("Какая столица у Франции?", "Столица Франции — Париж.")),
    "zh": (
        ("怎么泡一杯茶？", "把水烧开，倒进放了茶包的杯子里，泡三分钟，然后把茶包拿出来。"),
        ("法国的首都是哪里？", "法国的首都是巴黎。")),
    "ja": (
        ("お茶を一杯いれるにはどうすればいいですか？",
         "お湯を沸かして、ティーバッグを入れたカップに注ぎ、三分待ってからティーバッグを取り出します。"),
        ("フランスの首都はどこですか？", "フランスの首都はパリです。")),
    "ko": (
        ("차 한 잔은 어떻게 만드나요?", "물을 끓여 티백을 넣은 컵에 붓고, 3분 동안 우린 다음 티백을 꺼내세요."),
        ("프랑스의 수도는 어디인가요?", "프랑스의 수도는 파리입니다.")),
    "ar": (
        ("كيف أحضّر كوبًا من الشاي؟", "اغلِ الماء، ثم صبّه على كيس شاي في كوب، واتركه ثلاث دقائق، ثم أخرج الكيس."),
        ("ما هي عاصمة فرنسا؟", "عاصمة فرنسا هي باريس.")),
    "hi": (
        ("एक कप चाय कैसे बनाऊँ?",
         "पानी उबालें, उसे कप में रखे टी बैग पर डालें, तीन मिनट रुकें, फिर टी बैग निकाल लें।"),
        ("फ़्रांस की राजधानी क्या है?", "फ़्रांस की राजधानी पेरिस है।")),
    "sw": (
        ("Ninaandaaje kikombe cha chai?",
         "Chemsha maji, yamimine juu ya mfuko wa chai ndani ya kikombe, subiri dakika tatu, kisha toa "
         "mfuko."),
        ("Mji mkuu wa Ufaransa ni upi?", "Mji mkuu wa Ufaransa ni Paris.")),
    "tr": (
        ("Bir bardak çay nasıl yaparım?",
         "Suyu kaynat, bardaktaki çay poşetinin üzerine dök, üç dakika demlenmeye bırak, sonra poşeti "
         "çıkar."),
        ("Fransa'nın başkenti neresidir?", "Fransa'nın başkenti Paris'tir.")),
    "vi": (
        ("Làm thế nào để pha một tách trà?",
         "Đun sôi nước, rót vào tách có túi trà, để ngâm ba phút rồi lấy túi trà ra."),
        ("Thủ đô của Pháp là gì?", "Thủ đô của Pháp là Paris.")),
    "id": (
        ("Bagaimana cara membuat secangkir teh?",
         "Didihkan air, tuangkan ke cangkir berisi kantong teh, diamkan tiga menit, lalu angkat kantong "
         "tehnya."),
        ("Apa ibu kota Prancis?", "Ibu kota Prancis adalah Paris.")),
}


def is_base_model(spec: str) -> bool:
    """True for a packaged base model under any backend (`gemma3-270m`, `hf:gemma3-270m`, `served:...`).

    Other models count as instruct: a .gguf or hf directory is trusted to carry the chat template it needs."""
    model = parse_spec(spec).model
    return model in PACKAGED and PACKAGED[model].base


def scaffold_language(text: str) -> str:
    """The language whose examples frame `text`: the detected one when we have examples for it, else English."""
    code = detect(text)[0]
    return code if code in EXAMPLES else "en"


def scaffold(messages: Sequence[dict]) -> str:
    """Chat messages as one few-shot completion prompt ending in `A:`: the system text on top, two examples in
    the last question's language, earlier turns as answered Q/A pairs, then the question."""
    system = "\n".join(m["content"].strip() for m in messages if m["role"] == "system" and m["content"].strip())
    turns = [m for m in messages if m["role"] != "system"]
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("A scaffold needs a conversation that ends with the user's question.")
    pairs: list[tuple[str, str]] = list(EXAMPLES[scaffold_language(turns[-1]["content"])])
    question = ""
    for m in turns[:-1]:
        if m["role"] == "user":
            question = m["content"]
        else:  # an assistant turn answers the question before it
            pairs.append((question, m["content"]))
            question = ""
    blocks = [f"Q: {_line(q)}\nA: {_line(a)}" for q, a in pairs]
    blocks.append(f"Q: {_line(turns[-1]['content'])}\nA:")
    return "\n\n".join(([system] if system else []) + blocks)


def _line(text: str) -> str:
    # A blank line inside an earlier answer would read as the end of that answer (the "\n\n" stop).
    return "\n".join(line for line in text.strip().splitlines() if line.strip())
