"""Errors a user can fix. Their message names the problem and the fix; front ends print it without a traceback."""


class PolyglotError(Exception):
    """Base of every user-facing error in Polyglot Lab."""


class SpecError(PolyglotError, ValueError):
    """A model spec string that cannot be parsed or names nothing known."""


class ModelFileError(PolyglotError, OSError):
    """A model file or directory that is missing, truncated or corrupt."""


class UnknownLanguageError(PolyglotError, LookupError):
    """A language code or name that is not in the language table."""


class EngineError(PolyglotError, RuntimeError):
    """A request an engine cannot serve (empty prompt, unsupported operation, server down)."""


class ConfigError(PolyglotError, ValueError):
    """A recipe or config file with an unknown key, a wrong type or a value out of range."""


class DataError(PolyglotError, ValueError):
    """Input data that cannot be used: unreadable files, too many malformed rows, too few rows for a mix."""


class ScoringUnsupported(EngineError):
    """A backend that cannot give log-likelihoods (a chat-only API, a server without prompt logprobs)."""
