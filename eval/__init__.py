"""Floor 2: zero-shot benchmarks, LLM judge and language-agreement checks."""
