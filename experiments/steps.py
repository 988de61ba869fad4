"""The work of each experiment stage, as calls into trainer, quantize and eval. Each returns the stage's results
(small, JSON-able: they go into the run's card) and leaves its files in the stage directory `d`. The eval and
quantize stages run the same job configs as their CLIs (eval.jobs, quantize.jobs), built from the experiment's
YAML section plus what the scale fixes; the results name the job's `identity`."""

from __future__ import annotations

import json
from pathlib import Path

from core.job_config import build_job, identity, section_job
from core.records import read_jsonl
from core.run_dir import CARD


def build_mix(recipe, d: Path, data_dir: Path, log=print) -> dict:
    """The arm's training mix (trainer.data.build): mix.jsonl, card.json, stats.txt."""
    from trainer.data.build import build

    result = build(recipe, d, data_dir, log=log)
    return {"rows": result.card["rows"], "languages": {lang: s["rows"] for lang, s in result.card["stats"].items()
                                                      if isinstance(s, dict) and "rows" in s}}


def xinstruct_mix(recipe, d: Path, data_dir: Path, log=print) -> dict:
    """The X-Instruction pipeline's mix (trainer.xinstruct), its own stages resumable inside `d`."""
    from trainer.xinstruct.pipeline import run

    card = run(recipe, d, data_dir, log=log)
    mix = card["stages"]["mix"]
    return {"rows": mix["rows"], "languages": mix["languages"], "stages": list(card["stages"])}


def mix_rows(mix: Path) -> int:
    return len(read_jsonl(mix))


def train_arm(cfg, log=print) -> dict:
    """LoRA-tune the arm (trainer.train; resumes from its checkpoints): adapter/ and log.jsonl."""
    from trainer.train import train

    metrics = train(cfg, resume=True, log=log)
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, dict))}


def export_arm(base: str, adapter: Path | None, qtype: str, d: Path, log=print) -> dict:
    """Merge the adapter into the base (trainer.merge, logits checked) and export a verified GGUF of `qtype`
    (quantize); an untuned arm exports the base itself, so every arm is evaluated through the same path."""
    from quantize.gguf_job import run
    from quantize.jobs import GgufJob
    from trainer.jobs import MergeJob
    from trainer.merge import merge

    source = base
    results: dict = {}
    if adapter is not None:
        m = build_job(MergeJob, {"base": base, "adapter": adapter, "out": d / "merged", "dtype": "fp32"})
        report = merge(m.base, m.adapter, m.out, dtype=m.dtype)
        results["merge_max_abs_logit_diff"] = report["max"]
        source = str(m.out)
    # verify only qtype, not the f16 step
    job = build_job(GgufJob, {"model": source, "types": [qtype], "out": d / "gguf", "verify_types": [qtype]})
    card = run(**job.run_args(), log=log)
    info = card["files"][qtype]
    verify = info.get("verify", {})
    results |= {"gguf": str(d / "gguf" / info["path"]), "bytes": info["bytes"],
                "verify": {**verify.get("mean", {}), "chat_ids_match": verify.get("chat_ids_match")}}
    if adapter is not None:
        import shutil

        shutil.rmtree(d / "merged")  # the GGUF and the adapter are what is kept; the fp32 copy is rebuilt on demand
    return results


def exported_spec(d: Path, qtype: str) -> str:
    card = json.loads((d / "gguf" / CARD).read_text())
    return f"gguf:{d / 'gguf' / card['files'][qtype]['path']}"


def hf_spec(base: str, adapter: Path | None) -> str:
    base = base.removeprefix("hf:")
    return f"hf:{base}+adapter=arm:{adapter}" if adapter is not None else f"hf:{base}"


def generate_job(model: str, g, s, d: Path, data_dir: Path):
    """The `eval generate` job of the experiment's `generate:` section `g` at scale `s`."""
    from eval.jobs import GenerateJob

    return section_job(GenerateJob, g, model=model, out=d, limit=s.limit, max_tokens=s.max_tokens, data_dir=data_dir)


def generate(model: str, g, s, d: Path, data_dir: Path) -> dict:
    """Answers to the prompt set and their language agreement (eval generate)."""
    from eval.generate import run_generate

    job = generate_job(model, g, s, d, data_dir)
    card = run_generate(**job.run_args())
    return {"agreement": card["agreement"], "seconds": card["seconds"], "job": identity(job)}


def bench_job(model: str, b, s, d: Path, data_dir: Path):
    """The `eval bench` job of the experiment's `bench:` section `b` at scale `s`."""
    from eval.jobs import BenchJob

    return section_job(BenchJob, b, model=model, out=d, limit=s.limit, data_dir=data_dir)


def bench(model: str, b, s, d: Path, data_dir: Path, log=print) -> dict:
    """Benchmark scores per task and language (eval bench)."""
    from eval.bench import run_bench

    job = bench_job(model, b, s, d, data_dir)
    card = run_bench(**vars(job), log=log)
    return {"results": card["results"], "skipped": card["skipped"], "job": identity(job)}


def judge_job(j, answers: list[Path], judge_spec: str, s, d: Path, data_dir: Path):
    """The `eval judge` job of one experiment `judge:` section `j` over one arm's answers (or a pair's)."""
    from eval.jobs import JudgeJob

    return section_job(JudgeJob, j, a=str(answers[0]), b=str(answers[1]) if len(answers) > 1 else None,
                       judge=judge_spec, out=d, limit=s.limit, data_dir=data_dir, concurrency=s.concurrency,
                       max_tokens=s.judge_max_tokens, constrain=s.judge_constrained, weighted=s.judge_weighted,
                       judge_label=None if s.judge.startswith("openai:") else f"{s.judge} (served here)")


def judge(j, answers: list[Path], judge_spec: str, s, d: Path, data_dir: Path, log=print) -> dict:
    """A judge run (eval judge) over one arm's answers, or two arms' for the pair modes."""
    from eval.judge import run_judge

    job = judge_job(j, answers, judge_spec, s, d, data_dir)
    card = run_judge(job.mode, Path(job.a), job.judge, job.out,
                     **job.run_options(b=Path(job.b) if job.b else None, log=log))
    if card["status"] != "done":
        from core.errors import EngineError

        raise EngineError(f"The judge run in {d} is {card['status']}: {len(card['failures'])} call(s) failed "
                          f"(listed in its card.json); run the experiment again to retry them.")
    return {"results": card["results"], "usage": card["usage"], "job": identity(job)}
