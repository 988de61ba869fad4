"""Rows, characters and tokens per language, and tokenizer fertility (as in Bactrian-X's Table 1)."""

from __future__ import annotations

from collections import defaultdict

from trainer.data.schema import Row


def mix_stats(rows: list[Row], count_tokens=None, base: str = "en") -> dict[str, dict]:
    """Per language: rows, chars, tokens, tokens per char, and fertility against `base` (English).

    `tpc_vs_base` compares tokens per character; `parallel_vs_base` compares tokens for the same ids (the
    same content), which is the fairer number across scripts and is only there when the mix is parallel.
    """
    per: dict[str, dict] = defaultdict(lambda: {"rows": 0, "chars": 0, "tokens": None})
    tokens_by_id: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        text = row.text()
        s = per[row.lang]
        s["rows"] += 1
        s["chars"] += len(text)
        if count_tokens is not None:
            n = sum(count_tokens(m["content"]) for m in row.messages)
            s["tokens"] = (s["tokens"] or 0) + n
            tokens_by_id[row.lang][row.id] = n
    out = {}
    base_tpc = _tpc(per.get(base))
    for lang in sorted(per, key=lambda x: (x != base, x)):
        s = per[lang]
        tpc = _tpc(s)
        shared = set(tokens_by_id.get(lang, {})) & set(tokens_by_id.get(base, {}))
        base_tokens = sum(tokens_by_id[base][i] for i in shared)
        out[lang] = {
            "rows": s["rows"], "chars": s["chars"], "tokens": s["tokens"],
            "chars_per_row": round(s["chars"] / s["rows"], 1),
            "tokens_per_row": round(s["tokens"] / s["rows"], 1) if s["tokens"] is not None else None,
            "tokens_per_char": round(tpc, 4) if tpc is not None else None,
            "tpc_vs_base": round(tpc / base_tpc, 3) if tpc is not None and base_tpc else None,
            "parallel_vs_base": round(sum(tokens_by_id[lang][i] for i in shared) / base_tokens, 3)
            if shared and base_tokens else None,
        }
    return out


def _tpc(s: dict | None) -> float | None:
    if not s or s["tokens"] is None or not s["chars"]:
        return None
    return s["tokens"] / s["chars"]


def format_table(stats: dict[str, dict], base: str = "en") -> str:
    """The stats as an aligned text table (one row per language, a total row)."""
    import pandas as pd

    df = pd.DataFrame.from_dict(stats, orient="index").astype(float)  # None -> NaN, shown as "-"
    df.index.name = "lang"
    total = {"rows": df["rows"].sum(), "chars": df["chars"].sum(),
             "tokens": df["tokens"].sum() if df["tokens"].notna().all() else None}
    df.loc["total"] = pd.Series(total)
    df = df.rename(columns={"tpc_vs_base": f"tok/char vs {base}", "parallel_vs_base": f"parallel vs {base}",
                            "tokens_per_char": "tok/char", "chars_per_row": "chars/row", "tokens_per_row": "tok/row"})
    return df.to_string(na_rep="-", float_format=lambda x: f"{x:,.3f}".rstrip("0").rstrip("."))
