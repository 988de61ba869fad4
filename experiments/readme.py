"""The README's table of measured experiments, written from the run cards and reports (`python -m experiments
collect RUN_DIR... --readme README.md`), so no number in it is typed by hand: per experiment its wall clock,
the verdict and the numbers that decided it, the minimum detectable effect among them. A collect of some runs
keeps the other experiments' rows from the summaries the last collect stored (docs/results.json)."""

from __future__ import annotations

import re
from pathlib import Path

from core.markers import update_marked
from core.readers import read_json_document
from core.run_dir import RunDir, write_json
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


def run_summary(run_dir: Path) -> dict:
    """What the README's table needs from one finished run: its card's verdict and timing, its report's setup."""
    card = RunDir(run_dir).read_card() or {}
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    verdict = card.get("report", {})
    minutes = wall_minutes(card)
    if minutes is None:  # a card from before invocations were timed: the stages' own time
        minutes = sum(v.get("seconds", 0) for v in card["stages"].values()) / 60
    limit = _setup(report, r"- Per language limit: (\d+)")
    return {"experiment": card["experiment"], "scale": card["scale"], "minutes": round(minutes, 2),
            "reproduced": verdict.get("reproduced", "not reported"),
            "decided_by": verdict.get("headline") or verdict.get("verdict", ""), "machine": card.get("machine"),
            "finished": [x["finished"][:10] for x in card.get("invocations", [])[-1:]], "spans": _spans(card),
            "base": _setup(report, r"- Base model: `([^`]+)`"), "judge": _setup(report, r"judge: `([^`]+)`"),
            "limit": int(limit) if limit else None,
            "steps": [v["results"]["step"] for k, v in card["stages"].items()
                      if k.startswith("train/") and isinstance(v.get("results", {}).get("step"), int)]}


def readme_section(summaries: list[dict]) -> str:
    """The markdown between the README's experiments markers: what was measured where, one row per run
    (`run_summary`), and how large a test it was."""
    rows = [[f"`{s['experiment']}`", f"{s['minutes']:.1f} min", s["reproduced"], s["decided_by"]] for s in summaries]
    steps = [n for s in summaries for n in s["steps"]]
    limits = [s["limit"] for s in summaries if s["limit"]]
    dates = sorted(d for s in summaries for d in s["finished"])
    return "\n".join([
        f"Measured at the {_joined([s['scale'] for s in summaries])} scale on "
        f"{_joined([s['machine'] for s in summaries])}, {_together([s['spans'] for s in summaries])}; base model "
        f"`{_joined([s['base'] for s in summaries])}`; runs finished {_joined(dates)}. The tables and plots are in "
        "`docs/results.md`, each with its command. Written from the run cards (kept in `docs/results.json`) by "
        "`python -m experiments collect RUN_DIR... --out docs/results.md --readme README.md`:", "",
        md_table(["experiment", "wall clock", "reproduced at this scale?", "what decided it (difference [95% paired "
                  "bootstrap], p, MDE: the smallest effect detectable at α = 0.05 with 80% power)"], rows), "",
        f"At this scale the LoRAs trained for {_span(steps)} steps, on {_span(limits)} prompts or items per language, "
        f"with {_judges([s['judge'] for s in summaries])}: a test that the whole pipeline runs and reports honestly, "
        "not evidence about the seeds' claims. A difference below a row's MDE could not have been seen."])


def write_readme(run_dirs: list[Path], readme: Path, store: Path) -> bool:
    """Rewrite the README's experiments section from the runs and, for experiments not among them, the summaries
    an earlier collect kept in `store` (JSON; updated here); False where the README has no such markers."""
    kept = read_json_document(store) if store.is_file() else {}
    for run_dir in run_dirs:
        s = run_summary(run_dir)
        kept[f"{s['experiment']}-{s['scale']}"] = s
    if not update_marked(readme, MARKER, readme_section(list(kept.values()))):
        return False
    store.parent.mkdir(parents=True, exist_ok=True)
    write_json(store, kept)
    return True
