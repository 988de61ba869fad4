"""report.md of an experiment run: the seed's claim, the setup (models, data, steps), the analysis's tables and
plots, whether the direction of the effect reproduced, and what each stage cost. Rewritten after every run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from core.records import read_jsonl
from core.run_dir import CARD, RunDir
from eval.report import NOT_IDENTIFIED
from experiments.stages import wall_minutes


@dataclass
class Section:
    """What an analysis found: markdown, the plots it drew, and the verdict on the claim."""

    markdown: str
    plots: list[Path] = field(default_factory=list)
    reproduced: str = "not measured"  # "yes", "no", "mixed" or "not measured", with the reason in `verdict`
    verdict: str = ""
    numbers: dict = field(default_factory=dict)  # the headline numbers, also kept in the run's card
    headline: str = ""  # the deciding numbers in one line (the README's table)


def md_table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(map(str, head)) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(str(x) for x in row) + " |" for row in rows])


NOT_IDENTIFIED_NOTE = ("n/i: the language-ID model (lid.176) cannot identify this language, so no answer can be "
                       "detected in it: agreement and LPR are not measured (the health flags still are).")


def rate_cell(r: dict | None) -> str:
    """0.53 [0.30, 0.75] from a {agreement|acc|em, ci95} result; "n/i" where agreement could not be measured (a
    language lid.176 cannot identify: `footnotes` explains it under the table)."""
    if not r or not r.get("n"):
        return "-"
    value = r.get("agreement", r.get("acc", r.get("em")))
    if value is None:
        return NOT_IDENTIFIED if "agreement" in r else "-"
    ci = r.get("ci95")
    return f"{value:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def footnotes(rows: list[list]) -> list[str]:
    """The note on "n/i" cells, as markdown lines, where the table has one."""
    shown = any(str(x).startswith(NOT_IDENTIFIED) for row in rows for x in row)
    return [NOT_IDENTIFIED_NOTE, ""] if shown else []


def stage_card(run_dir: Path, stage: str) -> dict:
    return RunDir(run_dir / stage).read_card() or {}


def stage_items(run_dir: Path, stage: str) -> list[dict]:
    return read_jsonl(run_dir / stage / "items.jsonl")


def _numerics(card: dict) -> str:
    """Which CPU kernels computed the run: rerun on the same ones, it gives the same bytes (docs/determinism.md)."""
    n = card.get("versions", {}).get("numerics")
    return (f"; {n['cpu']}, {n['simd']} kernels (a rerun on the same kernels gives the same bytes; another SIMD "
            f"level trains different last bits, docs/determinism.md)") if n else ""


def write_report(exp, scale: str, run, out: Path, log=print) -> dict:
    """Run the experiment's analysis and write out/report.md (+ plots in out/plots); returns its verdict."""
    from experiments import analyses

    plots_dir = out / "plots"
    plots_dir.mkdir(exist_ok=True)
    section: Section = getattr(analyses, exp.analysis)(exp, scale, out, plots_dir)
    s = exp.scales[scale]
    stages = run.card["stages"]
    evaluated = f"GGUF {s.export} exports (merged, verified)" if s.export else "transformers + adapter"
    lines = [f"# {exp.name} ({scale} scale)", "", f"**Seed:** {exp.seed}", "", f"**Claim:** {exp.claim}", "",
             f"**Reproduced at this scale:** {section.reproduced}. {section.verdict}", "",
             "## Setup", "",
             f"- Base model: `{s.base}`; training config `{s.train}` with {json.dumps(s.train_overrides)}",
             f"- Evaluated as: {evaluated}",
             f"- Per language limit: {s.limit}; max tokens per answer: {s.max_tokens}; judge: `{s.judge}`",
             f"- Command: `python -m experiments run {exp.name} --scale {scale}{_data_dir(run.card)}`; machine: "
             f"{run.card.get('machine', 'not recorded')}{_numerics(run.card)}",
             ""]
    if exp.notes:
        lines += ["## What differs from the paper", "", exp.notes.strip(), ""]
    arms = []
    for name, arm in exp.arms.items():
        data = stages.get(f"data/{name}", {}).get("results", {})
        train = stages.get(f"train/{name}", {}).get("results", {})
        what = arm.recipe or arm.xinstruct or "untuned base"
        langs = ", ".join(f"{k} {v}" for k, v in data.get("languages", {}).items()) or "-"
        arms.append([exp.label(name), what, data.get("rows", "-"), langs, train.get("step", "-"),
                     _num(train.get("loss")), _num(train.get("eval_loss"))])
    lines += ["## Arms", "", md_table(["arm", "data", "rows", "rows per language", "steps", "train loss",
                                         "eval loss"], arms), ""]
    for name, arm in exp.arms.items():  # the X-Instruction pipeline's own numbers: what the filter did
        pipeline = stage_card(out, f"data/{name}")
        if arm.xinstruct and pipeline.get("stages"):
            from trainer.xinstruct.pipeline import summary

            lines += [f"{exp.label(name)} pipeline (trainer.xinstruct):", "", "```", summary(pipeline), "```", ""]
    held = _held_out(stages)
    if held is not None:  # a language with 30 rows is scored on 1 held-out row: say so next to its loss
        lines += [f"Eval loss is per language on the {held:.0%} of each language's rows held out from training"
                  f"; for a language with few rows that is one or two rows, and its eval loss is noise.", ""]
    lines += ["## Results", "", section.markdown, ""]
    lines += [f"![{p.stem}](plots/{p.name})" for p in section.plots] + [""]
    lines += ["## Stages", "", md_table(["stage", "status", "seconds"],
                                        [[k, v["status"], v.get("seconds", "-")] for k, v in stages.items()]), "",
              f"Total: {sum(v.get('seconds', 0) for v in stages.values()) / 60:.1f} min of stage time"
              + _wall(run.card) + ".", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    log(f"report: {out / 'report.md'} (reproduced: {section.reproduced})")
    return {"reproduced": section.reproduced, "verdict": section.verdict, "numbers": section.numbers,
            "headline": section.headline, "plots": [str(p) for p in section.plots]}


def _held_out(stages: dict) -> float | None:
    """The training stages' eval_fraction, where some arm has an eval loss to read it by."""
    fractions = {v.get("inputs", {}).get("train", {}).get("eval_fraction") for k, v in stages.items()
                 if k.startswith("train/") and v.get("results", {}).get("eval_loss") is not None} - {None, 0}
    return fractions.pop() if len(fractions) == 1 else None


def _data_dir(card: dict) -> str:
    data_dir = card.get("data_dir", ".")
    return "" if data_dir == "." else f" --data-dir {data_dir}"


def _finished(card: dict) -> str:
    runs = card.get("invocations")
    return f"; last run finished {runs[-1]['finished'][:10]}" if runs else ""


def _wall(card: dict) -> str:
    minutes = wall_minutes(card)
    return f"; wall clock {minutes:.1f} min (model loading and serving included)" if minutes is not None else ""


def _num(x) -> str:
    """A loss, or per-language losses ({"en": 1.56, "zh": 2.1} -> "en 1.560, zh 2.100")."""
    if isinstance(x, dict):
        return ", ".join(f"{k} {v:.3f}" for k, v in x.items()) or "-"
    return f"{x:.3f}" if isinstance(x, (int, float)) else "-"


def collect(run_dirs: list[Path], out: Path) -> Path:
    """docs/results.md from finished runs: per run its command, verdict, result tables and stage time (a run's
    section replaces that experiment's, the others stay); the plots are copied beside it
    (out.parent/results/NAME-SCALE/)."""
    import shutil

    parts = ["# Measured results", "",
             "Collected from the experiment runs' `report.md` by `python -m experiments collect RUN_DIR... --out "
             f"{out}`. Each section was produced by the command it names, on the machine it names.", ""]
    sections = _page_sections(out)
    for run_dir in run_dirs:
        card = RunDir(run_dir).read_card()
        if card is None or not (run_dir / "report.md").is_file():
            raise ConfigError(f"{run_dir} is not a finished experiment run (no {CARD} and report.md); run it with "
                              f"`python -m experiments run` first, or leave it out.")
        text = (run_dir / "report.md").read_text(encoding="utf-8")
        name = f"{card['experiment']}-{card['scale']}"
        results = text.split("## Results", 1)[1].split("## Stages", 1)[0].strip()
        head = text.split("## Setup", 1)[0].strip().splitlines()
        setup = text.split("## Setup", 1)[1].split("\n## ", 1)[0].strip()
        arms = text.split("## Arms", 1)[1].split("\n## ", 1)[0].strip() if "## Arms" in text else ""
        stages = card["stages"]
        minutes = sum(v.get("seconds", 0) for v in stages.values()) / 60
        plots = out.parent / "results" / name
        plots.mkdir(parents=True, exist_ok=True)
        for png in (run_dir / "plots").glob("*.png"):
            shutil.copy(png, plots / png.name)
        results = results.replace("](plots/", f"](results/{name}/")
        machine = card.get("machine", "an unrecorded machine")
        sections[f"## {card['experiment']} ({card['scale']})"] = "\n".join(
            [*head[2:], "", setup, "", f"Stage time: {minutes:.1f} min on {machine}{_wall(card)}{_finished(card)}.",
             "", *(["### Arms", "", arms, ""] if arms else []), results, ""])
    for title, body in sections.items():
        parts += [title, "", body]
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


def _page_sections(page: Path) -> dict[str, str]:
    """The "## EXPERIMENT (scale)" sections of an existing results page, in order: a collect of some runs keeps
    the sections of the others as they were (each names its own command and date)."""
    if not page.is_file():
        return {}
    chunks = ("\n" + page.read_text(encoding="utf-8")).split("\n## ")[1:]
    return {f"## {c.split(chr(10), 1)[0]}": c.split("\n", 1)[1].strip("\n") + "\n" for c in chunks}
