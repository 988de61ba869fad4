"""`python -m eval report RUN...`: the runs' results as one table (task/language x model) and PNG plots:
per-language accuracy bars with 95% intervals, and a model x language heatmap, per task."""

from __future__ import annotations

from pathlib import Path

from core.engines.spec import display_name
from core.errors import ConfigError
from eval.results import read_card


def load_runs(runs: list[Path]) -> list[dict]:
    """The finished cards of `runs`; a directory without a card is an error that names it."""
    cards = []
    for run in runs:
        card = read_card(run)
        if card is None or ("results" not in card and "agreement" not in card):
            raise ConfigError(f"{run} holds no finished run (no card.json with results); run `python -m eval "
                              f"bench ... --out {run}` first (it resumes if it was stopped).")
        cards.append(_with_checks(card, run) | {"_dir": str(run)})
    return cards


def _with_checks(card: dict, run: Path) -> dict:
    """A generate card written before answers got health flags, with its agreement table recomputed from its
    answers (flags, agreement of the answers' own text, LCB rates; the word list is not at hand here)."""
    if "agreement" not in card or all("flags" in r for r in card["agreement"].values()):
        return card
    from eval.generate import agreement_table
    from eval.results import read_items

    langs = list(card["agreement"])
    records = [r for r in read_items(run) if r["lang"] in card["agreement"]]
    return card | {"agreement": agreement_table(records, langs, card.get("max_tokens"))}


def split_judge_runs(cards: list[dict]) -> tuple[list[dict], list[dict]]:
    """(benchmark and generation cards, judge cards): judge runs get their own table and plots."""
    return [c for c in cards if "mode" not in c], [c for c in cards if "mode" in c]


def _label(card: dict, cards: list[dict]) -> str:
    name = display_name(card["model"])
    same = [c for c in cards if display_name(c["model"]) == name]
    return name if len(same) == 1 else f"{name} ({Path(card['_dir']).name})"


GENERATION_HEAD = ["set", "lang", "model", "n", "agreement [95%]", "healthy only", "LPR", "WPR", "line acc",
                   "echo", "loop", "empty", "truncated", "answered in"]


