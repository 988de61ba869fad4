"""Recipes picked by `recipe:`: an unknown name is refused with the registered ones, and a recipe registered
here (composed from the trainer's components) is what `train_all` runs, once per language group."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from tests.test_trainer_tiny import _config
from tests.tiny_model import build_tiny_model
from trainer import recipes
from trainer.config import TrainConfig


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", initializer_range=0.3)


@pytest.fixture
def registry():
    """The registry as it was before the test (a recipe registered in a test does not outlive it)."""
    before = dict(recipes.RECIPES)
    yield recipes
    recipes.RECIPES.clear()
    recipes.RECIPES.update(before)


def test_unknown_recipe_is_refused_with_the_registered_ones(tiny, tmp_path):
    assert "sft_lora" in recipes.names()
    assert load_config(TrainConfig, _config(tiny, tmp_path)).recipe == "sft_lora"
    with pytest.raises(ConfigError, match=r"recipe: unknown recipe 'dpo'; registered: .*sft_lora"):
        load_config(TrainConfig, _config(tiny, tmp_path, recipe="dpo"))
    with pytest.raises(ValueError, match="registered twice"):
        recipes.register("sft_lora")(lambda cfg, job: {})


def test_a_registered_recipe_is_picked_by_name_and_run_by_train_all(tiny, tmp_path, registry):
    from trainer import modeling
    from trainer.eval_loss import per_language_loss
    from trainer.recipes.sft_lora import sft_data
    from trainer.train import train_all

    @registry.register("untrained_eval")
    def untrained_eval(cfg, job):  # the base with fresh adapters, evaluated: no loop, no optimizer
        tokenizer, model, name = modeling.load_base(cfg, device_is_cuda=False)
        data = sft_data(cfg, tokenizer, modeling.chat_tokenizer(tokenizer, cfg, name), job.languages)
        model = modeling.add_lora(model, cfg)
        return {"out": job.out, "eval_loss": per_language_loss(model, data.eval, tokenizer.pad_token_id, "cpu")}

    cfg = load_config(TrainConfig, _config(tiny, tmp_path, recipe="untrained_eval", per_language=[["de"], ["en"]]))
    results = train_all(cfg, log=lambda m: None)
    assert {k: v["out"] for k, v in results.items()} == {"de": tmp_path / "run" / "de", "en": tmp_path / "run" / "en"}
    assert set(results["de"]["eval_loss"]) == {"de"} and set(results["en"]["eval_loss"]) == {"en"}
    assert not (tmp_path / "run" / "de").exists()  # sft_lora, which writes the out dir, was not run
