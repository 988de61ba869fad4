"""One analysis per seed: read the stage cards of a run, build its tables and plots, and say whether the
direction of the seed's central effect reproduced. Each returns a `report.Section`."""

from __future__ import annotations

from pathlib import Path

from core.languages import wilson
from eval.judge_protocols import get_protocol
from eval.paired import PAIRED_HEAD, POWER_NOTE, PairedDiff, paired_binary, paired_cells
from eval.report import save_figure
from experiments.agreement_tables import agreement_hits, agreement_series, checked_answers, generate_cards, health_table
from experiments.pairwise import pair_headline, pair_section, pair_verdict
from experiments.rating_scores import compare, verdict_value, weighted_section
from experiments.report import NOT_IDENTIFIED, Section, footnotes, md_table, rate_cell, stage_card, stage_items


def mix_languages(run_dir: Path, arm: str) -> set[str]:
    """The languages of an arm's training mix (empty for an untuned arm)."""
    card = stage_card(run_dir, f"data/{arm}")
    return {lang for lang, s in card.get("stats", {}).items() if isinstance(s, dict) and s.get("rows")}


def likert_by_lang(run_dir: Path, arm: str) -> dict[str, tuple[float, float, int]]:
    """lang -> (mean Likert helpfulness, 95% t-interval half-width, n) from the arm's judge run."""
    import numpy as np
    from scipy import stats

    by: dict[str, list[float]] = {}
    for r in stage_items(run_dir, f"judge/likert-{arm}"):
        if (value := verdict_value(r)) is not None:
            by.setdefault(r["lang"], []).append(value)
    out = {}
    for lang, v in by.items():
        half = float(stats.t.ppf(0.975, len(v) - 1) * stats.sem(v)) if len(v) > 1 and np.std(v) > 0 else 0.0
        out[lang] = (float(np.mean(v)), half, len(v))
    return out


