"""XQuAD (google/xquad), generative, as in Polyglots (Kew et al., 2023): answer from the passage after the forced
prefix "Based on the passage, the answer to the question is", with the instruction in English (`xquad_en`,
en:xx) or in the passage's language (`xquad`, xx:xx); scored by exact match and F1 (MLQA normalisation)."""

# ruff: noqa: E501  (verbatim prompts in wide scripts: ruff counts CJK characters as two columns)
from __future__ import annotations

from pathlib import Path

from core.readers import read_json_document
from eval.qa_metrics import best
from eval.tasks.base import Item, Task

# The Polyglots prompts (ZurichNLP/multilingual-instruction-tuning, data_prep/prepare_xquad_data.ipynb):
# (human marker, instruction, passage label, question label, note, separator, assistant marker, forced prefix).
EN = ("### Human: ", "Answer the question from the given passage. Your answer should be directly extracted from the "
      "passage, and it should be a single entity, name, or number, not a sentence.", "Passage:", "Question:",
      "Note: Your answer should be directly extracted from the passage and be a single entity, name, or number. "
      "Provide the answer in quotations.", "", "### Assistant: ", 'Based on the passage, the answer to the question is "')
TEMPLATES = {
    "en": EN,
    "de": ("### Human: ", "Beantworte die Frage anhand des vorgegebenen Textes. Deine Antwort muss direkt aus dem "
           "Text entnommen sein und aus einer einzelnen Einheit, einem Namen oder einer Zahl bestehen. Deine Antwort "
           "darf nicht aus einem Satz bestehen.", "Text:", "Frage:",
           "Hinweis: Deine Antwort muss direkt aus dem Text entnommen werden und aus einer einzigen Einheit, einem "
           "Namen oder einer Zahl bestehen. Setze die Antwort in Anführungs- und Schlusszeichen.", "",
           "### Assistant: ", "Anhand des Textes lautet die Antwort auf die Frage „"),
    "es": ("### Human: ", "Responda a la pregunta a partir del pasaje dado. Tu respuesta debe ser extraída "
           "directamente del texto, y debe ser una sola entidad, nombre o número, no una frase.", "Texto:",
           "Pregunta:", "Nota: Tu respuesta debe ser extraída directamente del texto y debe ser una sola entidad, "
           "nombre o número. Presenta la respuesta entre comillas.", "", "### Assistant: ",
           "Basándose en el texto, la respuesta a la pregunta es «"),
    "ru": ("### Human: ", "Ответь на вопрос из приведенного отрывка. Твой ответ должен быть непосредственно извлечен "
           "из отрывка и содержать только один элемент, будь это предмет, имя или число. Ответ не должен быть целым "
           "предложением.", "Отрывок:", "Вопрос:", "Внимание: Ваш ответ должен быть непосредственно взят из отрывка "
           "и представлять собой один предмет, имя или число. Укажите ответ в кавычках.", "", "### Assistant: ",
           "Исходя из отрывка, ответ на вопрос: «"),
    "el": ("### Human: ", "απάντησε στην ερώτηση από το δοθέν απόσπασμα. Η απάντησή σου πρέπει να ληφθεί επί λέξει "
           "από το απόσπασμα, και πρέπει να είναι μια οντότητα, ένας αριθμός ή ένα όνομα, όχι μια πρόταση.",
           "Απόσπασμα:", "Ερώτηση:", "Σημείωση: Η απάντησή σου θα πρέπει να ληφθεί επί λέξει από το απόσπασμα και "
           "πρέπει να είναι μια οντότητα, ένα όνομα ή ένας αριθμός. Δώσε την απάντηση σε εισαγωγικά.", "",
           "### Assistant: ", "Δεδομένου του κειμένου, η απάντηση στην ερώτηση είναι «"),
    "zh": ("### Human：", "请根据给定的段落回答问题。你的答案应直接提取自该段落，且应该为一个专有名词、名字或数字，而不是一个句子。",
           "段落：", "问题：", "请注意：你的答案应直接摘自该段落， 且为一个专有名词，名字或数字。请在引号中给出答案。", " ",
           "### Assistant：", '根据这段文字，该问题的答案是 "'),
    "vi": ("### Human: ", "Trả lời câu hỏi trong đoạn văn cho sẵn. Câu trả lời của bạn phải được trích trực tiếp từ "
           "đoạn văn và phải là một thực thể, tên hoặc số duy nhất chứ không phải một câu.", "Đoạn văn:", "Câu hỏi:",
           "Lưu ý: Câu trả lời của bạn phải được trích trực tiếp từ đoạn văn và phải là một thực thể, tên hoặc số duy "
           "nhất. Cung cấp câu trả lời trong dấu ngoặc kép.", "", "### Assistant: ",
           "Dựa trên đoạn văn, câu trả lời cho câu hỏi là"),
    "ar": ("### Human:\n\n", "أجب السؤال التالي من القطعة. يجب أن تستخرج إجابتك مباشرة من القطعة، ويجب أن تكون كلمة "
           "واحدة (اسمًا أو رقمًا) وليس جملة. ", ":القطعة", ":سؤال", "ملاحظة: يجب أن تكون إجابتك مستخرجة مباشرة من "
           "القطعة وأن تكون  كلمة واحدة (اسمًا أو رقمًا) . أكتب الإجابة في شكل اقتباس", "\n\n", "### Assistant:\n\n",
           "” بناء على القطعة فإن إجابة السؤال هي"),
    "th": ("### Human: ", "ตอบคำถามจากข้อความที่ให้ไว้ คำตอบของคุณควรดึงมาจากข้อความโดยตรง และควรเป็นข้อมูล ชื่อ "
           "หรือตัวเลขเพียงรายการเดียว ไม่ใช่ประโยค", "ทางเดิน:", "คำถาม:", "หมายเหตุ: คำตอบของคุณควรดึงมาจากข้อความนี้"
           "โดยตรงและเป็นเอนทิตี ชื่อ หรือหมายเลขเดียว ให้คำตอบเป็นเครื่องหมายคำพูด", "", "### Assistant: ",
           'จากเนื้อเรื่อง คำตอบของคำถามคือ "'),
    "tr": ("### Human: ", "Soruyu verilen metne göre cevaplayın. Cevabınız doğrudan metinden alınmalı ve bir cümle "
           "değil, tek bir varlık, isim veya sayı olmalıdır.", "Metin:", "Soru:", "Not: Cevabınız doğrudan metinden "
           "alınmış olmalı ve tek bir varlık, isim veya sayı olmalıdır. Yanıtı tırnak işareti içinde belirtin.", "",
           "### Assistant: ", 'Parçaya göre sorunun yanıtı "'),
    "hi": ("### Human: ", "दिए गए गद्यांश से प्रश्न का उत्तर दीजिए। आपका उत्तर सीधे अनुच्छेद से निकाला जाना चाहिए, और यह एक "
           "इकाई, नाम या संख्या होना चाहिए, वाक्य नहीं।", "रास्ता:", "सवाल:", "ध्यान दें: आपका उत्तर सीधे गद्यांश से "
           "निकाला जाना चाहिए और एक इकाई, नाम या संख्या होना चाहिए। उद्धरणों में उत्तर प्रदान करें।", " ",
           "### Assistant: ", 'गद्यांश के आधार पर, प्रश्न का उत्तर है "'),
}
# The quote a prefix opens -> the marks that may end the answer (models close „ with “ or ”).
CLOSE = {'"': ('"', "”"), "„": ("“", "”", '"'), "«": ("»", '"')}
QUOTES = "\"'“”„«»‘’「」"
XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


