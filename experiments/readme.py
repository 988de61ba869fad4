"""The README's table of measured experiments, written from the run cards and reports (`python -m experiments
collect RUN_DIR... --readme README.md`), so no number in it is typed by hand: per experiment its wall clock,
the verdict and the numbers that decided it, the minimum detectable effect among them."""

from __future__ import annotations

import re
from pathlib import Path

from core.markers import update_marked
from core.run_dir import RunDir
from experiments.report import md_table
from experiments.stages import wall_minutes

MARKER = "experiments"


def _setup(report: str, pattern: str) -> str | None:
    """One value from report.md's Setup list (the base model, the per language limit, the judge)."""
    m = re.search(pattern, report)
    return m.group(1) if m else None


def _span(values: list) -> str:
    """'12-24' for a range of numbers, '12' for one; '-' for none."""
    values = sorted(set(values))
    return "-" if not values else str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


def _joined(values: list) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in values if v and v != "None")) or "not recorded"


def _spans(card: dict) -> list[tuple[float, float]]:
    """(start, end) in epoch seconds of each invocation that ran stages."""
    from datetime import datetime

    ends = [(datetime.strptime(x["finished"], "%Y-%m-%dT%H:%M:%SZ").timestamp(), x["seconds"])
            for x in card.get("invocations", [])]
    return [(end - seconds, end) for end, seconds in ends]


def _together(spans: list[list[tuple[float, float]]]) -> str:
    """Whether the runs' invocations overlapped in time (they shared the machine) or ran one after another."""
    flat = [(s, e, i) for i, run in enumerate(spans) for s, e in run]
    overlap = any(a[2] != b[2] and a[0] < b[1] and b[0] < a[1] for a in flat for b in flat)
    together = "some of them at the same time" if overlap else "no two of them at once"
    return together + " (a wall clock includes any other work on the machine)"


def _judges(judges: list) -> str:
    named = _joined(judges)
    return "no judge" if named == "not recorded" else f"`{named}` as the judge"


def readme_section(run_dirs: list[Path]) -> str:
    """The markdown between the README's experiments markers: what was measured where, one row per run, and how
    large a test it was."""
    rows, scales, machines, dates, bases, judges, steps, limits, spans = [], [], [], [], [], [], [], [], []
    for run_dir in run_dirs:
        card = RunDir(run_dir).read_card() or {}
        report = (run_dir / "report.md").read_text(encoding="utf-8")
        verdict = card.get("report", {})
        minutes = wall_minutes(card)
        if minutes is None:  # a card from before invocations were timed: the stages' own time
            minutes = sum(v.get("seconds", 0) for v in card["stages"].values()) / 60
        rows.append([f"`{card['experiment']}`", f"{minutes:.1f} min", verdict.get("reproduced", "not reported"),
                     verdict.get("headline") or verdict.get("verdict", "")])
        scales.append(card["scale"])
        machines.append(card.get("machine"))
        dates += [x["finished"][:10] for x in card.get("invocations", [])[-1:]]
        spans.append(_spans(card))
        bases.append(_setup(report, r"- Base model: `([^`]+)`"))
        judges.append(_setup(report, r"judge: `([^`]+)`"))
        limits += [int(x) for x in [_setup(report, r"- Per language limit: (\d+)")] if x]
        steps += [v["results"]["step"] for k, v in card["stages"].items()
                  if k.startswith("train/") and isinstance(v.get("results", {}).get("step"), int)]
    return "\n".join([
        f"Measured at the {_joined(scales)} scale on {_joined(machines)}, {_together(spans)}; base model "
        f"`{_joined(bases)}`; runs finished {_joined(sorted(dates))}. The tables and plots are in `docs/results.md`, "
        "each with its command. Written from the run cards by `python -m experiments collect RUN_DIR... --out "
        "docs/results.md --readme README.md`:", "",
        md_table(["experiment", "wall clock", "reproduced at this scale?", "what decided it (difference [95% paired "
                  "bootstrap], p, MDE: the smallest effect detectable at α = 0.05 with 80% power)"], rows), "",
        f"At this scale the LoRAs trained for {_span(steps)} steps, on {_span(limits)} prompts or items per language, "
        f"with {_judges(judges)}: a test that the whole pipeline runs and reports honestly, not "
        "evidence about the seeds' claims. A difference below a row's MDE could not have been seen."])


def write_readme(run_dirs: list[Path], readme: Path) -> bool:
    """Rewrite the README's experiments section from the runs; False where the README has no such markers."""
    return update_marked(readme, MARKER, readme_section(run_dirs))
