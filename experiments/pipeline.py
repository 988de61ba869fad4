"""Run an experiment end to end through the project's own parts, one resumable stage at a time:

    data/ARM (trainer.data.build, or the X-Instruction pipeline) -> train/ARM (trainer.train)
    -> export/ARM (trainer.merge + quantize: a verified GGUF)   [untuned arms: the base model exported alone]
    -> generate/ARM (eval generate) -> bench/ARM (eval bench) -> judge/MODE-ARM[-ARM] (eval judge)
    -> report (experiments.analyses: report.md, tables and PNG plots)

A judge or teacher named as a packaged model (or a .gguf) is served here by llama.cpp's llama-server (batched)
while the stages that call it run."""

from __future__ import annotations

import contextlib
from pathlib import Path

from core.config import to_dict
from core.errors import ConfigError
from experiments.config import Experiment, load_experiment, recipe_for, train_config_for, xinstruct_for
from experiments.stages import Run

STAGES = ("data", "train", "export", "generate", "bench", "judge")


class Endpoints(contextlib.ExitStack):
    """The judge and teacher as `openai:MODEL@URL` specs, serving local models on first use."""

    def __init__(self, run_dir: Path, log=print):
        super().__init__()
        self.run_dir, self.log, self.served = run_dir, log, {}

    def spec(self, model: str | None, role: str) -> str:
        if model is None:
            raise ConfigError(f"This experiment needs a {role} but its scale names none; set `{role}:` to a "
                              f"packaged model or .gguf (served here) or openai:MODEL[@URL].")
        if model.startswith("openai:"):
            return model
        if model not in self.served:
            from core.local_server import llama_server
            from core.models import PACKAGED, packaged_gguf

            gguf = packaged_gguf(model) if model in PACKAGED else Path(model.removeprefix("gguf:"))
            if not gguf.is_file():
                raise ConfigError(f"The {role} {model!r} is neither a packaged model ({', '.join(PACKAGED)}), a "
                                  f".gguf file that exists, nor openai:MODEL[@URL].")
            self.log(f"serving the {role} {model} with llama-server")
            url = self.enter_context(llama_server(gguf, Path(model).stem, self.run_dir / f"{role}-server.log"))
            self.served[model] = f"openai:{Path(model).stem}@{url}"
        return self.served[model]


def arm_order(exp: Experiment) -> list[str]:
    """Arms in config order, except that an arm sized after another comes after it."""
    order: list[str] = []
    for name in exp.arms:
        ref = exp.arms[name].match_size_of
        if ref and ref not in order:
            order.append(ref)
        if name not in order:
            order.append(name)
    return order


def _data_stages(r: Run, exp: Experiment, scale: str, tuned: list[str], endpoints: Endpoints, out: Path,
                 data_dir: Path, log) -> dict[str, Path]:
    """data/ARM for every tuned arm (a recipe's mix or the X-Instruction pipeline); each arm's mix.jsonl."""
    from experiments import steps

    s = exp.scales[scale]
    mixes: dict[str, Path] = {}
    for arm in tuned:
        a = exp.arms[arm]
        extra = {"mixture.size": steps.mix_rows(mixes[a.match_size_of])} if a.match_size_of else {}
        if a.recipe:
            recipe = recipe_for(exp, arm, scale, extra)

            def build(d, arm=arm, extra=extra, recipe=recipe):
                if recipe.translate:  # the served teacher's URL changes per run: not part of the key
                    teacher = endpoints.spec(s.teacher, "teacher")
                    recipe = recipe_for(exp, arm, scale, extra | {"translate.translator": teacher,
                                                                  "translate.teacher": teacher})
                return steps.build_mix(recipe, d, data_dir, log)

            r.stage(f"data/{arm}", {"recipe": to_dict(recipe), "teacher": s.teacher}, build)
        else:
            xrec = xinstruct_for(exp, arm, scale)
            r.stage(f"data/{arm}", {"xinstruct": to_dict(xrec)},
                    lambda d, xrec=xrec: steps.xinstruct_mix(xrec, d, data_dir, log))
        mixes[arm] = out / f"data/{arm}" / "mix.jsonl"
    return mixes