def grouped_bars(langs: list[str], arms: list[str], labels: list[str], value, low, high, hatched, title: str,
                 ylabel: str, path: Path, ymax: float | None = 1.0, unmeasured: dict | None = None) -> Path:
    """Bars per language, one per arm, with interval whiskers; hatched where hatched[arm][lang] (in the mix); "n/i"
    written where unmeasured[arm] holds the language (lid.176 cannot identify it), with a note under the axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(min(14, max(7, 0.3 * len(langs) * len(arms))), 4.6))
    width = 0.8 / len(arms)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, arm in enumerate(arms):
        x = np.arange(len(langs)) + i * width - 0.4 + width / 2
        v = np.array([value[arm].get(lang, np.nan) for lang in langs])
        err = np.array([[v[j] - low[arm].get(lang, v[j]) for j, lang in enumerate(langs)],
                        [high[arm].get(lang, v[j]) - v[j] for j, lang in enumerate(langs)]])
        bars = ax.bar(x, v, width, yerr=err, capsize=2, color=colors[i % len(colors)], label=labels[i],
                      edgecolor="black", linewidth=0.4)
        for bar, lang in zip(bars, langs):
            if lang in hatched.get(arm, ()):
                bar.set_hatch("//")
            if lang in (unmeasured or {}).get(arm, ()):
                ax.text(bar.get_x() + bar.get_width() / 2, 0.02, NOT_IDENTIFIED, rotation=90, ha="center",
                        va="bottom", fontsize=7)
    ax.set_xticks(np.arange(len(langs)), langs)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ymax is not None:
        ax.set_ylim(0, ymax)
    note = "hatched: language in the tuning mix"
    if any((unmeasured or {}).values()):
        note += "; n/i: not identifiable by the language-ID model (lid.176), agreement not measured"
    ax.legend(fontsize="small", ncols=min(len(arms), 5), title=note,
              title_fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.08))
    return save_figure(fig, path)


def multi_i(exp, scale: str, run_dir: Path, plots: Path) -> Section:
    """Polyglots: I/O language agreement per language for Mono and Multi-1..3 (and the base), with 95%
    intervals, beside the answers' health and LPR; helpfulness (Likert); the claim is that Multi-i beats Mono
    outside English."""
    arms = list(exp.arms)
    cards = generate_cards(run_dir, arms)
    langs = exp.generate.langs or list(cards[arms[0]]["agreement"])
    mixes = {a: mix_languages(run_dir, a) for a in arms}
    rows = [[lang] + [rate_cell(cards[a]["agreement"].get(lang)) + (" *" if lang in mixes[a] else "") for a in arms]
            for lang in langs]
    checked = {a: checked_answers(run_dir, a) for a in arms}
    hits = {a: agreement_hits(run_dir, a, checked[a]) for a in arms}
    pooled, pooled_healthy = {}, {}
    for a in arms:
        non_en = [v for (lang, _), v in hits[a].items() if lang != "en" and lang in langs]
        pooled[a] = wilson(sum(non_en), len(non_en))
        healthy = [c.agrees for c in checked[a] if (c.lang, c.id) in hits[a] and c.lang != "en" and c.lang in langs
                   and c.health.healthy]
        pooled_healthy[a] = wilson(sum(healthy), len(healthy))
    rows.append(["**non-English**"] + [f"{pooled[a].rate:.2f} [{pooled[a].low:.2f}, {pooled[a].high:.2f}]"
                                       for a in arms])
    rows.append(["**non-English, healthy answers**"]
                + [f"{pooled_healthy[a].rate:.2f} [{pooled_healthy[a].low:.2f}, {pooled_healthy[a].high:.2f}] "
                   f"(n={pooled_healthy[a].n})" for a in arms])
    md = ["### I/O language agreement (answers' own text in the prompt's language, 95% Wilson intervals; * = in "
          "the mix; the non-English rows pool the languages lid.176 identifies)", "",
          md_table(["lang", *map(exp.label, arms)], rows), "", *footnotes(rows),
          *health_table(exp, cards, arms, langs)]
    value, low, high, unmeasured = agreement_series(cards, arms)
    figs = [grouped_bars(langs, arms, [exp.label(a) for a in arms], value, low, high, mixes,
                         f"{exp.name}: I/O language agreement ({scale})", "answers in the prompt's language",
                         plots / "agreement.png", unmeasured=unmeasured)]
    likert_md, likert_figs = _likert_section(exp, scale, run_dir, plots, arms, langs, mixes)
    md += likert_md
    figs += likert_figs

    mono = next(a for a in arms if mixes[a] == {"en"})
    multis = [a for a in arms if len(mixes[a]) > 1]
    non_en = {a: {k: v for k, v in hits[a].items() if k[0] != "en"} for a in arms}
    tests = {a: paired_binary(non_en[a], non_en[mono]) for a in multis}
    rows = [[exp.label(a), f"{d.mean_a:.3f}", f"{d.mean_b:.3f}", *paired_cells(d), d.only_a, d.only_b]
            for a, d in tests.items()]
    md += [f"### Multi-i vs {exp.label(mono)} outside English (paired prompts, exact McNemar test)", "", POWER_NOTE, "",
           md_table(["arm", "agreement", exp.label(mono), *PAIRED_HEAD, "only the arm in the prompt's language",
                     f"only {exp.label(mono)}"], rows), ""]
    likert_md, likert_numbers = _likert_vs(exp, run_dir, mono, multis)
    md += likert_md
    numbers = {"non_english_agreement": {exp.label(a): round(pooled[a].rate, 4) for a in arms},
               "non_english_agreement_healthy": {exp.label(a): round(pooled_healthy[a].rate, 4) for a in arms},
               f"vs_{exp.label(mono)}": {exp.label(a): d.numbers() for a, d in tests.items()},
               **({f"likert_vs_{exp.label(mono)}": likert_numbers} if likert_numbers else {})}
    if not tests:
        return Section("\n".join(md), figs, "not measured", "The experiment has no Multi-i arm to compare with Mono.",
                       numbers)
    better = [a for a, d in tests.items() if d.diff > 0]
    significant = [a for a in better if tests[a].significant]
    reproduced = "yes" if len(better) == len(tests) else "mixed" if better else "no"
    if reproduced == "yes" and not significant:
        reproduced += " (not significant)"
    verdict = (f"Outside English, {len(better)} of {len(tests)} Multi-i arms answered in the prompt's language more "
               f"often than {exp.label(mono)} ({len(significant)} significantly at p < 0.05).")
    chance = {exp.label(a): d for a, d in tests.items() if not d.significant}
    if chance:
        verdict += " Within chance: " + no_effects(chance) + "."
    headline = (f"non-English agreement {exp.label(mono)} {pooled[mono].rate:.2f}; "
                + "; ".join(f"{exp.label(a)} {pooled[a].rate:.2f} ({_brief(d)})" for a, d in tests.items()))
    return Section("\n".join(md), figs, reproduced, verdict, numbers, headline)


def no_effects(diffs: dict[str, PairedDiff], unit: str = "") -> str:
    """'no effect larger than 0.11 (Multi-1), 0.12 (Multi-3) detectable at this size (n=90)' for the comparisons
    that found none, each with its interval."""
    ns = {d.n for d in diffs.values()}
    if len(ns) > 1 or any(d.mde is None for d in diffs.values()):
        return "; ".join(f"{name} {d.interval()}: {d.no_effect(unit)}" for name, d in diffs.items())
    intervals = ", ".join(f"{name} {d.interval()}" for name, d in diffs.items())
    mdes = ", ".join(f"{d.mde:.2f}{unit}" + (f" ({name})" if len(diffs) > 1 else "") for name, d in diffs.items())
    return f"{intervals}; no effect larger than {mdes} detectable at this size (n={ns.pop()})"


def _brief(d: PairedDiff) -> str:
    """'-0.01 [-0.08, +0.06], p = 1, MDE 0.11, n=90' for the README's one line."""
    interval = f" [{d.ci95[0]:+.2f}, {d.ci95[1]:+.2f}]" if d.ci95 else ""
    mde = "not measurable" if d.mde is None else f"{d.mde:.2f}"
    return f"{d.diff:+.2f}{interval}, p = {d.p:.2g}, MDE {mde}, n={d.n}"


