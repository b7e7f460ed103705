"""A shopper buys what a merchant sells, over the public JSON API."""


def test_a_shopper_buys_a_product(api, shop):
    api.add_product(shop, "MUG", price=1250, stock=3)
    response = api.buy(shop, "MUG", 2)
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "paid"
    assert order["total"] == {"amount": 2500, "currency": "EUR"}
    product = api.client.get(f"/api/v1/shops/{shop.slug}/products/MUG").get_json()
    assert product["available"] == 1
    shown = api.order(order["order_id"], order["access_token"]).get_json()
    assert shown["status"] == "paid"
    assert shown["items"] == [{"sku": "MUG", "name": "Product MUG", "quantity": 2,
                               "unit_price": {"amount": 1250, "currency": "EUR"}}]
