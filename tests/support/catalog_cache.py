"""Fixtures of the HTTP-cache tests (JSON and pages): import them into a test module."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings_overrides(settings_overrides):
    """Revalidations read fresh facts every time here (the memo has its own tests)."""
    return {**settings_overrides, "catalog_revalidation_memo_ms": 0}


@pytest.fixture
def mug(api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=5)
    return shop