def _likert_vs(exp, run_dir: Path, control: str, arms: list[str]) -> tuple[list[str], dict]:
    """Helpfulness of each arm against `control` outside English on the prompts both had judged (paired t-test,
    bootstrap interval, MDE), and beside it the same on the verdict probabilities' expected scores; nothing where
    the control was not judged."""
    judged = [a for a in arms if (run_dir / f"judge/likert-{a}").is_dir()]
    if not judged or not (run_dir / f"judge/likert-{control}").is_dir():
        return [], {}
    stage_of = "judge/likert-{}".format
    tests = compare(run_dir, stage_of, control, judged, arm_first=False)
    rows = [[exp.label(a), f"{d.mean_a:.2f}", f"{d.mean_b:.2f}", *paired_cells(d)] for a, d in tests.items()]
    weighted_md, weighted, _ = weighted_section(exp, run_dir, stage_of, control, judged, arm_first=False)
    return ([f"### Helpfulness vs {exp.label(control)} outside English (paired prompts, paired t-test)", "",
             md_table(["arm", "Likert", exp.label(control), *PAIRED_HEAD], rows), "", *weighted_md],
            {exp.label(a): d.numbers() for a, d in tests.items()} | ({"expected_score": weighted} if weighted else {}))


def _likert_section(exp, scale: str, run_dir: Path, plots: Path, arms: list[str], langs: list[str],
                    mixes: dict) -> tuple[list[str], list[Path]]:
    """The Likert helpfulness table and bars of the arms that were judged (nothing where none was)."""
    likert = {a: likert_by_lang(run_dir, a) for a in arms if (run_dir / f"judge/likert-{a}").is_dir()}
    if not likert:
        return [], []
    lrows = [[lang] + [f"{likert[a][lang][0]:.2f} ± {likert[a][lang][1]:.2f}" if lang in likert[a] else "-"
                       for a in likert] for lang in langs]
    unparsed = {a: stage_card(run_dir, f"judge/likert-{a}").get("results", {}).get("unparseable", {})
                for a in likert}
    lrows.append(["unparseable"] + [f"{unparsed[a].get('n', 0)} of {unparsed[a].get('of', 0)}" for a in likert])
    md = ["### Helpfulness (Likert 1-6, mean ± 95% t-interval; an answer in another language scores 1)", "",
          md_table(["lang", *map(exp.label, likert)], lrows), ""]
    lv = {a: {lang: m for lang, (m, _, _) in likert[a].items()} for a in likert}
    ll = {a: {lang: m - h for lang, (m, h, _) in likert[a].items()} for a in likert}
    lh = {a: {lang: m + h for lang, (m, h, _) in likert[a].items()} for a in likert}
    return md, [grouped_bars(langs, list(likert), [exp.label(a) for a in likert], lv, ll, lh, mixes,
                             f"{exp.name}: helpfulness ({scale})", "Likert 1-6", plots / "helpfulness.png", ymax=6.0)]