def _export_stages(r: Run, exp: Experiment, s, out: Path, log) -> tuple[dict[str, str], dict[str, str]]:
    """export/ARM (a verified GGUF) for every arm, or the transformers spec when the scale exports nothing;
    (model spec per arm, the key its answers depend on per arm)."""
    from experiments import steps

    models: dict[str, str] = {}
    model_keys: dict[str, str] = {}
    for arm in exp.arms:
        adapter = out / f"train/{arm}" / "adapter" if exp.arms[arm].tuned else None
        upstream = {"train": r.keys[f"train/{arm}"]} if adapter else {"base": s.base}
        if s.export:
            r.stage(f"export/{arm}", {**upstream, "type": s.export},
                    lambda d, adapter=adapter: steps.export_arm(s.base, adapter, s.export, d, log))
            models[arm] = steps.exported_spec(out / f"export/{arm}", s.export)
        else:
            models[arm] = steps.hf_spec(s.base, adapter)
        # what the answers depend on: the exported file, else the trained adapter, else the base
        model_keys[arm] = r.keys.get(f"export/{arm}") or r.keys.get(f"train/{arm}") or s.base
    return models, model_keys


def _judge_stages(r: Run, exp: Experiment, s, models: dict[str, str], answers: dict[str, Path],
                  endpoints: Endpoints, data_dir: Path, log) -> None:
    """judge/MODE-ARMS for every judge section: the pair, or each rated arm alone."""
    from eval.judge_protocols import get_protocol
    from experiments import steps

    for j in exp.judge:
        rated = [x for x in (j.arms or models) if s.judge_arms is None or x in s.judge_arms]
        targets = [tuple(j.arms)] if get_protocol(j.mode).pairwise else [(x,) for x in rated]
        for arms in targets:
            inputs = {"answers": [r.keys[f"generate/{x}"] for x in arms], "mode": j.mode, "judge": s.judge,
                      "max_tokens": s.judge_max_tokens,
                      "langs": j.langs, "turns": j.turns, "limit": s.limit} | \
                ({"constrained": True} if s.judge_constrained else {}) | \
                ({"weighted": True} if s.judge_weighted else {})  # absent when off: old runs resume
            r.stage(f"judge/{j.mode}-{'-'.join(arms)}", inputs,
                    lambda d, j=j, arms=arms: steps.judge(j, [answers[x] for x in arms],
                                                          endpoints.spec(s.judge, "judge"), s, d, data_dir, log))


def run_experiment(name: str, scale: str, out: Path, data_dir: Path, until: str | None = None,
                   log=print) -> dict:
    """Run (or resume) every stage of experiment `name` at `scale` into `out`; returns the run's card."""
    from experiments import steps

    if until is not None and until not in STAGES:
        raise ConfigError(f"--until {until!r} is not a stage; the stages: {', '.join(STAGES)}.")
    exp = load_experiment(name, scale)
    s = exp.scales[scale]
    r = Run(out, {"experiment": exp.name, "scale": scale, "config": to_dict(exp), "data_dir": str(data_dir)}, log)
    with Endpoints(out, log) as endpoints:
        tuned = [arm for arm in arm_order(exp) if exp.arms[arm].tuned]
        mixes = _data_stages(r, exp, scale, tuned, endpoints, out, data_dir, log)
        if until == "data":
            return r.card
        for arm in tuned:
            cfg = train_config_for(exp, arm, scale, mixes[arm], out / f"train/{arm}")
            # the paths are left out of the hash (the data's own hash stands for it), so a moved run dir resumes
            settings = {k: v for k, v in to_dict(cfg).items() if k not in ("data", "out")}
            r.stage(f"train/{arm}", {"data": r.keys[f"data/{arm}"], "train": settings},
                    lambda d, cfg=cfg: steps.train_arm(cfg, log))
        if until == "train":
            return r.card
        models, model_keys = _export_stages(r, exp, s, out, log)
        if until == "export":
            return r.card

        answers: dict[str, Path] = {}
        if exp.generate:
            g = exp.generate
            for arm, model in models.items():
                inputs = {"model": model_keys[arm], "set": g.set, "langs": g.langs,
                          "limit": s.limit, "turns": g.turns, "max_tokens": s.max_tokens}
                r.stage(f"generate/{arm}", inputs,
                        lambda d, model=model: steps.generate(model, g, s, d, data_dir))
                answers[arm] = out / f"generate/{arm}"
            if until == "generate":
                return r.card
        if exp.bench:
            b = exp.bench
            for arm, model in models.items():
                inputs = {"model": model_keys[arm], "tasks": b.tasks, "langs": b.langs,
                          "limit": s.limit, "style": b.prompt_style}
                r.stage(f"bench/{arm}", inputs, lambda d, model=model: steps.bench(model, b, s, d, data_dir, log))
            if until == "bench":
                return r.card
        _judge_stages(r, exp, s, models, answers, endpoints, data_dir, log)
        if until == "judge":
            return r.card

    from experiments.report import write_report

    r.record_invocation()
    r.card["report"] = write_report(exp, scale, r, out, log)
    r.run_dir.write_card()
    return r.card
