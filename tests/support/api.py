"""A thin helper that speaks the public JSON API through Flask's test client."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Frost Lane", "city": "Rovaniemi",
           "postal_code": "96930", "country": "FI"}
_emails = itertools.count(1)


@dataclass
class Shop:
    slug: str
    token: str
    merchant_id: int

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


class ShopApi:
    def __init__(self, client):
        self.client = client

    def sign_up(self, name: str = "Acme") -> Shop:
        response = self.client.post("/api/v1/merchants", json={
            "name": name, "email": f"owner{next(_emails)}@example.com",
            "password": "correct horse battery"})
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        return Shop(body["merchant"]["slug"], body["token"], body["merchant"]["id"])

    def add_product(self, shop: Shop, sku: str = "SKU-1", *, price: int = 1999,
                    stock: int = 10, category: str | None = None, name: str | None = None):
        response = self.client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth,
                                    json={"sku": sku, "name": name or f"Product {sku}",
                                          "price": {"amount": price, "currency": "EUR"},
                                          "stock": stock, "category": category})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def new_cart(self, shop: Shop) -> str:
        response = self.client.post(f"/api/v1/shops/{shop.slug}/carts")
        assert response.status_code == 201, response.get_json()
        return response.get_json()["cart_id"]

    def set_item(self, cart_id: str, sku: str, quantity: int):
        return self.client.put(f"/api/v1/carts/{cart_id}/items/{sku}",
                               json={"quantity": quantity})

    def checkout(self, cart_id: str, *, token: str = "tok_ok", key: str | None = None,
                 email: str = "shopper@example.com"):
        headers = {"Idempotency-Key": key} if key else {}
        return self.client.post(f"/api/v1/carts/{cart_id}/checkout", headers=headers, json={
            "email": email, "shipping_address": ADDRESS,
            "payment": {"gateway": "dummy", "token": token}})

    def buy(self, shop: Shop, sku: str, quantity: int = 1, *, token: str = "tok_ok",
            key: str | None = None):
        cart_id = self.new_cart(shop)
        response = self.set_item(cart_id, sku, quantity)
        assert response.status_code == 200, response.get_json()
        return self.checkout(cart_id, token=token, key=key)

    def order(self, order_id: str, access_token: str):
        return self.client.get(f"/api/v1/orders/{order_id}",
                               headers={"Authorization": f"Bearer {access_token}"})
