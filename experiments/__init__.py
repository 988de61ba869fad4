"""Experiments: each seed paper's central experiment as one YAML (configs/experiments/), run end to end through
trainer, quantize and eval, resumable stage by stage, ending in report.md with tables and plots."""