def _share(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def generation_rows(cards: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the generate runs: per prompt set, language and run, agreement over all answers and over
    healthy ones, the LCB line/word pass rates, each health flag's share and what it answered in."""
    rows = []
    for prompt_set in dict.fromkeys(c["set"] for c in cards if "agreement" in c):
        runs = [c for c in cards if c.get("set") == prompt_set and "agreement" in c]
        for lang in dict.fromkeys(lang for c in runs for lang in c["agreement"]):
            for c in runs:
                r = c["agreement"].get(lang)
                if r is None:
                    continue
                if r.get("agreement") is None:
                    agreement = healthy = r.get("note", "-")
                else:
                    agreement = f"{r['agreement']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]"
                    h = r.get("healthy") or {}
                    healthy = f"{_share(h.get('agreement'), 3)} (n={h.get('n', 0)})" if h else "-"
                lcb, flags = r.get("confusion") or {}, r.get("flags") or {}
                rows.append([Path(prompt_set).name, lang, _label(c, cards), str(r["n"]), agreement, healthy,
                             _share(lcb.get("lpr")), _share(lcb.get("wpr")), _share(lcb.get("acc")),
                             *(_share(flags.get(f)) for f in ("echo", "loop", "empty", "truncated")),
                             ", ".join(f"{k} {v}" for k, v in r.get("answered_in", {}).items())])
    return list(GENERATION_HEAD), rows


def _cell(r: dict | None) -> str:
    """"acc [interval] n=", or "EM [interval] F1 n=", plus weighted F1 where the task has it; a mean has no n."""
    if not r or (r.get("acc") is None and r.get("em") is None):
        return "-"
    main = f"{r['acc']:.3f}" if "acc" in r else f"EM {r['em']:.3f}"
    interval = f" [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]" if "ci95" in r else ""
    extra = "".join(f" {name} {r[key]:.3f}" for key, name in (("f1", "F1"), ("f1_weighted", "wF1")) if key in r)
    return main + interval + extra + (f" n={r['n']}" if "n" in r else "")


def table_rows(cards: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): accuracy (or EM/F1) [95% interval] per task and language, one column per run."""
    rows = []
    for task in dict.fromkeys(t for c in cards for t in c.get("results", {})):
        langs = dict.fromkeys(lang for c in cards for lang in c.get("results", {}).get(task, {}) if lang != "_mean")
        for lang in [*langs, "_mean"]:
            cells = [_cell(c.get("results", {}).get(task, {}).get(lang)) for c in cards]
            rows.append([task, "mean" if lang == "_mean" else lang, *cells])
    return ["task", "lang", *(_label(c, cards) for c in cards)], rows


def table(cards: list[dict]) -> str:
    """The benchmark table (`table_rows`) and the generation table (`generation_rows`) as aligned text."""
    parts = [text_table(*table_rows(c)) for c in ([x for x in cards if "results" in x],) if c]
    parts += [text_table(*generation_rows(c)) for c in ([x for x in cards if "agreement" in x],) if c]
    return "\n\n".join(parts)


def text_table(head: list[str], rows: list[list[str]]) -> str:
    """Rows under a header, as aligned text."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(x).ljust(w) for x, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def _matrix(cards: list[dict], rows_of, value_key) -> tuple:
    """Languages, values [run, lang] and their interval half-widths [2, run, lang] (NaN where missing)."""
    import numpy as np

    langs = [lang for lang in dict.fromkeys(x for c in cards for x in rows_of(c)) if lang != "_mean"]
    value = np.full((len(cards), len(langs)), np.nan)
    err = np.zeros((2, len(cards), len(langs)))
    for i, c in enumerate(cards):
        for j, lang in enumerate(langs):
            r = rows_of(c).get(lang)
            if r and r["n"]:
                value[i, j] = value_key(r)
                err[:, i, j] = value[i, j] - r["ci95"][0], r["ci95"][1] - value[i, j]
    return langs, value, err


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure as a PNG at the project's plot resolution and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plots(cards: list[dict], out: Path) -> list[Path]:
    """Per task: grouped bars with 95% intervals (<task>_bars.png) and a heatmap (<task>_heatmap.png); per
    prompt set of generation runs: language agreement bars (<set>_agreement.png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    labels, written = [_label(c, cards) for c in cards], []

    def bars(langs, value, err, title, ylabel, path):
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(langs) * max(1, len(cards) / 2)), 4))
        width = 0.8 / len(cards)
        for i, label in enumerate(labels):
            ax.bar(np.arange(len(langs)) + i * width - 0.4 + width / 2, value[i], width, yerr=err[:, i], capsize=2,
                   label=label)
        ax.set_xticks(np.arange(len(langs)), langs)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.legend(fontsize="small")
        written.append(save_figure(fig, path))

    for task in dict.fromkeys(t for c in cards for t in c.get("results", {})):
        langs, value, err = _matrix(cards, lambda c, task=task: c.get("results", {}).get(task, {}),
                                    lambda r: r.get("acc", r.get("em")))
        generative = any("em" in v for c in cards for v in c.get("results", {}).get(task, {}).values())
        bars(langs, value, err, task, "exact match (95% interval)" if generative else "accuracy (95% interval)",
             out / f"{task}_bars.png")
        fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(langs)), max(2, 0.6 * len(cards) + 1)))
        im = ax.imshow(value, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(np.arange(len(langs)), langs)
        ax.set_yticks(np.arange(len(cards)), labels)
        for i in range(len(cards)):
            for j in range(len(langs)):
                if not np.isnan(value[i, j]):
                    ax.text(j, i, f"{value[i, j]:.2f}", ha="center", va="center", color="w", fontsize=8)
        fig.colorbar(im, ax=ax)
        ax.set_title(f"{task}: {'exact match' if generative else 'accuracy'}")
        written.append(save_figure(fig, out / f"{task}_heatmap.png"))
    for prompt_set in dict.fromkeys(c["set"] for c in cards if "agreement" in c):
        langs, value, err = _matrix(cards, lambda c, s=prompt_set: c["agreement"] if c.get("set") == s else {},
                                    lambda r: r["agreement"])
        bars(langs, value, err, f"{Path(prompt_set).name}: answers in the prompt's language",
             "I/O language agreement (95% interval)", out / f"{Path(prompt_set).stem}_agreement.png")
    return written
