"""Our eval vs lm-evaluation-harness on the same model, the same rows and the same items: accuracy (exact match
for MGSM) per task and language, the difference in points, per-item disagreements, and scoring items/s as a
ratio to lm-eval's. Needs `pip install -r requirements-bench.txt` (lm-eval).

Both sides read the very rows written to one jsonl per (task, language), in the hub schema lm-eval's stock
YAML expects (int labels): the local copies under --data-dir, cut to the per-task limit, or for the tasks with
no local copy (XStoryCloze, Belebele) the hand-written fixtures in bench/fixtures/.

Timed on both sides: the scoring phase only, from the start of the first scoring call to the end of the last
(lm-eval: `HFLM.loglikelihood` / `HFLM.generate_until`, which simple_evaluate calls once per request type;
ours: the engine's `loglikelihood` / `generate`, which run_bench calls per batch of items / per item). Not
timed: model loading, lm-eval's TaskManager scan and dataset build, our item building, metric aggregation.
Each side runs --runs times, alternating; the card has the median and spread of the items/s ratio.

The run fails (exit 1) when a side scores exactly 0 on a multiple-choice (task, lang) with items, when a
generative task gets empty outputs, when the two sides score different numbers of items, or when lm-eval
logs a warning that means it misread the rows (e.g. "Label index was not in within range").

lm-eval always runs the transformers model (fp32). Ours runs it too (`--ours hf`, the default: the same
arithmetic, so the target is 0.00 points everywhere), or `--ours gguf`: the packaged GGUF in llama.cpp.

    python bench/lm_eval_parity.py --models smollm2-135m --readme
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import inspect
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import eval.bench as our_bench  # noqa: E402
from bench.parity_rows import (  # noqa: E402
    DATA_DIR,
    ROOT,
    lm_eval_configs,
    parse_pairs,
    write_rows,
)
from bench.run_cards import fmt, median_spread, read_card, update_readme, write_card  # noqa: E402
from eval.results import read_items  # noqa: E402
from eval.tasks import get_task  # noqa: E402
from quantize.gguf_job import model_dir_of  # noqa: E402

# lm-eval's metric key, and ours, per task (MGSM: flexible-extract is what our scorer implements).
METRIC = {"mgsm": ("exact_match,flexible-extract", "em")}
DEFAULT_METRIC = ("acc,none", "acc")
# lm-eval warnings that mean it scored something other than the rows we gave it.
BAD_WARNINGS = re.compile(r"not in within range|out of range|label|empty|could not|failed|no docs", re.I)
DEFAULT_LIMITS = "xnli=300,pawsx=300,xcopa=100,xwinograd=100,xstorycloze=20,belebele=20,mgsm=8"
DEFAULT_PAIRS = "xnli:de,pawsx:de,xcopa,xwinograd,xstorycloze:en,belebele:en,mgsm:de"


class Window:
    """Wall time from the start of the first wrapped call to the end of the last, plus the calls' own time."""

    def __init__(self):
        self.first = self.last = None
        self.busy, self.calls = 0.0, 0

    def _begin(self) -> float:
        now = time.perf_counter()
        self.first = now if self.first is None else self.first
        return now

    def _end(self, began: float) -> None:
        self.last = time.perf_counter()
        self.busy += self.last - began
        self.calls += 1

    def wrap(self, fn):
        def call(*a, **k):
            began = self._begin()
            try:
                return fn(*a, **k)
            finally:
                self._end(began)

        def stream(*a, **k):  # a generator's work happens while it is read
            began = self._begin()
            try:
                yield from fn(*a, **k)
            finally:
                self._end(began)

        return stream if inspect.isgeneratorfunction(fn) else call

    @property
    def seconds(self) -> float:
        return (self.last - self.first) if self.first is not None else 0.0


PHASES = ("loglikelihood", "generate")  # ours' engine methods; lm-eval's are loglikelihood, generate_until


def timing(windows: dict) -> dict:
    return {phase: {"seconds": w.seconds, "busy": w.busy, "calls": w.calls} for phase, w in windows.items()}


