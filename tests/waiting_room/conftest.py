"""Helpers for the waiting room's tests: a shop with a product, and its room switched."""

from __future__ import annotations

import pytest

ROOM_HEADER = "Peakshop-Waiting-Room"


@pytest.fixture
def stocked_shop(api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=50)
    return shop


@pytest.fixture
def switch_room(client):
    def switch(shop, mode: str, admit_per_s: float | None = None):
        body = {"mode": mode} | ({"admit_per_s": admit_per_s} if admit_per_s else {})
        response = client.put(f"/api/v1/shops/{shop.slug}/waiting-room", json=body,
                              headers=shop.auth)
        assert response.status_code == 200, response.get_json()
        return response.get_json()
    return switch