def _bench_hits(run_dir: Path, arm: str) -> dict[tuple[str, str, str], bool]:
    """(task, lang, id) -> whether the arm got the item right (accuracy, or exact match for generative tasks)."""
    return {(r["task"], r["lang"], r["id"]): bool(r.get("acc", r.get("em")))
            for r in stage_items(run_dir, f"bench/{arm}")}


def bench_before_after(exp, scale: str, run_dir: Path, plots: Path) -> Section:
    """Benchmarks per task and language for every arm; the claim is that the last arm (the treatment) beats the
    arm before it (the control: the base, or the same data without the treatment), tested on paired items."""
    arms = list(exp.arms)
    cards = {a: stage_card(run_dir, f"bench/{a}").get("results", {}) for a in arms}
    cells = [(task, lang) for task in cards[arms[0]] for lang in cards[arms[0]][task] if lang != "_mean"]
    rows = [[task, lang] + [rate_cell(cards[a][task].get(lang)) for a in arms] for task, lang in cells]
    md = ["### Benchmarks (accuracy or exact match, 95% Wilson intervals)", "",
          md_table(["task", "lang", *map(exp.label, arms)], rows), ""]
    figs = []
    for task in dict.fromkeys(t for t, _ in cells):
        langs = [lang for t, lang in cells if t == task]
        key = lambda r: r.get("acc", r.get("em"))  # noqa: E731
        value = {a: {lang: key(cards[a][task][lang]) for lang in langs} for a in arms}
        low = {a: {lang: cards[a][task][lang]["ci95"][0] for lang in langs} for a in arms}
        high = {a: {lang: cards[a][task][lang]["ci95"][1] for lang in langs} for a in arms}
        figs.append(grouped_bars(langs, arms, [exp.label(a) for a in arms], value, low, high, {},
                                 f"{task} ({scale})", "accuracy / exact match", plots / f"{task}.png"))
    treated, control = arms[-1], arms[-2]
    d = paired_binary(_bench_hits(run_dir, treated), _bench_hits(run_dir, control))
    only_t, only_c, p = d.only_a, d.only_b, d.p
    per_cell = []
    for task, lang in cells:
        t, c = cards[treated][task][lang], cards[control][task][lang]
        per_cell.append(t.get("acc", t.get("em")) - c.get("acc", c.get("em")))
    better = sum(x > 0 for x in per_cell)
    worse = sum(x < 0 for x in per_cell)
    md += [f"### {exp.label(treated)} vs {exp.label(control)} on the same items (exact McNemar test)", "",
           POWER_NOTE, "",
           md_table(["cells better", "cells worse", "cells equal", f"items only {exp.label(treated)} got right",
                     f"items only {exp.label(control)} got right", *PAIRED_HEAD],
                    [[better, worse, len(cells) - better - worse, only_t, only_c, *paired_cells(d)]]), ""]
    reproduced = "yes" if only_t > only_c and better > worse else "no" if only_t < only_c and worse > better \
        else "mixed"
    verdict = (f"{exp.label(treated)} was better than {exp.label(control)} in {better} of {len(cells)} task/language "
               f"cells and worse in {worse}; on paired items {only_t} vs {only_c}, a difference of {d.interval()} "
               f"(McNemar p = {p:.3g}).")
    if not d.significant:
        if reproduced in ("yes", "no"):
            reproduced += " (not significant)"
        verdict += f" The difference is within chance: {d.no_effect()}."
    headline = (f"{exp.label(treated)} vs {exp.label(control)}: items {only_t} vs {only_c} ({_brief(d)}); cells "
                f"{better} better, {worse} worse of {len(cells)}")
    numbers: dict = {}
    j = next((j for j in exp.judge if get_protocol(j.mode).pairwise), None)
    if j:  # the judge's view, reported beside the benchmarks (the verdict above stays the benchmarks')
        judge_md, numbers["pairwise"] = _judge_beside(exp, run_dir, j)
        md += judge_md
        headline += "; pairwise judge: " + pair_headline(numbers["pairwise"])
    return Section("\n".join(md), figs, reproduced, verdict, numbers |
                   {"cells_better": better, "cells_worse": worse, "only_treated": only_t, "only_control": only_c,
                    "p": round(p, 4), "paired": d.numbers()}, headline)


