"""Products: creation, updates, search, category filter and cursor pagination."""

import pytest

from shop.checkout.rules import Limits
from tests.support.gateways import pending_checkout


def test_create_then_read_a_product(client, api, shop):
    created = api.add_product(shop, "STAR", price=2599, stock=7, category="decor",
                              name="Tree star")
    assert created == {"sku": "STAR", "name": "Tree star", "description": "",
                       "category": "decor", "price": {"amount": 2599, "currency": "EUR"},
                       "price_includes_vat": True,
                       "available": 7, "stock": 7, "reserved": 0, "images": []}
    public = client.get(f"/api/v1/shops/{shop.slug}/products/STAR").get_json()
    assert public["available"] == 7 and "stock" not in public


def test_duplicate_sku_is_a_409(api, client, shop):
    api.add_product(shop, "DUP")
    again = client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth,
                        json={"sku": "DUP", "name": "x", "price": 1, "stock": 1})
    assert again.status_code == 409 and again.get_json()["code"] == "sku_taken"


@pytest.mark.parametrize("sku", [".", "..", "export", "import"])
def test_a_sku_its_url_could_never_reach_is_refused(api, client, shop, sku):
    """A product's URL ends in its SKU: these would name the catalog's export or import, or
    be resolved away by the client, leaving a product nobody can open."""
    created = client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth,
                          json={"sku": sku, "name": "x", "price": 100, "stock": 1})
    assert created.status_code == 422 and repr(sku) in created.get_json()["detail"]
    variant = client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth, json={
        "sku": "SHOE", "name": "Shoe", "price": 100,
        "variants": [{"sku": sku, "options": {"size": "38"}, "stock": 1}]})
    assert variant.status_code == 422
    listed = client.get(f"/api/v1/shops/{shop.slug}/products").get_json()["items"]
    assert listed == []
    # Close cousins are fine, and reachable.
    api.add_product(shop, sku.replace(".", "dot") + "-1")
    assert client.get(f"/api/v1/shops/{shop.slug}/products/"
                      f"{sku.replace('.', 'dot')}-1").status_code == 200


@pytest.mark.parametrize("body, fragment", [
    ({"name": "x", "price": 1, "stock": 1}, "'sku' is required"),
    ({"sku": "a b", "name": "x", "price": 1, "stock": 1}, "only letters"),
    ({"sku": "A", "name": "x", "price": -5, "stock": 1}, "at least 0"),
    ({"sku": "A", "name": "x", "price": "12.00", "stock": 1}, "minor units"),
    ({"sku": "A", "name": "x", "price": {"amount": 1.5}, "stock": 1}, "whole number"),
    ({"sku": "A", "name": "x", "price": {"amount": 1, "currency": "euro"}, "stock": 1},
     "three-letter"),
    ({"sku": "A", "name": "x", "price": {"amount": 1, "currency": "EUR", "x": 1}, "stock": 1},
     "only 'amount' and 'currency'"),
    ({"sku": "A", "name": "x", "price": {"amount_cents": 100}, "stock": 1},
     "only 'amount' and 'currency'"),
    ({"sku": "A", "name": "x", "price": 1, "stock": -1}, "at least 0"),
    ({"sku": "A", "name": "x", "price": 1, "stock": True}, "whole number"),
    ({"sku": "A", "name": "x" * 201, "price": 1, "stock": 1}, "longer than 200"),
])
def test_bad_products_are_422_naming_the_field(client, shop, body, fragment):
    response = client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth,
                           json=body)
    assert response.status_code == 422, response.get_json()
    assert fragment in response.get_json()["detail"]


def test_patch_changes_only_what_is_sent(client, api, shop):
    api.add_product(shop, "BELL", price=300, stock=5, category="decor")
    response = client.patch(f"/api/v1/shops/{shop.slug}/products/BELL", headers=shop.auth,
                            json={"price": {"amount": 350, "currency": "EUR"}, "stock": 9})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["price"]["amount"], body["stock"], body["category"]) == (350, 9, "decor")
    delta = client.patch(f"/api/v1/shops/{shop.slug}/products/BELL", headers=shop.auth,
                         json={"stock_delta": -4})
    assert delta.get_json()["stock"] == 5


def test_patch_rejects_unknown_fields_and_unknown_skus(client, api, shop):
    api.add_product(shop, "BELL")
    unknown = client.patch(f"/api/v1/shops/{shop.slug}/products/BELL", headers=shop.auth,
                           json={"colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.get_json()["detail"]
    missing = client.patch(f"/api/v1/shops/{shop.slug}/products/NOPE", headers=shop.auth,
                           json={"stock": 1})
    assert missing.status_code == 404


def test_stock_cannot_drop_below_what_open_orders_hold(client, api, shop, app):
    api.add_product(shop, "SLED", stock=5)
    # An order whose payment is still pending (3-D Secure, say) holds 3 units.
    order = pending_checkout(app, api, shop, "SLED", 3, Limits(reservation_ttl_s=600))
    assert order.status == "pending_payment"
    too_low = client.patch(f"/api/v1/shops/{shop.slug}/products/SLED", headers=shop.auth,
                           json={"stock": 2})
    assert too_low.status_code == 409 and too_low.get_json()["code"] == "stock_below_reserved"
    fine = client.patch(f"/api/v1/shops/{shop.slug}/products/SLED", headers=shop.auth,
                        json={"stock": 3})
    assert fine.status_code == 200 and fine.get_json()["available"] == 0


def test_listing_searches_filters_and_pages(client, api, shop):
    for index in range(5):
        api.add_product(shop, f"ORN-{index}", category="ornaments", name=f"Glass bauble {index}")
    api.add_product(shop, "CANDLE", category="light", name="Beeswax candle")
    base = f"/api/v1/shops/{shop.slug}/products"
    found = client.get(base + "?q=BAUBLE").get_json()["items"]
    assert [p["sku"] for p in found] == [f"ORN-{i}" for i in range(5)]
    light = client.get(base + "?category=light").get_json()["items"]
    assert [p["sku"] for p in light] == ["CANDLE"]
    seen, cursor = [], None
    while True:
        page = client.get(base + "?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [p["sku"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"ORN-{i}" for i in range(5)] + ["CANDLE"]


def test_search_treats_wildcards_literally(client, api, shop):
    api.add_product(shop, "A", name="100% wool")
    api.add_product(shop, "B", name="1000 wool")
    found = client.get(f"/api/v1/shops/{shop.slug}/products?q=100%25").get_json()["items"]
    assert [p["sku"] for p in found] == ["A"]


@pytest.mark.parametrize("query, fragment", [
    ("limit=0", "'limit'"), ("limit=101", "'limit'"), ("limit=ten", "'limit'"),
    ("cursor=%%%", "'cursor'"), ("cursor=bm90LWEtbnVtYmVy", "'cursor'"),
    ("cursor=MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA", "'cursor'"),
])
def test_bad_listing_parameters_are_422(client, shop, query, fragment):
    response = client.get(f"/api/v1/shops/{shop.slug}/products?{query}")
    assert response.status_code == 422 and fragment in response.get_json()["detail"]


def test_unknown_shop_is_404(client):
    response = client.get("/api/v1/shops/nowhere/products")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