def prompts(template: tuple, context: str, question: str) -> dict:
    """The prompt as the paper's raw text, and as chat messages ending in the forced prefix."""
    human, instr, passage, ask, note, sep, assistant, prefix = template
    body = f"{instr}\n\n{passage}\n\n{context}\n\n{ask}\n\n{question}\n\n{note}"
    raw = f"{human}{body}{sep}{assistant}{prefix}".strip()
    chat = [{"role": "user", "content": body.strip()}, {"role": "assistant", "content": prefix.strip()}]
    return {"raw": raw, "chat": chat}


def extract_answer(output: str, prefix: str) -> str:
    """The answer in a continuation of the prefix: up to the quote the prefix opened (or the first line),
    without surrounding quotes, spaces and final punctuation."""
    text = output.strip().lstrip(QUOTES + " ")  # a model may repeat the opening quote
    ends = [i for i in (text.find(mark) for mark in CLOSE.get(prefix[-1:], ())) if i > 0]
    text = text[: min(ends)] if ends else text
    text = text.split("\n", 1)[0].strip().strip(QUOTES).strip()
    return text.rstrip(".。,，、;；:：!！?？").strip()


def qa_item(template: tuple, row: dict, id: str) -> Item:
    return Item(id, prompt=prompts(template, row["context"].strip(), row["question"].strip()),
                golds=tuple(row["answers"]["text"]))


def score(output: str, item: Item, lang: str) -> dict:
    prefix = item.prompt["chat"][-1]["content"]
    answer = extract_answer(output, prefix)
    return {"answer": answer, **best(answer, list(item.golds), lang)}


def squad_rows(path: Path):
    """A SQuAD-format file (XQuAD, MLQA) flattened to the hub's rows (id, context, question, answers)."""
    for article in read_json_document(path)["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield f"{path.name} {qa['id']}", {"id": qa["id"], "context": paragraph["context"],
                                                  "question": qa["question"],
                                                  "answers": {"text": [a["text"] for a in qa["answers"]]}}


def local(data_dir: Path, lang: str):
    path = data_dir / "xquad" / f"xquad.{lang}.json"
    return path, squad_rows(path)


_COMMON = dict(hub="google/xquad", split="validation", fields=("context", "question", "answers"),
               hub_config=lambda lang: f"xquad.{lang}", local=local, id_field="id", score=score, max_tokens=48,
               example=("de", {"id": "q1", "context": "Der Rhein fließt durch Basel und Köln.", "question": "Durch welche Stadt fließt der Rhein?", "answers": {"text": ["Basel", "Köln"]}}))
TASK = Task("xquad", tuple(TEMPLATES), to_item=lambda row, lang, id: qa_item(TEMPLATES[lang], row, id), **_COMMON)
TASK_EN = Task("xquad_en", XQUAD_LANGS, to_item=lambda row, lang, id: qa_item(EN, row, id), **_COMMON)
