"""Fixtures for the scaler's tests: the season traces shipped in the repository's `traces/`."""

from __future__ import annotations

from pathlib import Path

import pytest

TRACES_DIR = Path(__file__).resolve().parents[2] / "traces"


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """The repository's `traces/` folder (season traces and their announced events)."""
    assert (TRACES_DIR / "season-2024.csv").is_file(), f"traces missing from {TRACES_DIR}"
    return TRACES_DIR
