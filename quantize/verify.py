"""Check an export (GGUF, ONNX) against the transformers model it came from, per language: greedy continuations
(share of the first N tokens that match), the language the continuation is in, and next-token top-1
agreement, mean KL(HF || export) and the perplexity of both on a passage of ordinary text in that language."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from tqdm import tqdm

# One prompt and one short passage per language (>= 8 languages, several scripts).
PROMPTS = {
    "en": "The three most important inventions of the last century are",
    "de": "Die wichtigste Erfindung des letzten Jahrhunderts ist",
    "fr": "La plus grande ville de France est",
    "es": "La receta tradicional de la paella lleva",
    "it": "Il fiume più lungo d'Italia è",
    "ru": "Самая длинная река в России это",
    "zh": "中国的首都是北京，它是一个",
    "ar": "عاصمة مصر هي القاهرة، وهي",
    "hi": "भारत की राजधानी नई दिल्ली है, जो",
    "ja": "日本の首都は東京で、",
}


# Ordinary text to score (teacher-forced): what the model reads, not what it would write.
PASSAGES = {
    "en": "The river flows through the old town, past the market square and the church, before it reaches the sea.",
    "de": "Der Fluss fließt durch die Altstadt, am Marktplatz und an der Kirche vorbei, bevor er das Meer erreicht.",
    "fr": "La rivière traverse la vieille ville, passe devant la place du marché et l'église, puis rejoint la mer.",
    "es": "El río atraviesa el casco antiguo, pasa junto a la plaza del mercado y la iglesia, y llega al mar.",
    "it": "Il fiume attraversa la città vecchia, passa accanto alla piazza del mercato e alla chiesa e arriva al mare.",
    "ru": "Река течёт через старый город, мимо рыночной площади и церкви, прежде чем впасть в море.",
    "zh": "这条河流经老城，经过集市广场和教堂，最后流入大海。",
    "ar": "يجري النهر عبر المدينة القديمة، مرورًا بساحة السوق والكنيسة، قبل أن يصل إلى البحر.",
    "hi": "नदी पुराने शहर से होकर बहती है, बाज़ार के चौक और मंदिर के पास से गुज़रती है, और फिर समुद्र में मिल जाती है।",
    "ja": "川は旧市街を流れ、市場の広場と教会のそばを通って、海へと注ぎます。",
}


def _hf(model_dir: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return tok, model


def _ids(tok, text: str) -> list[int]:
    ids = tok(text, add_special_tokens=True).input_ids
    return ids if ids else [tok.bos_token_id]


class GGUFRunner:
    """A GGUF file in llama-cpp-python, seen as the verification needs it (greedy ids, logits, tokenizer)."""

    def __init__(self, path: Path, n_ctx: int = 512):
        from llama_cpp import Llama

        self.llm = Llama(str(path), n_ctx=n_ctx, logits_all=True, verbose=False, n_threads=None)

    def greedy(self, ids: list[int], n: int) -> list[int]:
        out = []
        self.llm.reset()
        for token in self.llm.generate(ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
            if token == self.llm.token_eos() or len(out) >= n:
                break
            out.append(token)
        return out

    def logits(self, ids: list[int]) -> np.ndarray:
        self.llm.reset()
        self.llm.eval(ids)
        return np.array(self.llm.scores[: len(ids)], dtype=np.float64)

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=False)

    def chat_ids(self, messages: list[dict]) -> list[int] | None:
        """The prompt ids llama-cpp-python builds from the file's own chat template (None: no template)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        text = self.llm._model.token_get_text
        formatter = Jinja2ChatFormatter(template, eos_token=text(self.llm.token_eos()),
                                        bos_token=text(self.llm.token_bos()), add_generation_prompt=True)
        result = formatter(messages=messages)
        return self.llm.tokenize(result.prompt.encode(), add_bos=not result.added_special, special=True)

    def close(self) -> None:
        self.llm.close()


