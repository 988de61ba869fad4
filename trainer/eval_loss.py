"""Per-language eval: the held-out loss of each language, weighted by trained tokens."""

from __future__ import annotations

from collections import defaultdict

from trainer.batches import Example, collate


def per_language_loss(model, examples: list[Example], pad_id: int, device) -> dict[str, float]:
    """Token-weighted mean loss per language over `examples` (one example per forward, no padding)."""
    import torch

    model.eval()
    sums, counts = defaultdict(float), defaultdict(int)
    with torch.no_grad():
        for ex in examples:
            batch = {k: v.to(device) for k, v in collate([ex], pad_id).items()}
            n = ex.enc.trained_tokens
            sums[ex.lang] += model(**batch).loss.item() * n
            counts[ex.lang] += n
    model.train()
    return {lang: round(sums[lang] / counts[lang], 4) for lang in sorted(sums)}
