"""`python -m quantize`: export models to the formats people run.

    python -m quantize gguf --model hf:smollm2-135m --types f16,q8_0,q4_k_m --out runs/gguf
    python -m quantize gguf --model runs/merged --types f16 --out runs/gguf --no-verify
    python -m quantize bnb --model hf:smollm2-135m --bits 4 --out runs/smollm2-nf4
    python -m quantize lora --adapter runs/smollm2-135m-lora/adapter --base hf:smollm2-135m --out de.gguf
    python -m quantize onnx --model hf:smollm2-135m --out runs/smollm2-onnx
    python -m quantize ladder --model hf:gemma3-270m --types q8_0,q4_k_m,q3_k_m@en,q3_k_m@langs,iq3_xxs@langs \
        --langs en,de,hi,zh,ja,ar --data-dir ../shared/data --recommend --out runs/ladder-gemma
"""

from __future__ import annotations

import sys

from core.cli import Commands, run_cli
from quantize.jobs import BnbJob, GgufJob, LadderJob, LoraJob, OnnxJob


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def gguf(job: GgufJob) -> None:
    from quantize.gguf_job import run, summary

    card = run(**job.run_args(), log=_log)
    print(summary(card))
    print(f"\nfiles and card.json in {job.out}")


def bnb(job: BnbJob) -> None:
    from quantize.bnb_export import export_bnb
    from quantize.gguf_job import model_dir_of

    report = export_bnb(model_dir_of(job.model), job.out, job.bits)
    print(f"{job.bits}-bit checkpoint in {job.out} ({report['bytes'] / 1e6:.1f} MB); vs full precision: "
          f"top-1 {report['mean']['top1']:.3f}, KL {report['mean']['kl']:.4f}")
    for lang, r in report["per_language"].items():
        print(f"  {lang}: top-1 {r['top1']:.3f}  KL {r['kl']:.4f}")


def lora(job: LoraJob) -> None:
    from quantize.gguf_job import model_dir_of
    from quantize.lora_gguf import export_lora_gguf

    path = export_lora_gguf(job.adapter, model_dir_of(job.base), job.out)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB): load with Llama(base.gguf, lora_path=...)")


def onnx(job: OnnxJob) -> None:
    from quantize.gguf_job import model_dir_of, verify_table
    from quantize.onnx_export import export_onnx

    card = export_onnx(model_dir_of(job.model), job.out, check=job.verify, log=_log)
    print(f"{job.out}/model.onnx ({card['bytes'] / 1e6:.1f} MB, {card['seconds']} s)")
    if "verify" in card:
        print(verify_table(card["verify"]))


def ladder(job: LadderJob) -> None:
    from quantize.ladder import run_ladder_job

    print(run_ladder_job(job, log=_log))


COMMANDS: Commands = {"gguf": (GgufJob, gguf), "bnb": (BnbJob, bnb), "lora": (LoraJob, lora), "onnx": (OnnxJob, onnx),
                      "ladder": (LadderJob, ladder)}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    return run_cli("python -m quantize", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
