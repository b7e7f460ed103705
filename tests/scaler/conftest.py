"""Fixtures for the scaler's tests: where the shared traces live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path:
    """`PEAKSHOP_SHARED_DIR`, else the `shared/` folder beside the repository."""
    configured = os.environ.get("PEAKSHOP_SHARED_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """The folder of published traces; tests that need it are skipped only if it is absent."""
    folder = shared_dir() / "traces"
    if not folder.is_dir():
        pytest.skip(f"traces not found at {folder}: set PEAKSHOP_SHARED_DIR")
    return folder
