"""Stand-ins for the Hugging Face hub: `datasets.load_dataset` serves small tables in each dataset's published
schema, so a recipe's rows travel the real hub path (core.readers.read_hub) offline, and a wrong dataset name,
config or split in a recipe fails."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from trainer.data.build import build
from trainer.data.recipe import load_recipe

RECIPES = ROOT / "configs" / "recipes"

def fake_hub(mp: pytest.MonkeyPatch, tables: dict[tuple, list[dict]]) -> list[tuple]:
    """Serve `tables[(dataset, config, split)]` as a `datasets.Dataset`; anything else fails as the hub would."""
    import datasets

    calls = []

    def load_dataset(path, name=None, split=None, revision=None, **kwargs):
        calls.append((path, name, split, revision))
        if (path, name, split) not in tables or revision is not None or kwargs:
            raise FileNotFoundError(f"no stand-in for {path!r} config={name!r} split={split!r} revision={revision!r}")
        return datasets.Dataset.from_list(tables[(path, name, split)])

    mp.setattr(datasets, "load_dataset", load_dataset)
    return calls


def build_from_hub(tmp_path_factory, recipe: str, tables: dict, overrides: list[str]):
    """Build configs/recipes/RECIPE.yaml with `tables` as the hub: (result, load_dataset calls, log lines)."""
    with pytest.MonkeyPatch.context() as mp:
        calls = fake_hub(mp, tables)
        out, logs = tmp_path_factory.mktemp(recipe), []
        path = RECIPES / f"{recipe}.yaml"
        result = build(load_recipe(path, overrides), out, tmp_path_factory.mktemp("no-local-files"), str(path),
                       log=logs.append)
    return result, calls, logs


def user_turn(instruction: str, extra: str) -> str:
    """The user turn the alpaca-style loaders build from an instruction and its input or context."""
    return f"{instruction}\n\n{extra}" if extra else instruction
