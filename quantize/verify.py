"""Check an exported GGUF against the transformers model it came from, per language: greedy continuations
(share of the first N tokens that match), and next-token top-1 agreement, mean KL(HF || GGUF) and the
perplexity of both on a passage of ordinary text in that language."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

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


def verify(model_dir: Path, gguf_path: Path, new_tokens: int = 32, prompts: dict[str, str] | None = None,
           hf=None) -> dict:
    """Per-language comparison of `gguf_path` with the HF model in `model_dir` (greedy, top-1, KL, ppl)."""
    import torch
    from llama_cpp import Llama

    from core.languages import detect

    prompts = prompts or PROMPTS
    tok, model = hf or _hf(model_dir)
    llm = Llama(str(gguf_path), n_ctx=512, logits_all=True, verbose=False, n_threads=None)
    per_lang = {}
    try:
        for lang, prompt in prompts.items():
            ids = _ids(tok, prompt)
            with torch.no_grad():
                hf_out = model.generate(torch.tensor([ids]), max_new_tokens=new_tokens, do_sample=False,
                                        pad_token_id=tok.eos_token_id)[0, len(ids):].tolist()
            if tok.eos_token_id in hf_out:  # llama.cpp's loop below stops before EOS; compare like with like
                hf_out = hf_out[: hf_out.index(tok.eos_token_id)]
            llm.reset()
            g_out = []
            for token in llm.generate(ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
                if token == llm.token_eos() or len(g_out) >= new_tokens:
                    break
                g_out.append(token)
            same = 0
            for a, b in zip(hf_out, g_out):
                if a != b:
                    break
                same += 1
            # Distributions on the same ordinary text: next-token agreement, KL and perplexity.
            seq = _ids(tok, PASSAGES.get(lang, prompt))
            with torch.no_grad():
                hf_logits = model(torch.tensor([seq])).logits[0].float().numpy()
            llm.reset()
            llm.eval(seq)
            g_logits = np.array(llm.scores[: len(seq)], dtype=np.float64)
            p = _log_softmax(hf_logits.astype(np.float64))
            q = _log_softmax(g_logits)
            kl = float(np.mean(np.sum(np.exp(p) * (p - q), axis=-1)))
            top1 = float(np.mean(p.argmax(-1) == q.argmax(-1)))
            targets = np.array(seq[1:])
            nll_hf = -p[np.arange(len(targets)), targets].mean()
            nll_g = -q[np.arange(len(targets)), targets].mean()
            # Input/output language agreement: does the continuation stay in the prompt's language?
            hf_lang, g_lang = (detect(tok.decode(out, skip_special_tokens=True))[0] for out in (hf_out, g_out))
            # The file's own tokenizer must cut the text as transformers does (ids above bypass it).
            passage = PASSAGES.get(lang, prompt)
            own = llm.tokenize(passage.encode(), add_bos=False, special=False)
            tokenizer_match = own == tok(passage, add_special_tokens=False).input_ids
            per_lang[lang] = {"greedy_match": round(same / max(len(hf_out), len(g_out), 1), 3), "top1": round(top1, 3),
                              "tokenizer_match": tokenizer_match,
                              "lang_hf": hf_lang, "lang_gguf": g_lang, "same_language": float(g_lang == lang),
                              "kl": round(kl, 5), "ppl_hf": round(math.exp(nll_hf), 2),
                              "ppl_gguf": round(math.exp(nll_g), 2)}
    finally:
        llm.close()
    keys = ("greedy_match", "top1", "kl", "same_language", "tokenizer_match")
    mean = {k: round(float(np.mean([v[k] for v in per_lang.values()])), 4) for k in keys}
    return {"per_language": per_lang, "mean": mean}


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