class Warnings(logging.Handler):
    """lm-eval's warnings (and errors), kept to be checked after the run."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}"[:400])


def run_lm_eval(lm, configs: dict, manager) -> dict:
    """One simple_evaluate over all pairs with the scoring calls timed; metric, n and per-item answers."""
    import lm_eval

    windows = {phase: Window() for phase in PHASES}
    with mock.patch.object(lm, "loglikelihood", windows["loglikelihood"].wrap(lm.loglikelihood)), \
            mock.patch.object(lm, "generate_until", windows["generate"].wrap(lm.generate_until)):
        res = lm_eval.simple_evaluate(model=lm, tasks=[cfg for _, cfg in configs.values()], task_manager=manager,
                                      log_samples=True, bootstrap_iters=0)
    out = {"timing": timing(windows), "pairs": {}}
    for (task, lang), (_, cfg) in configs.items():
        name, (metric, _) = cfg["task"], METRIC.get(task, DEFAULT_METRIC)
        samples = sorted((s for s in res["samples"][name] if s.get("filter", "none") == metric.split(",")[1]),
                         key=lambda s: s["doc_id"])
        out["pairs"][task, lang] = {"score": res["results"][name][metric], "n": len(samples),
                                    "answers": [_their_answer(s, task) for s in samples]}
    return out


def _their_answer(sample: dict, task: str):
    if task in METRIC:  # generative: the raw output
        return sample["resps"][0][0]
    lls = [r[0] if isinstance(r, (list, tuple)) else float(r) for r in sample["filtered_resps"]]
    return max(range(len(lls)), key=lls.__getitem__)


@contextlib.contextmanager
def same_rows(written: dict):
    """Our run_bench reading the written rows of each pair (its `local`), and its engine's scoring timed."""
    import core.engines

    class Reading:  # the registered task, but with only our pairs' languages, read from our rows
        def __init__(self, task):
            self._task = task
            self.langs = tuple(lang for t, lang in written if t == task.name)

        def __getattr__(self, name):
            return getattr(self._task, name)

        def local(self, data_dir, lang):
            w = written[self._task.name, lang]
            return w["file"], iter(w["rows"])

    windows, load = {phase: Window() for phase in PHASES}, core.engines.load

    def timed_load(*a, **k):
        engine = load(*a, **k)
        for phase in PHASES:
            setattr(engine, phase, windows[phase].wrap(getattr(engine, phase)))
        return engine

    with mock.patch.object(our_bench, "get_task", lambda name: Reading(get_task(name))), \
            mock.patch.object(core.engines, "load", timed_load):
        yield windows


def run_ours(spec: str, written: dict, out: Path, batch_size: int) -> dict:
    """One run_bench over all pairs (raw prompts for MGSM, as lm-eval sends them), scoring calls timed."""
    pairs = list(written)
    tasks = list(dict.fromkeys(t for t, _ in pairs))
    with same_rows(written) as windows:
        card = our_bench.run_bench(spec, tasks, out, data_dir=ROOT, batch_size=batch_size, prompt_style="raw",
                                   log=print)
    result = {"timing": timing(windows), "pairs": {},
              "versions": card["versions"], "engine": card["engine"]}
    records = read_items(out)
    for task, lang in pairs:
        key = METRIC.get(task, DEFAULT_METRIC)[1]
        mine = [r for r in records if r["task"] == task and r["lang"] == lang]
        result["pairs"][task, lang] = {"score": card["results"][task][lang][key], "n": len(mine),
                                       "answers": [r["output"] if task in METRIC else r["pred"] for r in mine]}
    return result


def compare(pairs, configs: dict, written: dict, theirs: list[dict], ours: list[dict]) -> tuple[list, list]:
    """Per pair: both scores (first run), difference in points, per-item disagreements; and the failures."""
    rows, failures = [], []
    for task, lang in pairs:
        a, b = theirs[0]["pairs"][task, lang], ours[0]["pairs"][task, lang]
        generative = task in METRIC
        differ = sum(x != y for x, y in zip(a["answers"], b["answers"]))
        stable = all(r["pairs"][task, lang]["score"] == a["score"] for r in theirs) and all(
            r["pairs"][task, lang]["score"] == b["score"] for r in ours)
        rows.append({"task": task, "lang": lang, "metric": "exact_match (flexible-extract)" if generative else "acc",
                     "n": b["n"], "n_lm_eval": a["n"], "ours": round(b["score"], 4), "lm_eval": round(a["score"], 4),
                     "diff_pts": round(100 * (b["score"] - a["score"]), 2), "items_answered_differently": differ,
                     "same_score_every_run": stable, "lm_eval_yaml": configs[task, lang][0],
                     "rows": written[task, lang]["source"], "rows_sha256": written[task, lang]["sha256"],
                     "rows_read": len(written[task, lang]["rows"])})
        if a["n"] != b["n"]:
            failures.append(f"{task}/{lang}: lm-eval scored {a['n']} items, ours {b['n']}")
        empty = any(not str(x).strip() for x in a["answers"] + b["answers"]) if generative else True
        for side, r in (("lm-eval", a), ("ours", b)):
            if r["n"] and r["score"] == 0 and empty:
                failures.append(f"{task}/{lang}: {side} scored exactly 0 on {r['n']} items"
                                + (" (with empty outputs)" if generative else " (below chance: misread rows?)"))
    return rows, failures


