"""Variants: each size is a product row of its own, sold, reserved and patched by its SKU."""

import pytest

from tests.support.api import ADDRESS

SOCKS = {"sku": "SOCK", "name": "Wool socks", "price": {"amount": 1290, "currency": "EUR"},
         "category": "socks",
         "variants": [{"sku": "SOCK-38", "options": {"size": "38"}, "stock": 2},
                      {"sku": "SOCK-42", "options": {"size": "42"}, "stock": 5,
                       "price": {"amount": 1390, "currency": "EUR"}}]}


def create(api, shop, body):
    return api.client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth, json=body)


def test_product_lists_its_variants_with_price_and_availability(api, shop):
    created = create(api, shop, SOCKS)
    assert created.status_code == 201, created.get_json()
    body = api.client.get(f"/api/v1/shops/{shop.slug}/products/SOCK").get_json()
    assert body["variants"] == [
        {"sku": "SOCK-38", "options": {"size": "38"},
         "price": {"amount": 1290, "currency": "EUR"}, "available": 2},
        {"sku": "SOCK-42", "options": {"size": "42"},
         "price": {"amount": 1390, "currency": "EUR"}, "available": 5}]
    assert body["available"] == 7
    variant = api.client.get(f"/api/v1/shops/{shop.slug}/products/SOCK-42").get_json()
    assert variant["parent_sku"] == "SOCK" and variant["options"] == {"size": "42"}
    assert variant["price"]["amount"] == 1390 and variant["available"] == 5
    listing = api.client.get(f"/api/v1/shops/{shop.slug}/products").get_json()
    assert [item["sku"] for item in listing["items"]] == ["SOCK"]  # parents only
    assert len(listing["items"][0]["variants"]) == 2


def test_a_variant_is_bought_reserved_and_restocked_by_its_own_sku(api, shop):
    create(api, shop, SOCKS)
    cart_id = api.new_cart(shop)
    assert api.set_item(cart_id, "SOCK-38", 3).status_code == 409  # only 2 of size 38
    response = api.set_item(cart_id, "SOCK-38", 2)
    assert response.status_code == 200
    assert response.get_json()["items"][0]["name"] == "Wool socks (size 38)"
    placed = api.checkout(cart_id)
    assert placed.status_code == 201, placed.get_json()
    product = api.client.get(f"/api/v1/shops/{shop.slug}/products/SOCK").get_json()
    assert {v["sku"]: v["available"] for v in product["variants"]} == {"SOCK-38": 0,
                                                                       "SOCK-42": 5}
    patched = api.client.patch(f"/api/v1/shops/{shop.slug}/products/SOCK-38",
                               headers=shop.auth, json={"stock_delta": 4})
    assert patched.status_code == 200
    assert patched.get_json()["stock"] == 6 and patched.get_json()["available"] == 4
    assert api.client.patch(f"/api/v1/shops/{shop.slug}/products/SOCK-42", headers=shop.auth,
                            json={"stock": 1}).get_json()["available"] == 1


def test_the_parent_itself_is_not_sold_nor_stocked(api, shop):
    create(api, shop, SOCKS)
    cart_id = api.new_cart(shop)
    refused = api.set_item(cart_id, "SOCK", 1)
    assert refused.status_code == 422
    assert refused.get_json()["code"] == "variant_required"
    patched = api.client.patch(f"/api/v1/shops/{shop.slug}/products/SOCK", headers=shop.auth,
                               json={"stock": 3})
    assert patched.status_code == 422


def variant(sku="V-1", **changes):
    return {"sku": sku, "options": {"size": "38"}, "stock": 1, **changes}


@pytest.mark.parametrize("variants, status, code", [
    ([variant("SOCK")], 409, "sku_taken"),                       # same as the parent
    ([variant("A"), variant("A", options={"size": "39"})], 409, "sku_taken"),
    ([variant("A"), variant("B")], 422, "duplicate_variant"),    # same options twice
    ([variant(variants=[variant("C")])], 422, "nested_variants"),
    ([variant(options={"size": 38})], 422, "invalid_input"),
    ([variant(options={"size": "x" * 51})], 422, "invalid_input"),
    ([variant(options={})], 422, "invalid_input"),
    ([variant(options=["size", "38"])], 422, "invalid_input"),
    ([variant(options={"Size!": "38"})], 422, "invalid_input"),
    ([variant(options={f"o{n}": "1" for n in range(4)})], 422, "invalid_input"),
    ([variant(colour="red")], 422, "invalid_input"),
    ([variant(stock=-1)], 422, "invalid_input"),
    ([variant(stock="5")], 422, "invalid_input"),
    ([variant(sku="bad sku")], 422, "invalid_input"),
    ([variant(price={"amount": 100, "currency": "USD"})], 422, "currency_mismatch"),
    ([variant(f"V{n}", options={"size": str(n)}) for n in range(101)], 422,
     "too_many_variants"),
    ([], 422, "invalid_input"),
    ("SOCK-38", 422, "invalid_input"),
    ([7], 422, "invalid_input"),
])
def test_hostile_variants_are_refused_and_nothing_is_created(api, shop, variants, status,
                                                              code):
    response = create(api, shop, {**SOCKS, "variants": variants})
    assert response.status_code == status, response.get_json()
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json()["code"] == code
    assert api.client.get(f"/api/v1/shops/{shop.slug}/products/SOCK").status_code == 404


def test_a_variant_sku_cannot_reuse_an_existing_product(api, shop):
    api.add_product(shop, "SOCK-38")
    response = create(api, shop, SOCKS)
    assert response.status_code == 409
    assert response.get_json()["code"] == "sku_taken"
    assert api.client.get(f"/api/v1/shops/{shop.slug}/products/SOCK").status_code == 404


def test_stock_on_a_product_with_variants_is_refused(api, shop):
    assert create(api, shop, {**SOCKS, "stock": 5}).status_code == 422
    assert create(api, shop, {**SOCKS, "stock": 0}).status_code == 201


def test_checkout_of_a_variant_records_it_on_the_order(api, shop):
    create(api, shop, SOCKS)
    placed = api.buy(shop, "SOCK-42", 2)
    body = api.order(placed.get_json()["order_id"], placed.get_json()["access_token"]).get_json()
    assert body["items"] == [{"sku": "SOCK-42", "name": "Wool socks (size 42)", "quantity": 2,
                              "unit_price": {"amount": 1390, "currency": "EUR"}}]
    assert body["shipping_address"]["country"] == ADDRESS["country"]


def test_pages_show_a_product_with_variants_as_available_from_its_lowest_price(api, shop):
    create(api, shop, SOCKS)
    catalog = api.client.get(f"/shops/{shop.slug}/").get_data(as_text=True)
    assert "from €12.90" in catalog and "7 left" in catalog and "Sold out" not in catalog
    page = api.client.get(f"/shops/{shop.slug}/products/SOCK").get_data(as_text=True)
    assert '<label for="sku">Size</label>' in page
    assert '<option value="SOCK-42"' in page and "42 · €13.90 · 5 left" in page


def test_a_second_product_reusing_a_variant_sku_is_409(api, shop):
    first = create(api, shop, SOCKS)
    again = create(api, shop, {**SOCKS, "sku": "SOCK-2"})
    assert first.status_code == 201 and again.status_code == 409
    assert again.get_json()["code"] == "sku_taken"
