"""Floor 2: multilingual instruction mixes, LoRA/QLoRA fine-tuning and merging (issues #3, #4)."""
