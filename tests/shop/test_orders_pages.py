"""The merchant's order list pages with a cursor: every order reachable exactly once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from shop.orders.models import Order


def _pages(client, shop, query=""):
    seen, cursor = [], None
    while True:
        url = f"/api/v1/shops/{shop.slug}/orders?limit=2{query}"
        if cursor:
            url += f"&cursor={cursor}"
        response = client.get(url, headers=shop.auth)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen += [order["order_id"] for order in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_every_order_is_reached_once_even_when_created_in_the_same_instant(app, client, api,
                                                                           shop):
    api.add_product(shop, "TREE", stock=50)
    placed = [api.buy(shop, "TREE").get_json()["order_id"] for _ in range(5)]
    placed += [api.buy(shop, "TREE", token="tok_declined").get_json()["order_id"]
               for _ in range(2)]
    with app.extensions["peakshop"].database.transaction() as session:
        session.execute(update(Order).where(Order.id.in_(placed[1:4]))
                        .values(created_at=datetime(2026, 12, 1, 12, 0)))
    seen = _pages(client, shop)
    assert sorted(seen) == sorted(placed) and len(seen) == len(set(seen))
    failed = _pages(client, shop, "&status=payment_failed")
    assert sorted(failed) == sorted(placed[5:])


def test_a_forged_cursor_is_a_422(client, shop):
    for cursor in ("nope", "%%%", "MjAyNnxhYmM"):
        response = client.get(f"/api/v1/shops/{shop.slug}/orders?cursor={cursor}",
                              headers=shop.auth)
        assert response.status_code == 422, cursor
