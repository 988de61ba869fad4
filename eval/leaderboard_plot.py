"""The leaderboard's plot: one panel per language (and all of them), each model's rating as a dot with its
bootstrap 95% interval as whiskers, human votes and judge verdicts side by side."""

from __future__ import annotations

import io

COLORS = {"human": "tab:blue", "judge": "tab:orange"}
PER_ROW = 4  # panels per row of the figure


def _label(text: str) -> str:
    # a model name is untrusted text: "$...$" would be read as mathtext (or fail to parse)
    return str(text).replace("$", r"\$")


def _model_order(card: dict) -> list[str]:
    """Every model, best first by the first source's overall rating (models it lacks after, by name)."""
    sources = list(card["sources"].values())
    first = [m["model"] for m in sources[0].get("all", {}).get("models", [])] if sources else []
    rest = sorted({m["model"] for cells in sources for cell in cells.values() for m in cell["models"]} - set(first))
    return first + rest


def plot_png(card: dict) -> bytes:
    """The plot of a leaderboard card as PNG bytes (matplotlib, Agg); the panels share both axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eval.leaderboard import lang_name
    from eval.report import save_figure

    models = _model_order(card)
    langs = list(dict.fromkeys(lang for cells in card["sources"].values() for lang in cells))
    langs = [x for x in langs if x != "all"] + (["all"] if "all" in langs else [])
    cols, rows = min(PER_ROW, max(1, len(langs))), max(1, -(-len(langs) // PER_ROW))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols + 1.2, (0.45 * len(models) + 1.3) * rows),
                             sharex=True, sharey=True, squeeze=False)
    y = {m: k for k, m in enumerate(models)}
    offset = {s: (k - (len(card["sources"]) - 1) / 2) * 0.25 for k, s in enumerate(card["sources"])}
    for ax, lang in zip(axes.flat, langs):
        for source, cells in card["sources"].items():
            shown = cells.get(lang, {}).get("models", [])
            if not shown:
                continue
            ys = [y[m["model"]] + offset[source] for m in shown]
            xs = [m["rating"] for m in shown]
            err = [[max(0.0, m["rating"] - (m["ci95"][0] if m["ci95"][0] is not None else m["rating"])) for m in shown],
                   [max(0.0, (m["ci95"][1] if m["ci95"][1] is not None else m["rating"]) - m["rating"])
                    for m in shown]]
            ax.errorbar(xs, ys, xerr=err, fmt="o", capsize=3, color=COLORS.get(source, "tab:gray"),
                        label=source if lang == langs[0] else None)
        ax.axvline(1000, color="0.8", lw=0.8, zorder=0)
        ax.set_title(_label(lang_name(lang)))
        ax.set_xlabel("rating (95% CI)")
    for ax in list(axes.flat)[len(langs):]:
        ax.set_visible(False)
    # the y axis is shared by every panel: set (and flip, best on top) once
    axes.flat[0].set_yticks(range(len(models)), [_label(m) for m in models])
    axes.flat[0].invert_yaxis()
    if len(card["sources"]) > 1:
        axes.flat[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Bradley-Terry ratings per language")
    buf = io.BytesIO()
    save_figure(fig, buf)  # the project's resolution; the caller writes the bytes atomically
    return buf.getvalue()