def speed(pairs, theirs: list[dict], ours: list[dict]) -> dict:
    """Per phase: items, both sides' items/s and our/lm-eval ratio, each the median of the runs with spread."""
    out = {}
    for phase in PHASES:
        items = sum(ours[0]["pairs"][p]["n"] for p in pairs if (phase == "generate") == (p[0] in METRIC))
        if not items:
            continue
        t = [r["timing"][phase]["seconds"] for r in theirs]
        o = [r["timing"][phase]["seconds"] for r in ours]
        out[phase] = {"items": items, "lm_eval_items_per_s": median_spread([round(items / s, 3) for s in t]),
                      "ours_items_per_s": median_spread([round(items / s, 3) for s in o]),
                      "ratio": median_spread([round(a / b, 3) for a, b in zip(t, o)]),
                      "lm_eval_calls": theirs[0]["timing"][phase]["calls"],
                      "ours_calls": ours[0]["timing"][phase]["calls"]}
    return out


def run_model(model: str, pairs, args, log_handler: Warnings) -> dict:
    """Both sides on one model, alternating, --runs times; its card section."""
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    model_dir = model_dir_of(f"hf:{model}")
    spec = f"hf:{model_dir}" if args.ours == "hf" else f"gguf:{model}"
    with tempfile.TemporaryDirectory() as tmp:
        written = write_rows(pairs, args.data_dir, args.limits, Path(tmp))
        configs = lm_eval_configs(written)
        started = time.perf_counter()
        lm = HFLM(pretrained=str(model_dir), dtype="float32", batch_size=args.batch_size, device="cpu")
        load_s = time.perf_counter() - started
        manager = TaskManager()  # its scan of every lm-eval YAML is outside the timed phase
        theirs, ours = [], []
        for run in range(args.runs):
            seen = len(log_handler.messages)
            theirs.append(run_lm_eval(lm, configs, manager))
            if run:  # the same warnings again on each repeat: keep the first run's
                del log_handler.messages[seen:]
            ours.append(run_ours(spec, written, Path(tmp) / f"ours{run}", args.batch_size))
            t, o = theirs[-1]["timing"], ours[-1]["timing"]
            print(f"{model} run {run + 1}/{args.runs}: " + ", ".join(
                f"{ph} lm-eval {t[ph]['seconds']:.1f} s, ours {o[ph]['seconds']:.1f} s"
                for ph in PHASES if o[ph]["calls"]))
    rows, failures = compare(pairs, configs, written, theirs, ours)
    return {"model": model, "model_dir": str(model_dir), "ours": spec.split(":")[0], "lm_eval_model":
            f"HFLM(pretrained={model_dir.name}, dtype=float32, batch_size={args.batch_size}, device=cpu)",
            "lm_eval_load_s": round(load_s, 2), "engine": ours[0]["engine"], "versions": ours[0]["versions"],
            "results": rows, "speed": speed(pairs, theirs, ours), "failures": failures}


TIMED = ("the scoring phase, from the start of the first scoring call to the end of the last, per request type: "
         "lm-eval's HFLM.loglikelihood (called once with every request) and HFLM.generate_until; ours the "
         "engine's loglikelihood (called per batch of 64 items, records written between calls) and generate "
         "(per item). Not timed: model loading, lm-eval's TaskManager scan and dataset build, our item building, "
         "metrics.")


def table(section: dict) -> list[str]:
    lines = ["| model | task | lang | n | ours | lm-eval | diff (points) | items answered differently |",
             "|---|---|---|---|---|---|---|---|"]
    for r in section["results"]:
        lines.append(f"| {section['model']} | {r['task']} | {r['lang']} | {r['n']} | {r['ours']:.4f} | "
                     f"{r['lm_eval']:.4f} | {r['diff_pts']:.2f} | {r['items_answered_differently']} |")
    return lines


