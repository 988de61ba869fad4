"""Bench run cards: the median of repeated measurements with their spread, a JSON card per bench under
`bench/results/`, and the README's measured tables regenerated from those cards (never typed by hand)."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"
PACKAGED = "hf:smollm2-135m,hf:gemma3-270m"


def median_spread(values: list[float]) -> dict:
    """{"median", "min", "max", "runs"} of repeated measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": list(values)}


def fmt(m: dict, digits: int = 2, unit: str = "") -> str:
    """'1.52x (1.48-1.60)': the median and, in brackets, the spread of the runs."""
    return f"{m['median']:.{digits}f}{unit} ({m['min']:.{digits}f}-{m['max']:.{digits}f})"


def released_together(threads: list, barrier) -> float:
    """Start `threads`, release them together through `barrier` (sized len(threads) + 1) and return the wall
    seconds from the release until the last one ends."""
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    for th in threads:
        th.join()
    return time.perf_counter() - start


def write_card(name: str, card: dict) -> Path:
    """bench/results/NAME.json with the machine and the date added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    import os

    card = {"bench": name, "date": time.strftime("%Y-%m-%d"), "machine": {
        "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
        "python": platform.python_version()}, **card}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return path


def read_card(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def update_readme(marker: str, text: str, readme: Path = ROOT / "README.md") -> bool:
    """Replace what stands between <!-- MARKER:begin --> and <!-- MARKER:end --> in the README."""
    from core.markers import update_marked

    return update_marked(readme, marker, text)


def publish(name: str, marker: str, render) -> None:
    """Print `render(card)` of the card `name` and write it into the README between MARKER's markers; a missing
    card or markers is said, not skipped silently."""
    card = read_card(name)
    if card is None:
        raise SystemExit(f"bench/results/{name}.json does not exist yet; run without --readme first.")
    text = render(card)
    print(text)
    if not update_readme(marker, text):
        print(f"README.md has no <!-- {marker}:begin --> / <!-- {marker}:end --> markers; the table was not written.")


def card_bench_args(doc: str, runs_dir: str, models: str = PACKAGED) -> argparse.ArgumentParser:
    """The flags of a bench that writes a card and a README section: --models, --runs-dir, --data-dir and
    --readme; the bench adds its own, then parses."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=models)
    ap.add_argument("--runs-dir", type=Path, default=Path(runs_dir))
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--readme", action="store_true", help="only regenerate the README section from the card")
    return ap


def measure_and_publish(args, name: str, marker: str, build, render) -> None:
    """Unless --readme: write the card `build()` returns; then publish `render(card)` into the README."""
    if not args.readme:
        write_card(name, build())
    publish(name, marker, render)
