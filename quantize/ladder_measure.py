"""How far each quantized file is from the 16-bit reference in one language: per sentence, teacher-forced on the
same token ids, the KL divergence KL(ref || quant) at every position, next-token top-1 agreement and the
log-likelihood of the text; and greedy continuations of sentence openings. The reference is computed once per
language and compared with every file, so a ladder costs one pass per file, not two."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import log_softmax

from quantize.verify import GGUFRunner


class Runner(GGUFRunner):
    """The verification's GGUF runner, plus what the ladder reads: ids with the file's BOS, and log-probs."""

    def token_ids(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=True)

    def log_probs(self, ids: list[int]) -> np.ndarray:
        """log p(next token) after each of ids[:-1], float32 [len(ids) - 1, vocab]."""
        self.llm.reset()
        self.llm.eval(ids)
        return log_softmax(np.asarray(self.llm.scores[: len(ids) - 1], dtype=np.float32), axis=-1)


@dataclass
class Reference:
    """The reference's view of one language: token ids, log-probs and greedy continuations."""

    ids: list[list[int]]
    log_probs: list[np.ndarray]
    prompts: list[list[int]]
    continuations: list[list[int]]


def reference(runner: Runner, sentences: list[str], greedy_prompts: int, new_tokens: int, max_tokens: int) -> Reference:
    """Tokenize `sentences` once (cut to `max_tokens`) and take the reference's log-probs and continuations of
    the first `greedy_prompts` sentences' first halves."""
    ids = [runner.token_ids(s)[:max_tokens] for s in sentences]
    prompts = [seq[: max(2, len(seq) // 2)] for seq in ids[:greedy_prompts]]
    continuations = [runner.greedy(p, new_tokens) for p in prompts]
    return Reference(ids, [runner.log_probs(seq) for seq in ids], prompts, continuations)


def reference_cell(ref: Reference) -> dict:
    """The reference's own row: no divergence by definition, and its perplexity."""
    nll = -sum(float(p[np.arange(len(seq) - 1), seq[1:]].sum()) for seq, p in zip(ref.ids, ref.log_probs))
    n_tokens = sum(len(seq) - 1 for seq in ref.ids)
    ppl = round(math.exp(nll / n_tokens), 3)
    n = len(ref.ids)
    return {"sentences": n, "tokens": n_tokens, "kl": 0.0, "kl_ci95": [0.0, 0.0], "kl_p99": 0.0, "top1": 1.0,
            "top1_ci95": [1.0, 1.0], "ppl_ref": ppl, "ppl": ppl, "ppl_change_pct": 0.0,
            "greedy_match": 1.0 if ref.prompts else None,
            "per_sentence": {"kl": [0.0] * n, "top1": [1.0] * n}}


def _mean_ci(values: list[float]) -> list[float]:
    """95% t-interval of the mean over sentences (the unit that is sampled)."""
    if len(values) < 2 or np.std(values) == 0:
        return [round(float(np.mean(values)), 6)] * 2
    lo, hi = stats.ttest_1samp(values, 0).confidence_interval()
    return [round(max(float(lo), 0.0), 6), round(float(hi), 6)]  # KL and top-1 are never below 0


def compare(ref: Reference, runner: Runner, new_tokens: int) -> dict:
    """One language's cell: KL (mean over sentences, p99 over tokens), top-1, perplexity change, greedy match."""
    kl_tokens, kl_sent, top1_sent, nll_ref, nll_q, n_tokens = [], [], [], 0.0, 0.0, 0
    for seq, p in zip(ref.ids, ref.log_probs):
        q = runner.log_probs(seq)
        kl = np.sum(np.exp(p) * (p - q), axis=-1, dtype=np.float64)
        targets = np.asarray(seq[1:])
        rows = np.arange(len(targets))
        kl_tokens.append(kl)
        kl_sent.append(float(kl.mean()))
        top1_sent.append(float(np.mean(p.argmax(-1) == q.argmax(-1))))
        nll_ref -= float(p[rows, targets].sum())
        nll_q -= float(q[rows, targets].sum())
        n_tokens += len(targets)
    matches = []
    for prompt, want in zip(ref.prompts, ref.continuations):
        got = runner.greedy(prompt, new_tokens)
        same = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
        matches.append(same / max(len(want), len(got), 1))
    all_kl = np.concatenate(kl_tokens)
    ppl_ref, ppl = math.exp(nll_ref / n_tokens), math.exp(nll_q / n_tokens)
    return {"sentences": len(ref.ids), "tokens": n_tokens,
            "kl": round(float(np.mean(kl_sent)), 6), "kl_ci95": _mean_ci(kl_sent),
            "kl_p99": round(float(np.percentile(all_kl, 99)), 6),
            "top1": round(float(np.mean(top1_sent)), 4), "top1_ci95": _mean_ci(top1_sent),
            "ppl_ref": round(ppl_ref, 3), "ppl": round(ppl, 3), "ppl_change_pct": round(100 * (ppl / ppl_ref - 1), 3),
            "greedy_match": round(float(np.mean(matches)), 4) if matches else None,
            "per_sentence": {"kl": [round(v, 6) for v in kl_sent], "top1": [round(v, 4) for v in top1_sent]}}