def speed_lines(card: dict) -> list[str]:
    lines = []
    for s in card["models"]:
        for phase, m in s["speed"].items():
            lines.append(f"- {s['model']}, {phase} ({m['items']} items): ours {fmt(m['ours_items_per_s'])} items/s, "
                         f"lm-eval {fmt(m['lm_eval_items_per_s'])}; ratio ours/lm-eval {fmt(m['ratio'], unit='x')}")
    return lines


def readme_text(card: dict) -> str:
    lines = [line for s in card["models"] for line in table(s)[2 if s is not card["models"][0] else 0:]]
    lines += ["", f"Items/s in the scoring phase only (both sides from the first scoring call to the last; "
                  f"median of {card['runs']} alternating runs, spread in brackets; ours on `{card['ours']}`, "
                  f"{card['machine']['cpus']} CPU cores):", ""]
    lines += speed_lines(card)
    lines += ["", "Checks (zero scores, item counts, lm-eval warnings): " + (
        "FAILED: " + "; ".join(card["failures"]) if card["failures"] else "passed")]
    limits = ", ".join(f"{k} {v}" for k, v in card["limits"].items())
    lines += ["", f"(`python bench/lm_eval_parity.py --readme`, lm-eval {card['versions']['lm_eval']}, rows per "
                  f"language: {limits}; {card['torch_threads']} torch thread(s) on both sides; card "
                  f"`bench/results/lm_eval_parity.json`, {card['date']})"]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="smollm2-135m,gemma3-270m")
    p.add_argument("--pairs", default=DEFAULT_PAIRS, help="task[:lang],...; no lang: every language with rows")
    p.add_argument("--limits", default=DEFAULT_LIMITS, help="rows per language, per task")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    p.add_argument("--batch-size", type=int, default=16, help="requests per forward pass, in both")
    p.add_argument("--runs", type=int, default=3, help="alternating runs per side (speed: median and spread)")
    p.add_argument("--ours", choices=("hf", "gguf"), default="hf",
                   help="our backend: transformers like lm-eval, or llama.cpp on the packaged GGUF")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for both sides (on 2 shared cores, 2 threads spin-wait: 4x slower decoding)")
    p.add_argument("--readme", action="store_true", help="write the card and the README's parity section")
    p.add_argument("--from-card", action="store_true", help="only rewrite the README's section from the card")
    args = p.parse_args()
    if args.from_card:
        card = read_card("lm_eval_parity")
        if card is None or not update_readme("lm-eval-parity", readme_text(card)):
            raise SystemExit("no card bench/results/lm_eval_parity.json, or no parity markers in README.md")
        return
    args.limits = {k: int(v) for k, v in (x.split("=") for x in args.limits.split(","))}
    pairs = parse_pairs(args.pairs, args.data_dir)
    import torch

    torch.set_num_threads(args.threads)
    handler = Warnings()
    logging.getLogger("lm_eval").addHandler(handler)
    sections = [run_model(model, pairs, args, handler) for model in args.models.split(",")]
    import lm_eval

    # The same warning once per row: count them by their first line.
    warned = collections.Counter(m.splitlines()[0] for m in handler.messages)
    failures = [f for s in sections for f in s["failures"]] + [
        f"lm-eval warned {n}x: {m}" for m, n in warned.items() if BAD_WARNINGS.search(m)]
    card = {"compared": "lm-evaluation-harness (stock task YAMLs, HFLM) vs our eval (run_bench) on the same "
                        "model and the same rows written once per (task, lang) in the hub schema",
            "ours": args.ours, "runs": args.runs, "batch_size": args.batch_size, "limits": args.limits,
            "torch_threads": args.threads,
            "timed": TIMED, "models": sections, "lm_eval_warnings": dict(warned), "failures": failures,
            "versions": {"lm_eval": lm_eval.__version__, **sections[0]["versions"]}}
    for s in sections:
        s.pop("versions")
    for s in sections:
        print("\n" + "\n".join(table(s)))
    if args.readme:
        path = write_card("lm_eval_parity", card)
        card = json.loads(path.read_text())
        if not update_readme("lm-eval-parity", readme_text(card)):
            print("README has no <!-- lm-eval-parity:begin/end --> markers; not updated")
        print(f"wrote {path}")
    print("\n" + "\n".join(speed_lines({"models": sections})))
    print("lm-eval warnings: " + ("; ".join(f"{n}x {m}" for m, n in warned.items()) or "none"))
    print(f"timed: {TIMED}")
    if failures:
        raise SystemExit("PARITY RUN FAILED:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    main()