def verify(model_dir: Path, gguf_path: Path, new_tokens: int = 32, prompts: dict[str, str] | None = None,
           hf=None) -> dict:
    """Per-language comparison of `gguf_path` with the HF model in `model_dir` (greedy, top-1, KL, ppl)."""
    runner = GGUFRunner(gguf_path)
    try:
        return compare(hf or _hf(model_dir), runner, new_tokens, prompts)
    finally:
        runner.close()


def compare(hf, runner, new_tokens: int = 32, prompts: dict[str, str] | None = None) -> dict:
    """Per-language table of an export (`runner`: greedy, logits, optional tokenize) against the HF model."""
    import torch

    from core.languages import detect

    tok, model = hf
    per_lang = {}
    for lang, prompt in tqdm((prompts or PROMPTS).items(), desc="verifying", unit="lang", leave=False):
        ids = _ids(tok, prompt)
        with torch.no_grad():
            hf_out = model.generate(torch.tensor([ids]), max_new_tokens=new_tokens, do_sample=False,
                                    pad_token_id=tok.eos_token_id)[0, len(ids):].tolist()
        if tok.eos_token_id in hf_out:  # the runners stop before EOS; compare like with like
            hf_out = hf_out[: hf_out.index(tok.eos_token_id)]
        out = runner.greedy(ids, new_tokens)
        same = 0
        for a, b in zip(hf_out, out):
            if a != b:
                break
            same += 1
        # Distributions on the same ordinary text: next-token agreement, KL and perplexity.
        passage = PASSAGES.get(lang, prompt)
        seq = _ids(tok, passage)
        with torch.no_grad():
            p = _log_softmax(model(torch.tensor([seq])).logits[0].double().numpy())
        q = _log_softmax(runner.logits(seq))
        targets = np.array(seq[1:])
        nll_hf = -p[np.arange(len(targets)), targets].mean()
        nll_x = -q[np.arange(len(targets)), targets].mean()
        # Input/output language agreement: does the continuation stay in the prompt's language?
        hf_lang, x_lang = (detect(tok.decode(o, skip_special_tokens=True))[0] for o in (hf_out, out))
        row = {"greedy_match": round(same / max(len(hf_out), len(out), 1), 3),
               "top1": round(float(np.mean(p.argmax(-1) == q.argmax(-1))), 3),
               "kl": round(float(np.mean(np.sum(np.exp(p) * (p - q), axis=-1))), 5),
               "lang_hf": hf_lang, "lang_export": x_lang, "same_language": float(x_lang == lang),
               "ppl_hf": round(math.exp(nll_hf), 2), "ppl_export": round(math.exp(nll_x), 2)}
        if hasattr(runner, "tokenize"):  # the file's own tokenizer must cut text as transformers does
            row["tokenizer_match"] = runner.tokenize(passage) == tok(passage, add_special_tokens=False).input_ids
        per_lang[lang] = row
    keys = [k for k in ("greedy_match", "top1", "kl", "same_language", "tokenizer_match") if k in row]
    mean = {k: round(float(np.mean([v[k] for v in per_lang.values()])), 4) for k in keys}
    return {"per_language": per_lang, "mean": mean, "chat_ids_match": _chat_ids_match(tok, runner)}


CHAT = [{"role": "user", "content": "Wie heißt die Hauptstadt von Frankreich?"},
        {"role": "assistant", "content": "Paris."}, {"role": "user", "content": "Et celle du Japon ?"}]


def _chat_ids_match(tok, runner) -> bool | None:
    """Does a chat prompt reach the export as the same ids as in transformers (template, specials, one BOS)?"""
    if not hasattr(runner, "chat_ids") or not tok.chat_template:
        return None
    ours = runner.chat_ids(CHAT)
    want = tok.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=True)
    want = want["input_ids"] if hasattr(want, "keys") else want
    return ours == list(want)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
