"""`python -m quantize ladder`: export a model to a ladder of llama.cpp types and measure, per type and language,
how far each file is from the 16-bit model on the same FLORES-200 sentences (KL mean and 99th percentile, top-1
agreement, perplexity change, greedy match), with size and decode speed; importance matrices computed with
`llama-imatrix` on English or on the listed languages' text; resumable per type and per (type, language)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from core.errors import ConfigError
from core.run_dir import RunDir
from quantize.gguf_export import FLOAT_TYPES
from quantize.imatrix import I_QUANTS, compute_imatrix, quantize_tool
from quantize.ladder_text import calibration_text, resolve_langs, sentences
from quantize.llama_quant import fallback, quant_types, tensor_types

REFERENCE = "f16"
DEFAULT_TYPES = ("f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k")
# Where an importance matrix's calibration text comes from: English FLORES dev, the --langs' FLORES dev, a text
# file the user gives (--calib-text: e.g. the training mix's own text), or a ready matrix (--imatrix FILE).
CALIBRATIONS = {"en": "English FLORES dev sentences", "langs": "FLORES dev sentences in the ladder's languages",
                "text": "the --calib-text file", "file": "the --imatrix file"}
MAX_TOKENS = 128  # a sentence is cut to its first 128 tokens (byte-level vocabularies spend many on Hindi)


@dataclass(frozen=True)
class Variant:
    """One rung: a llama.cpp type, and the calibration of its importance matrix (None: no matrix)."""

    qtype: str
    calib: str | None = None

    @property
    def name(self) -> str:
        return f"{self.qtype}@{self.calib}" if self.calib else self.qtype


def parse_variants(types: list[str]) -> list[Variant]:
    """`q4_k_m`, `q3_k_m@langs`, `iq3_xxs@en` ... as variants, the reference first; bad names are refused."""
    known = sorted(set(quant_types()) | set(FLOAT_TYPES))
    out = [Variant(REFERENCE)]
    for spec in types:
        qtype, _, calib = spec.lower().partition("@")
        if qtype not in known:
            raise ConfigError(f"Unknown type {qtype!r}; llama.cpp's types are: {', '.join(known)}.")
        if calib and calib not in CALIBRATIONS:
            raise ConfigError(f"Unknown calibration {calib!r} in {spec!r}; use "
                              + ", ".join(f"@{k} ({v})" for k, v in CALIBRATIONS.items()) + ".")
        if calib and qtype in FLOAT_TYPES:
            raise ConfigError(f"{spec}: a float type uses no importance matrix; write {qtype}.")
        if qtype in I_QUANTS and not calib:
            raise ConfigError(f"{qtype} is an i-quant: it needs an importance matrix. Write {qtype}@langs (computed "
                              f"here with llama-imatrix on FLORES dev text in the ladder's languages) or {qtype}@en "
                              f"(English only), or compute one with `llama-imatrix -m model-f16.gguf -f text.txt` and "
                              f"pass --imatrix FILE with {qtype}@file.")
        variant = Variant(qtype, calib or None)
        if variant not in out:
            out.append(variant)
    if len(out) == 1:
        raise ConfigError(f"--types names nothing to compare with the {REFERENCE} reference; give quantized types, "
                          f"e.g. {','.join(DEFAULT_TYPES)}.")
    return out


def run_ladder(model: str, out: Path, types: list[str], langs: list[str], data_dir: Path, n_sentences: int = 24,
               greedy_prompts: int = 3, new_tokens: int = 16, imatrix: Path | None = None,
               calib_text: Path | None = None, calib_chunks: int = 48, log=print) -> dict:
    """Build and measure the ladder in `out` (resuming what is there); returns the card (also out/card.json)."""
    from quantize.gguf_job import model_dir_of

    variants = parse_variants(types)
    codes = resolve_langs(langs, data_dir)
    _check_calibration_inputs(variants, imatrix, calib_text)
    run = RunDir(out)
    identity = {"kind": "quant_ladder", "model": model, "sentences": n_sentences, "new_tokens": new_tokens,
                "greedy_prompts": greedy_prompts, "max_tokens": MAX_TOKENS}
    run.refuse_other_run(identity, "a quantization ladder")
    src = model_dir_of(model)
    card = run.card
    card.update(identity, reference=REFERENCE, status="running")
    card["langs"] = list(dict.fromkeys([*card.get("langs", []), *codes]))
    card["variants"] = list(dict.fromkeys([*card.get("variants", []), *(v.name for v in variants)]))
    started = time.perf_counter()
    build_files(run, src, variants, codes, data_dir, imatrix, calib_text, calib_chunks, log)
    # Every file of the run in every language of the run, also those an earlier call asked for, so the card
    # stays a full table when a rerun adds a language or a type.
    names, langs_all = list(card["files"]), card["langs"]
    measure(run, names, langs_all, data_dir, n_sentences, greedy_prompts, new_tokens, log)
    measure_speed(run, names, sentences("en", data_dir, 1)[0])
    summarize(card, names, langs_all)
    card["seconds"] = round(card.get("seconds", 0) + time.perf_counter() - started, 1)
    card["status"] = "done"
    run.write_card()
    return card


def run_ladder_job(job, log=print) -> str:
    """Run a LadderJob: the ladder, its heatmap, the recommendation if asked; returns the text to print."""
    from quantize.ladder_report import (
        Floors,
        bench_table,
        calibration_comparison,
        calibration_table,
        heatmap,
        ladder_table,
        language_table,
        prompts_table,
        recommend,
        recommendation_text,
    )

    if job.data_dir is None:
        raise ConfigError("The ladder measures on FLORES-200 text: pass --data-dir, the folder holding "
                          "flores200_devtest/ (and sib200/ for @en/@langs calibration).")
    from quantize.ladder_evals import check_evals

    check_evals(job.bench or [], job.prompts, resolve_langs(job.langs, job.data_dir))  # before hours of work
    card = run_ladder(job.model, job.out, job.types, job.langs, job.data_dir, n_sentences=job.sentences,
                      imatrix=job.imatrix, calib_text=job.calib_text, calib_chunks=job.calib_chunks, log=log)
    card["calibration"] = calibration_comparison(card)
    if job.bench:
        from quantize.ladder_evals import bench_cells

        card["bench"] = bench_cells(job.out, card, job.bench, job.bench_limit, job.data_dir, log=log)
    if job.prompts:
        from quantize.ladder_evals import prompt_cells

        card["prompts"] = prompt_cells(job.out, card, job.prompts, job.prompts_limit, job.data_dir, log=log)
    parts = [ladder_table(card), "", language_table(card, "kl"), "", language_table(card, "top1")]
    if card["calibration"]:
        parts += ["", calibration_table(card["calibration"])]
    if card.get("bench"):
        parts += ["", bench_table(card["bench"])]
    if card.get("prompts"):
        parts += ["", prompts_table(card["prompts"])]
    if job.recommend:
        floors = Floors(job.max_kl, job.min_top1, job.max_ppl_change, job.max_bench_drop)
        card["recommendation"] = recommend(card, floors)
        parts += ["", recommendation_text(card["recommendation"])]
    heatmap(card, job.out / "heatmap.png")
    RunDir(job.out).write_card(card)
    parts += ["", f"files, card.json and heatmap.png in {job.out} ({card['seconds']:.0f} s in all)"]
    return "\n".join(parts)


def _check_calibration_inputs(variants: list[Variant], imatrix: Path | None, calib_text: Path | None) -> None:
    calibs = {v.calib for v in variants}
    if "file" in calibs and not (imatrix and Path(imatrix).is_file()):
        raise ConfigError(f"@file needs --imatrix FILE (an existing llama-imatrix output); got {imatrix}.")
    if "text" in calibs and not (calib_text and Path(calib_text).is_file()):
        raise ConfigError(f"@text needs --calib-text FILE (plain text to calibrate on); got {calib_text}.")


def _file_name(src: Path, variant: Variant) -> str:
    return f"{src.name}-{variant.qtype}" + (f"-imatrix-{variant.calib}" if variant.calib else "") + ".gguf"


def build_files(run: RunDir, src: Path, variants: list[Variant], langs: list[str], data_dir: Path,
                imatrix: Path | None, calib_text: Path | None, calib_chunks: int, log) -> None:
    """Export the reference, compute the importance matrices asked for, quantize every variant; a file already
    recorded in the card (and on disk) is kept."""
    from quantize.upstream_convert import export_any

    files = run.card.setdefault("files", {})
    run.card.setdefault("imatrix", {})
    for variant in variants:
        entry = files.get(variant.name)
        if entry and (run.path / entry["path"]).is_file():
            log(f"{variant.name}: built before, kept")
            continue
        path = run.path / _file_name(src, variant)
        started = time.perf_counter()
        log(f"{variant.name}: writing {path.name}")
        reference = run.path / files[REFERENCE]["path"] if REFERENCE in files else None
        if variant.qtype in FLOAT_TYPES:
            writer = export_any(src, path, variant.qtype)
        else:
            matrix = _imatrix(run, reference, variant.calib, langs, data_dir, imatrix, calib_text, calib_chunks, log)
            quantize_tool(reference, path, variant.qtype, matrix)
            writer = files[REFERENCE]["writer"]
        types = tensor_types(path)
        files[variant.name] = {"path": path.name, "type": variant.qtype, "imatrix": variant.calib,
                               "writer": writer, "bytes": path.stat().st_size,
                               "seconds": round(time.perf_counter() - started, 1), "tensor_types": types,
                               "fallback": fallback(variant.qtype, types)}
        run.write_card()


def _imatrix(run: RunDir, reference: Path, calib: str | None, langs: list[str], data_dir: Path,
             given: Path | None, calib_text: Path | None, chunks: int, log) -> Path | None:
    """The importance matrix for `calib`, computed once per ladder and recorded in the card."""
    if calib is None:
        return None
    if calib == "file":
        return Path(given)
    matrices = run.card["imatrix"]
    path = run.path / f"imatrix-{calib}.gguf"
    if calib in matrices and path.is_file():
        return path
    text = {"en": lambda: calibration_text(["en"], data_dir),
            "langs": lambda: calibration_text(langs, data_dir),
            "text": lambda: Path(calib_text).read_text(encoding="utf-8")}[calib]()
    log(f"importance matrix @{calib}: llama-imatrix on {len(text):,} characters ({CALIBRATIONS[calib]})")
    matrices[calib] = {**compute_imatrix(reference, text, path, chunks), "source": CALIBRATIONS[calib],
                       "langs": ["en"] if calib == "en" else langs if calib == "langs" else None}
    run.write_card()
    return path


def measure(run: RunDir, names: list[str], langs: list[str], data_dir: Path, n_sentences: int,
            greedy_prompts: int, new_tokens: int, log) -> None:
    """Fill card["cells"][variant][lang], one language at a time: the reference's pass is made once per language
    and every variant still missing that language is compared with it; each cell is saved when done."""
    from quantize.ladder_measure import Runner, compare, reference, reference_cell

    card, files = run.card, run.card["files"]
    cells = card.setdefault("cells", {})
    todo = {lang: [n for n in names if lang not in cells.get(n, {})] for lang in langs}
    runners: dict[str, Runner] = {}
    try:
        with tqdm(total=sum(map(len, todo.values())), desc="ladder", unit="cell") as bar:
            for lang in langs:
                if not todo[lang]:
                    continue
                for name in [REFERENCE, *todo[lang]]:
                    if name not in runners:
                        runners[name] = Runner(run.path / files[name]["path"], MAX_TOKENS)
                bar.set_postfix_str(f"{lang}: reference")
                ref = reference(runners[REFERENCE], sentences(lang, data_dir, n_sentences), greedy_prompts,
                                new_tokens, MAX_TOKENS)
                for name in todo[lang]:
                    bar.set_postfix_str(f"{lang}: {name}")
                    cells.setdefault(name, {})[lang] = (reference_cell(ref) if name == REFERENCE else
                                                        compare(ref, runners[name], new_tokens))
                    run.write_card()
                    bar.update()
    finally:
        for runner in runners.values():
            runner.close()


def measure_speed(run: RunDir, names: list[str], prompt: str, new_tokens: int = 64, repeats: int = 3) -> None:
    """Decode tokens/s of each file on one prompt: the median of `repeats` greedy runs of `new_tokens` tokens,
    with the spread; one file at a time, after the measurements, so nothing else shares the CPU."""
    import statistics

    from quantize.ladder_measure import Runner

    for name in names:
        entry = run.card["files"][name]
        if entry.get("tokens_per_s"):
            continue
        runner = Runner(run.path / entry["path"], MAX_TOKENS)
        try:
            ids = runner.token_ids(prompt)[:32]
            runner.greedy(ids, 4)  # warm up: first-call allocations are not decoding
            rates = []
            for _ in range(repeats):
                started = time.perf_counter()
                got = runner.greedy(ids, new_tokens)
                rates.append(len(got) / (time.perf_counter() - started))
        finally:
            runner.close()
        entry["tokens_per_s"] = round(statistics.median(rates), 1)
        entry["tokens_per_s_spread"] = [round(min(rates), 1), round(max(rates), 1)]
        run.write_card()


def summarize(card: dict, names: list[str], langs: list[str]) -> None:
    """Per variant: mean KL over languages, the lowest top-1, and the worst language (highest KL)."""
    for name in names:
        row = {lang: card["cells"][name][lang] for lang in langs if lang in card["cells"].get(name, {})}
        worst = max(row, key=lambda lang: row[lang]["kl"])
        card["files"][name].update(
            mean_kl=round(sum(c["kl"] for c in row.values()) / len(row), 6),
            min_top1=min(c["top1"] for c in row.values()),
            worst_language={"lang": worst, "kl": row[worst]["kl"], "top1": row[worst]["top1"]})
