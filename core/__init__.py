"""Floor 1: what every job shares (engines, languages, chat formatting, packaged models)."""
