"""`python -m quantize gguf`: export a model to f16/f32 GGUF, quantize to the asked llama.cpp types, verify
each file against the transformers model and write `card.json` with a per-language table."""

from __future__ import annotations

import time
from pathlib import Path

from core.run_dir import RunDir
from quantize.gguf_export import FLOAT_TYPES
from quantize.llama_quant import fallback, quant_types, quantize_gguf, tensor_types
from quantize.upstream_convert import UPSTREAM, export_any
from quantize.verify import _hf, verify


def model_dir_of(model: str) -> Path:
    """A model directory for `model`: a directory, or any `hf:` spec / packaged name (converted once)."""
    from core.engines.hf import resolve_source

    path = Path(resolve_source(model.removeprefix("hf:")))
    if not path.is_dir():
        from core.errors import ModelFileError

        raise ModelFileError(f"{model} resolves to {path}, not a local directory; download it first "
                             f"(huggingface-cli download) and pass the directory.")
    return path


def run(model: str, types: list[str], out: Path, check: bool = True, log=print,
        verify_types: list[str] | None = None) -> dict:
    """Export and quantize `model` to every type in `types`; returns the card (also written to out/card.json).
    With `check`, every file is verified, or only those in `verify_types` (e.g. not the f16 intermediate)."""
    from core.errors import ModelFileError

    known = set(quant_types()) | set(FLOAT_TYPES)
    unknown = [t for t in types if t not in known]
    if unknown:
        raise ModelFileError(f"Unknown type(s) {unknown}; use f32, f16, bf16 or a llama.cpp type: "
                             f"{', '.join(sorted(quant_types()))}.")
    src = model_dir_of(model)
    out.mkdir(parents=True, exist_ok=True)
    stem = src.name
    card = {"model": model, "source_dir": str(src), "files": {}}
    base_type = "f32" if "f32" in types else "f16"
    started = time.perf_counter()
    base = out / f"{stem}-{base_type}.gguf"
    # Our exporter for the model types it covers, llama.cpp's convert_hf_to_gguf.py for the others.
    base_writer = export_any(src, base, base_type)
    card["files"][base_type] = {"path": base.name, "writer": base_writer,
                                "seconds": round(time.perf_counter() - started, 1)}
    for t in types:
        if t in card["files"]:
            continue
        started = time.perf_counter()
        path = out / f"{stem}-{t}.gguf"
        if t in FLOAT_TYPES:
            writer = export_any(src, path, t)
        else:
            quantize_gguf(base, path, t)
            writer = base_writer  # quantized from the base file
        card["files"][t] = {"path": path.name, "writer": writer, "seconds": round(time.perf_counter() - started, 1)}
    for t, info in card["files"].items():
        path = out / info["path"]
        info["bytes"] = path.stat().st_size
        info["tensor_types"] = tensor_types(path)
        info["fallback"] = fallback(t, info["tensor_types"])
    if check:
        hf = _hf(src)
        for t, info in card["files"].items():
            if verify_types is not None and t not in verify_types:
                continue
            log(f"verifying {t} ...")
            info["verify"] = verify(src, out / info["path"], hf=hf)
            per = info["verify"]["per_language"]
            worst = max(per, key=lambda lang: per[lang]["kl"])
            info["worst_language"] = {"lang": worst, "kl": per[worst]["kl"], "top1": per[worst]["top1"]}
    RunDir(out).write_card(card)
    return card


def summary(card: dict) -> str:
    """The card as a table: one row per file (size, seconds, the verification means, and the writer: "polyglot",
    our exporter, or "llama.cpp", its convert_hf_to_gguf.py)."""
    lines = [f"{'type':8} {'MB':>8} {'s':>6} {'greedy':>7} {'top1':>6} {'KL':>8} {'lang':>5} {'chat':>5} {'writer':>9}"
             f"  tensor types"]
    for t, info in card["files"].items():
        m = info.get("verify", {}).get("mean", {})
        cells = [f"{m[k]:.3f}" if k in m else "-" for k in ("greedy_match", "top1")]
        kl = f"{m['kl']:.4f}" if "kl" in m else "-"
        same = f"{m['same_language']:.2f}" if "same_language" in m else "-"
        chat = {True: "same", False: "diff"}.get(info.get("verify", {}).get("chat_ids_match"), "-")
        types = ", ".join(f"{k} {v}" for k, v in info["tensor_types"].items())
        writer = info.get("writer", "-")
        writer = "llama.cpp" if writer == UPSTREAM else writer
        lines.append(f"{t:8} {info['bytes'] / 1e6:8.1f} {info['seconds']:6.1f} {cells[0]:>7} {cells[1]:>6} {kl:>8}"
                     f" {same:>5} {chat:>5} {writer:>9}  {types}")
    return "\n".join(lines + _must_know(card))


def _must_know(card: dict) -> list[str]:
    """The worst language of each verified type, and the types llama.cpp could not write as asked."""
    out = []
    for t, info in card["files"].items():
        worst = info.get("worst_language")
        if worst:
            out.append(f"{t}: worst language {worst['lang']} (KL {worst['kl']:.4f}, top-1 {worst['top1']:.3f})")
        fb = info.get("fallback")
        if fb and fb["tensors"]:
            kinds = ", ".join(f"{k} {v}" for k, v in fb["types"].items())
            out.append(f"{t}: {fb['tensors']} of {fb['of']} quantized tensors fell back to 32-wide blocks ({kinds}): "
                       f"their rows are not a multiple of 256, so the file is larger and closer to f16 than {t} "
                       f"elsewhere")
    return [""] + out if out else []


def verify_table(report: dict) -> str:
    """One verification report as a per-language table (greedy match, top-1, KL, perplexities, language)."""
    lines = [f"{'lang':5} {'greedy':>7} {'top1':>6} {'KL':>8} {'ppl HF':>8} {'ppl export':>10}  continuation in"]
    for lang, r in report["per_language"].items():
        lines.append(f"{lang:5} {r['greedy_match']:7.3f} {r['top1']:6.3f} {r['kl']:8.4f} {r['ppl_hf']:8.2f} "
                     f"{r['ppl_export']:10.2f}  {r['lang_export']}")
    m = report["mean"]
    lines.append(f"{'mean':5} {m['greedy_match']:7.3f} {m['top1']:6.3f} {m['kl']:8.4f}")
    return "\n".join(lines)
