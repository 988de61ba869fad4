"""PNG plots of a judge run: win/tie/loss bars per language and per category with the flip rate (pairwise,
scores), or each model's mean score per category and language (single, likert)."""

from __future__ import annotations

from pathlib import Path

OUTCOME_COLORS = {"win": "#2a9d8f", "tie": "#bbbbbb", "both_bad": "#8d6e63", "loss": "#e76f51"}


def judge_plots(card: dict, out: Path) -> list[Path]:
    """Write the run's plots into `out`; returns their paths."""
    import matplotlib

    from eval.judge_protocols import get_protocol

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    res, mode, written = card["results"], card["mode"], []
    protocol = get_protocol(mode)
    name = f"judge_{mode}"
    for group in ("by_lang", "by_category"):
        rows = res.get(group, {})
        if not rows:
            continue
        keys = list(rows)
        fig, ax = plt.subplots(figsize=(7, max(3, 0.45 * len(keys) + 1.8)))
        if protocol.pairwise:
            left = np.zeros(len(keys))
            for outcome, color in OUTCOME_COLORS.items():
                share = np.array([rows[k]["fastchat"][outcome] / max(1, rows[k]["fastchat"]["n"]) for k in keys])
                ax.barh(keys, share, left=left, color=color, label=outcome.replace("_", " "))
                left += share
            for i, k in enumerate(keys):
                ax.text(1.01, i, f"flips {rows[k]['position_bias']['flip_rate']:.2f}  n={rows[k]['fastchat']['n']}",
                        va="center", fontsize=8)
            ax.set_xlim(0, 1.35)
            ax.set_xlabel(f"share of questions, A = {card['a']} vs B = {card['b']} (FastChat rule)")
        else:
            sides = sorted({side for k in keys for side in rows[k]})
            height = 0.8 / max(1, len(sides))
            for s, side in enumerate(sides):
                values = [rows[k].get(side) or 0 for k in keys]
                ax.barh(np.arange(len(keys)) + s * height - 0.4 + height / 2, values, height,
                        label=card[side] if card.get(side) else side.upper())
            ax.set_yticks(np.arange(len(keys)), keys)
            ax.set_xlabel(protocol.scale)
        ax.set_title(f"{mode} judged by {card['judge'].split('@')[0]}, {group.removeprefix('by_')}")
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=4, frameon=False)
        fig.tight_layout()
        path = out / f"{name}_{group}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written
