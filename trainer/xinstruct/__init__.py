"""X-Instruction: cross-lingual instruction data mined from native text (`python -m trainer xinstruct`)."""
