"""Fixtures for the shopper's HTML pages."""

from __future__ import annotations

import pytest

from tests.storefront.pages import Shopper


@pytest.fixture
def shopper(client) -> Shopper:
    return Shopper(client)