def _judge_beside(exp, run_dir: Path, j) -> tuple[list[str], dict]:
    """The pairwise table and the judge's own verdict (strict rule, flip limit), shown beside a claim that other
    numbers decide."""
    md, res = pair_section(exp, run_dir, j)
    reproduced, verdict, numbers = pair_verdict(exp, res, j)
    return md + [f"**The pairwise judge (shown beside, not deciding):** {reproduced}. {verdict}", ""], \
        numbers | {"reproduced": reproduced}


def pairwise_claim(exp, scale: str, run_dir: Path, plots: Path) -> Section:
    """A pairwise judge decides the claim: the first arm of the (first) pairwise judging should win. Agreement
    is reported too, since a model answering in the wrong language loses whatever the judge says."""
    section = agreement_only(exp, scale, run_dir, plots)
    j = next(j for j in exp.judge if get_protocol(j.mode).pairwise)
    md, res = pair_section(exp, run_dir, j)
    reproduced, verdict, numbers = pair_verdict(exp, res, j)
    return Section(section.markdown + "\n" + "\n".join(md), section.plots, reproduced, verdict, numbers,
                   pair_headline(numbers))


def agreement_only(exp, scale: str, run_dir: Path, plots: Path) -> Section:
    """The agreement table and bars of every arm's answers, and their health and LPR (no claim)."""
    arms = [a for a in exp.arms if (run_dir / f"generate/{a}").is_dir()]
    cards = generate_cards(run_dir, arms)
    langs = exp.generate.langs or list(cards[arms[0]]["agreement"])
    rows = [[lang] + [rate_cell(cards[a]["agreement"].get(lang)) for a in arms] for lang in langs]
    md = ["### I/O language agreement of the answers judged (their own text, 95% Wilson intervals)", "",
          md_table(["lang", *map(exp.label, arms)], rows), "", *footnotes(rows),
          *health_table(exp, cards, arms, langs)]
    value, low, high, unmeasured = agreement_series(cards, arms)
    fig = grouped_bars(langs, arms, [exp.label(a) for a in arms], value, low, high, {},
                       f"{exp.name}: I/O language agreement ({scale})", "answers in the prompt's language",
                       plots / "agreement.png", unmeasured=unmeasured)
    return Section("\n".join(md), [fig])


