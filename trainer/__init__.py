"""Floor 2: multilingual instruction mixes, LoRA/QLoRA fine-tuning and merging (issues #3, #4)."""

from trainer.data import seed_languages as _seed_languages  # noqa: E402,F401  (registers the seeds' languages)
