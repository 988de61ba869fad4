"""Floor 2: zero-shot benchmarks, LLM judge and language-agreement checks."""

# Importing the task registry and the prompt sets registers their languages with core.languages' table.
from eval import prompt_sets as _prompt_sets  # noqa: E402,F401
from eval import tasks as _tasks  # noqa: E402,F401
