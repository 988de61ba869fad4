"""`python -m eval report RUN...`: the runs' results as one table (task/language x model) and PNG plots:
per-language accuracy bars with 95% intervals, and a model x language heatmap, per task."""

from __future__ import annotations

from pathlib import Path

from core.answer_health import FLAGS
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


def run_label(card: dict, cards: list[dict]) -> str:
    """The run's model, with its directory's name where another run has the same model."""
    name = display_name(card["model"])
    same = [c for c in cards if display_name(c["model"]) == name]
    return name if len(same) == 1 else f"{name} ({Path(card['_dir']).name})"


GENERATION_HEAD = ["set", "lang", "model", "n", "agreement [95%]", "healthy only", "LPR", "WPR", "line acc",
                   *FLAGS, "answered in"]


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
                rows.append([Path(prompt_set).name, lang, run_label(c, cards), str(r["n"]), agreement, healthy,
                             _share(lcb.get("lpr")), _share(lcb.get("wpr")), _share(lcb.get("acc")),
                             *(_share(flags.get(f)) for f in FLAGS),
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
    return ["task", "lang", *(run_label(c, cards) for c in cards)], rows


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


def _matrix(cards: list[dict], rows_of, value_key, ci_key=lambda r: r.get("ci95")) -> tuple:
    """Languages, values [run, lang], their interval half-widths [2, run, lang] (NaN and no interval where
    missing) and why a language with answers has no value [run, lang]: "n/i" where lid.176 cannot identify it
    (the row has no agreement), "none" where nothing was left to measure (no healthy answer, no line to score)."""
    import numpy as np

    langs = [lang for lang in dict.fromkeys(x for c in cards for x in rows_of(c)) if lang != "_mean"]
    value = np.full((len(cards), len(langs)), np.nan)
    err = np.zeros((2, len(cards), len(langs)))
    gaps = np.full((len(cards), len(langs)), "", dtype=object)
    for i, c in enumerate(cards):
        for j, lang in enumerate(langs):
            r = rows_of(c).get(lang)
            if not r or not r.get("n"):
                continue
            v, ci = value_key(r), ci_key(r)
            if v is None:
                gaps[i, j] = NOT_IDENTIFIED if "agreement" in r and r["agreement"] is None else "none"
                continue
            value[i, j] = v
            if ci:
                err[:, i, j] = v - ci[0], ci[1] - v
    return langs, value, err, gaps


NOT_IDENTIFIED = "n/i"
GAP_NOTES = {NOT_IDENTIFIED: "n/i: not identifiable by the language-ID model (lid.176), so no agreement and no LPR",
             "none": "none: nothing to measure (no healthy answer, or no line long enough to score)"}


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure as a PNG at the project's plot resolution and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _draw_bars(ax, langs: list[str], series: list[tuple], ylabel: str, title: str) -> set[str]:
    """Grouped bars on `ax`: per language one bar per series (label, values, half-widths or None, gaps or None,
    bar style); a gap ("n/i", "none") is written where its bar would be. Returns the gap kinds shown."""
    import numpy as np

    width, shown = 0.8 / len(series), set()
    for k, (label, value, err, gaps, style) in enumerate(series):
        x = np.arange(len(langs)) + k * width - 0.4 + width / 2
        ax.bar(x, value, width, yerr=err, capsize=2, label=label, **style)
        for xk, gap in zip(x, gaps if gaps is not None else []):
            if gap:
                ax.text(xk, 0.02, gap, rotation=90, ha="center", va="bottom", fontsize=7)
                shown.add(gap)
    ax.set_xticks(np.arange(len(langs)), langs)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(0, 1)
    return shown


def _figure(n_langs: int, n_bars: int, panels: int = 1):
    """A figure wide enough for n_bars bars per language, with `panels` panels one above the other."""
    import matplotlib.pyplot as plt

    width = min(16, max(7, 0.45 * n_langs * n_bars + 3.5))
    fig, axes = plt.subplots(panels, 1, figsize=(width, 1.5 + (3 if panels == 1 else 2) * panels), sharex=True,
                             squeeze=False)
    return fig, list(axes[:, 0])


def _finish(fig, axes: list, shown: set[str], path: Path) -> Path:
    """Legend beside the first panel (long run names wrapped), the notes on the gaps shown under the last, and
    the PNG."""
    import textwrap

    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].legend(handles, [textwrap.fill(x, 32) for x in labels], fontsize="small", loc="upper left",
                   bbox_to_anchor=(1.01, 1))
    if shown:
        axes[-1].set_xlabel("\n".join(GAP_NOTES[g] for g in sorted(shown)), fontsize=8)
    return save_figure(fig, path)


def plots(cards: list[dict], out: Path) -> list[Path]:
    """Per task: grouped bars with 95% intervals (<task>_bars.png) and a heatmap (<task>_heatmap.png). Per prompt
    set of generation runs: language agreement (<set>_agreement.png), LPR beside agreement over healthy answers
    (<set>_confusion.png) and each health flag's share (<set>_health.png)."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task in dict.fromkeys(t for c in cards for t in c.get("results", {})):
        runs = [c for c in cards if task in c.get("results", {})]
        written += _task_plots(runs, [run_label(c, cards) for c in runs], task, out)
    for prompt_set in dict.fromkeys(c["set"] for c in cards if "agreement" in c):
        runs = [c for c in cards if c.get("set") == prompt_set and "agreement" in c]
        written += _generation_plots(runs, [run_label(c, cards) for c in runs], Path(prompt_set), out)
    return written


def _task_plots(runs: list[dict], labels: list[str], task: str, out: Path) -> list[Path]:
    """A task's accuracy (or exact match) bars with 95% intervals, and its run x language heatmap."""
    import matplotlib.pyplot as plt
    import numpy as np

    langs, value, err, _ = _matrix(runs, lambda c: c["results"][task], lambda r: r.get("acc", r.get("em")))
    generative = any("em" in v for c in runs for v in c["results"][task].values())
    fig, axes = _figure(len(langs), len(runs))
    _draw_bars(axes[0], langs, [(label, value[i], err[:, i], None, {}) for i, label in enumerate(labels)],
               "exact match (95% interval)" if generative else "accuracy (95% interval)", task)
    bars = _finish(fig, axes, set(), out / f"{task}_bars.png")
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(langs)), max(2, 0.6 * len(runs) + 1)))
    im = ax.imshow(value, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(np.arange(len(langs)), langs)
    ax.set_yticks(np.arange(len(runs)), labels)
    for i in range(len(runs)):
        for j in range(len(langs)):
            if not np.isnan(value[i, j]):
                ax.text(j, i, f"{value[i, j]:.2f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax)
    ax.set_title(f"{task}: {'exact match' if generative else 'accuracy'}")
    return [bars, save_figure(fig, out / f"{task}_heatmap.png")]


def _generation_plots(runs: list[dict], labels: list[str], prompt_set: Path, out: Path) -> list[Path]:
    """A prompt set's three plots: agreement with 95% intervals; per run LPR (solid, Wilson interval) beside
    agreement over healthy answers (hatched); the share of answers with each health flag, one panel per flag."""
    import matplotlib.pyplot as plt

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = lambda i: {"color": colors[i % len(colors)], "edgecolor": "black", "linewidth": 0.4}  # noqa: E731
    rows = lambda c: c["agreement"]  # noqa: E731
    langs, value, err, gaps = _matrix(runs, rows, lambda r: r.get("agreement"))
    fig, axes = _figure(len(langs), len(runs))
    shown = _draw_bars(axes[0], langs, [(label, value[i], err[:, i], gaps[i], color(i))
                                        for i, label in enumerate(labels)],
                       "I/O language agreement (95% interval)",
                       f"{prompt_set.name}: answers (their own text) in the prompt's language")
    written = [_finish(fig, axes, shown, out / f"{prompt_set.stem}_agreement.png")]

    confusion = lambda r: r.get("confusion") or {}  # noqa: E731
    healthy = lambda r: r.get("healthy") or {}  # noqa: E731
    _, lpr, lpr_err, lpr_gaps = _matrix(runs, rows, lambda r: confusion(r).get("lpr"),
                                        lambda r: confusion(r).get("lpr_ci95"))
    _, ok, ok_err, ok_gaps = _matrix(runs, rows, lambda r: healthy(r).get("agreement"),
                                     lambda r: healthy(r).get("ci95"))
    series = []
    for i, label in enumerate(labels):
        series += [(f"{label}: LPR", lpr[i], lpr_err[:, i], lpr_gaps[i], color(i)),
                   (f"{label}: agreement, healthy answers", ok[i], ok_err[:, i], ok_gaps[i],
                    color(i) | {"hatch": "//"})]
    fig, axes = _figure(len(langs), 2 * len(runs))
    shown = _draw_bars(axes[0], langs, series, "share (95% interval)",
                       f"{prompt_set.name}: language confusion (LCB line pass rate, solid)\n"
                       "and agreement of the healthy answers (hatched)")
    written.append(_finish(fig, axes, shown, out / f"{prompt_set.stem}_confusion.png"))

    fig, axes = _figure(len(langs), len(runs), panels=len(FLAGS))
    for ax, flag in zip(axes, FLAGS):
        _, share, _, _ = _matrix(runs, rows, lambda r, f=flag: (r.get("flags") or {}).get(f))
        _draw_bars(ax, langs, [(label, share[i], None, None, color(i)) for i, label in enumerate(labels)],
                   f"share {flag}", f"{prompt_set.name}: answers flagged {flag}")
    written.append(_finish(fig, axes, set(), out / f"{prompt_set.stem}_health.png"))
    return written
