"""Shared fixtures: the shared data directory, the packaged engines (loaded once) and a report section."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POLYGLOT_SHARED_DATA", ROOT.parent / "shared" / "data"))

_reports: list[str] = []


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (read in place, never copied)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"Shared data not found at {SHARED_DATA}; put shared/ beside the checkout "
                    f"or set POLYGLOT_SHARED_DATA.")
    return SHARED_DATA


@pytest.fixture(scope="session")
def report():
    """Call report(text) to print a block in the terminal summary (per-language tables, agreements)."""
    return _reports.append


def pytest_terminal_summary(terminalreporter):
    if _reports:
        terminalreporter.section("Polyglot Lab measurements")
        for block in _reports:
            terminalreporter.write_line(block)


_engines: dict[str, object] = {}


@pytest.fixture(scope="session")
def engine():
    """engine(spec) -> a loaded engine, shared by every test of the session."""
    from core.engines import load

    def get(spec: str):
        if spec not in _engines:
            _engines[spec] = load(spec)
        return _engines[spec]

    yield get
    for e in _engines.values():
        e.close()
