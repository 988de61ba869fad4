"""An experiment: the arms (models) to build, how to evaluate them, and per scale (cpu, gpu) the base model, the
training settings, the judge and the sizes. Loaded from `configs/experiments/NAME.yaml` and validated on load:
every arm's data recipe and training config are built at once, so a typo fails before any work starts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

from core.config import config_dataclass, language_codes, load_config
from core.errors import ConfigError
from eval.judge_protocols import get_protocol

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS_DIR = ROOT / "configs" / "experiments"


@config_dataclass
class Arm:
    """One model to compare. No recipe and no xinstruct: the base model itself, untuned."""

    recipe: str | None = None  # a data recipe (configs/recipes/...) whose mix the arm is tuned on
    recipe_overrides: dict = dataclasses.field(default_factory=dict)  # dotted keys, e.g. mixture.languages
    xinstruct: str | None = None  # an X-Instruction recipe: the pipeline's mix is the arm's data
    match_size_of: str | None = None  # take as many rows as this arm's mix has (mixture.size)
    train_overrides: dict = dataclasses.field(default_factory=dict)
    label: str | None = None  # the name in tables and plots (default: the arm's key)

    def __post_init__(self):
        if self.recipe and self.xinstruct:
            raise ValueError("an arm has either `recipe:` or `xinstruct:`, not both")

    @property
    def tuned(self) -> bool:
        return bool(self.recipe or self.xinstruct)


@config_dataclass
class Generate:
    """Answers to an open-ended prompt set (eval generate): the input/output language agreement."""

    set: str
    langs: list[str] | None = None
    turns: int = 1

    def __post_init__(self):
        if self.langs:
            self.langs = language_codes(self.langs)


@config_dataclass
class Bench:
    """Log-likelihood or generative benchmarks (eval bench)."""

    tasks: list[str]
    langs: list[str] | None = None
    prompt_style: Literal["chat", "raw"] = "chat"


@config_dataclass
class Judging:
    """One judge run over the generated answers: a mode, and the arms it judges (`a` vs `b` for pairs)."""

    mode: str  # a judge protocol's name (eval.judge_protocols), checked below
    arms: list[str] | None = None  # likert/single: each of these arms (default: all); pairs: exactly two
    langs: list[str] | None = None
    turns: int = 1

    def __post_init__(self):
        if get_protocol(self.mode).pairwise and (not self.arms or len(self.arms) != 2):
            raise ValueError(f"judge mode {self.mode} compares two arms: set `arms: [A, B]`")


@config_dataclass
class Scale:
    """What changes between a laptop run and a GPU run: the model, the steps, the sizes and the judge."""

    base: str  # the model spec every arm starts from (packaged name, hub id, directory)
    train: str  # a training config (configs/train/...); data/out/base are set per arm
    train_overrides: dict = dataclasses.field(default_factory=dict)
    recipe_overrides: dict = dataclasses.field(default_factory=dict)  # applied to every arm's recipe
    xinstruct_overrides: dict = dataclasses.field(default_factory=dict)
    export: str | None = "q8_0"  # evaluate GGUF exports of this type (llama.cpp); None = transformers + adapter
    judge: str | None = None  # a packaged name or .gguf (served here by llama-server) or openai:MODEL[@URL]
    teacher: str | None = None  # the same, for recipes that translate and distill
    limit: int | None = None  # prompts / items per language in every evaluation
    max_tokens: int = 256  # per generated answer
    concurrency: int = 4  # judge and teacher calls in flight
    judge_max_tokens: int = 1024  # per judge reply (a small served judge rambles: cap it at the cpu scale)
    judge_arms: list[str] | None = None  # rate only these arms at this scale (a slow local judge); None = all
    judge_constrained: bool = False  # a llama.cpp grammar lets the (served) judge write only the verdict
    judge_weighted: bool = False  # also read each verdict's probability from the judge's logprobs (eval --weighted)


@config_dataclass
class Experiment:
    name: str
    seed: str  # the paper the experiment reproduces
    claim: str  # its central claim, in one or two sentences
    analysis: str  # the function in experiments/analyses.py that checks the claim and draws the plots
    arms: dict[str, Arm]
    scales: dict[str, Scale]
    generate: Generate | None = None
    bench: Bench | None = None
    judge: list[Judging] = dataclasses.field(default_factory=list)
    notes: str = ""  # what differs from the paper at these scales, said in the report

    def __post_init__(self):
        unknown = {a for j in self.judge for a in (j.arms or [])} - set(self.arms)
        unknown |= {arm.match_size_of for arm in self.arms.values() if arm.match_size_of} - set(self.arms)
        unknown |= {a for s in self.scales.values() for a in (s.judge_arms or [])} - set(self.arms)
        if unknown:
            raise ValueError(f"arm(s) {sorted(unknown)} are named but not defined; the arms: {', '.join(self.arms)}")
        if self.judge and self.generate is None:
            raise ValueError("a judge needs answers: add a `generate:` section")
        if not self.scales:
            raise ValueError("an experiment needs at least one scale (cpu, gpu)")

    def label(self, arm: str) -> str:
        return self.arms[arm].label or arm


def experiment_path(name: str) -> Path:
    """configs/experiments/NAME.yaml, or NAME itself when it is a file."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path
    path = EXPERIMENTS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"No experiment {name!r}; the experiments are: {', '.join(list_experiments())} "
                          f"(files in {EXPERIMENTS_DIR}).")
    return path


def list_experiments() -> list[str]:
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


def load_experiment(name: str, scale: str) -> Experiment:
    """Read and check the experiment, including each arm's recipe and training config at `scale`."""
    exp = load_config(Experiment, experiment_path(name))
    if scale not in exp.scales:
        raise ConfigError(f"Experiment {exp.name} has no scale {scale!r}; its scales: {', '.join(exp.scales)}.")
    for arm_name, arm in exp.arms.items():
        if arm.recipe:
            recipe_for(exp, arm_name, scale)
        if arm.xinstruct:
            xinstruct_for(exp, arm_name, scale)
        if arm.tuned:
            train_config_for(exp, arm_name, scale, data=Path("mix.jsonl"), out=Path("train"))
    return exp


def overrides(*dicts: dict) -> list[str]:
    """Dotted-key dicts as `key=value` overrides (values as JSON, which YAML reads back unchanged)."""
    return [f"{k}={json.dumps(v)}" for d in dicts for k, v in d.items()]


def _path(p: str) -> Path:
    return Path(p) if Path(p).is_absolute() else ROOT / p


def recipe_for(exp: Experiment, arm: str, scale: str, extra: dict | None = None):
    from trainer.data.recipe import load_recipe

    a = exp.arms[arm]
    return load_recipe(_path(a.recipe), overrides(exp.scales[scale].recipe_overrides, a.recipe_overrides, extra or {}))


def xinstruct_for(exp: Experiment, arm: str, scale: str):
    from trainer.xinstruct.recipe import load_xinstruct

    s = exp.scales[scale]
    return load_xinstruct(_path(exp.arms[arm].xinstruct),
                                 overrides({"base": s.base}, s.xinstruct_overrides))


def train_config_for(exp: Experiment, arm: str, scale: str, data: Path, out: Path):
    from trainer.config import load_train_config

    s = exp.scales[scale]
    fixed = {"base": s.base, "data": str(data), "out": str(out)}
    return load_train_config(_path(s.train), overrides(s.train_overrides, exp.arms[arm].train_overrides, fixed))