def parallel_mono(exp, scale: str, run_dir: Path, plots: Path) -> Section:
    """MT-Bench-X single scores per language and arm (the claim: parallel > sampled and mono outside English),
    compared on paired prompts, plus the pairwise comparison with its position-bias rate."""
    import numpy as np

    arms = list(exp.arms)
    base = agreement_only(exp, scale, run_dir, plots)
    langs = exp.generate.langs
    scores: dict[str, dict[str, list[float]]] = {}
    for a in arms:
        for r in stage_items(run_dir, f"judge/single-{a}"):
            if (value := verdict_value(r)) is not None:
                scores.setdefault(a, {}).setdefault(r["lang"], []).append(value)
    rows = [[lang] + [f"{np.mean(scores[a][lang]):.2f} (n={len(scores[a][lang])})"
                      if lang in scores.get(a, {}) else "-" for a in arms] for lang in langs]
    unparsed = {a: stage_card(run_dir, f"judge/single-{a}").get("results", {}).get("unparseable", {}) for a in arms}
    rows.append(["unparseable"] + [f"{unparsed[a].get('n', 0)} of {unparsed[a].get('of', 0)}" for a in arms])
    md = [base.markdown, "### MT-Bench-X single scores (1-10, both turns)", "",
          md_table(["lang", *map(exp.label, arms)], rows), ""]
    others = [a for a in arms if a != "parallel"]
    stage_of = "judge/single-{}".format
    tests = compare(run_dir, stage_of, "parallel", others) if "parallel" in arms else {}
    weighted_md, weighted, separation = weighted_section(exp, run_dir, stage_of, "parallel", others) \
        if tests else ([], {}, "")
    if tests:
        md += ["### Parallel vs each mix outside English (paired prompts, both turns averaged; paired t-test)", "",
               POWER_NOTE, "", md_table(["arm", exp.label("parallel"), "arm's score", *PAIRED_HEAD],
                                        [[exp.label(a), f"{d.mean_a:.2f}", f"{d.mean_b:.2f}", *paired_cells(d)]
                                         for a, d in tests.items()]), "", *weighted_md]
    j = next((j for j in exp.judge if j.mode == "pairwise"), None)
    numbers: dict = {}
    judge_line = ""
    if j:
        judge_md, numbers["pairwise"] = _judge_beside(exp, run_dir, j)
        md += judge_md
        judge_line = "; pairwise judge: " + pair_headline(numbers["pairwise"])
    non_en = {a: [v for lang, vs in scores.get(a, {}).items() if lang != "en" for v in vs] for a in arms}
    means = {a: float(np.mean(v)) if v else None for a, v in non_en.items()}
    numbers["non_english_single_score"] = means
    if weighted:
        numbers["expected_score"] = weighted
    if not tests or any(d.n == 0 for d in tests.values()):
        return Section("\n".join(md), base.plots, "not measured",
                       "Too few parseable single scores outside English to compare the mixes.", numbers,
                       "too few parseable single scores outside English" + judge_line)
    numbers["vs_parallel"] = {exp.label(a): d.numbers() for a, d in tests.items()}
    given = {v for a in arms for vs in scores.get(a, {}).values() for v in vs}
    if len(given) == 1:
        score = given.pop()
        return Section("\n".join(md), base.plots, "not measured",
                       f"The judge gave every answer of every arm the same score ({score:g}): it did not "
                       f"tell the mixes apart. {separation}".strip(), numbers,
                       f"every single score {score:g}: not measured" + judge_line)
    beats = [a for a, d in tests.items() if d.diff > 0]
    significant = [a for a in beats if tests[a].significant]
    reproduced = "yes" if len(beats) == len(others) else "mixed" if beats else "no"
    if reproduced != "mixed" and not any(d.significant for d in tests.values()):
        reproduced += " (not significant)"
    verdict = ("Outside English, on paired prompts, the parallel mix scored "
               + ", ".join(f"{d.mean_a:.2f} against {exp.label(a)}'s {d.mean_b:.2f}" for a, d in tests.items())
               + f" ({len(significant)} of {len(others)} mixes significantly lower at p < 0.05).")
    chance = {exp.label(a): d for a, d in tests.items() if not d.significant}
    if chance:
        verdict += " Within chance: " + no_effects(chance, " points") + "."
    if separation:
        verdict += " " + separation
    headline = "non-English single score: " + "; ".join(f"parallel vs {exp.label(a)} {_brief(d)}"
                                                         for a, d in tests.items()) + judge_line
    return Section("\n".join(md), base.plots, reproduced, verdict, numbers, headline)
