"""A merchant's token reaches its own shop only: every merchant endpoint, every other shop."""

import pytest

# (method, path template, body): every endpoint that acts on a shop with a merchant token.
MERCHANT_ENDPOINTS = [
    ("POST", "/api/v1/shops/{slug}/products",
     {"sku": "NEW", "name": "New", "price": 100, "stock": 1}),
    ("PATCH", "/api/v1/shops/{slug}/products/TREE", {"stock": 0}),
    ("PATCH", "/api/v1/shops/{slug}/products/TREE", {"price": {"amount": 1, "currency": "EUR"}}),
    ("GET", "/api/v1/shops/{slug}/orders", None),
    ("POST", "/api/v1/shops/{slug}/collaborators",
     {"email": "intruder@example.com", "password": "long enough"}),
    ("GET", "/api/v1/shops/{slug}/collaborators", None),
    ("POST", "/api/v1/shops/{slug}/carriers", {"name": "Sneaky", "daily_capacity": 10}),
    ("GET", "/api/v1/shops/{slug}/carriers", None),
    ("PATCH", "/api/v1/shops/{slug}/carriers/{carrier}", {"is_down": True}),
    ("POST", "/api/v1/shops/{slug}/webhooks",
     {"url": "https://hooks.example.com/peakshop", "events": ["incident.opened"]}),
    ("GET", "/api/v1/shops/{slug}/webhooks", None),
    ("DELETE", "/api/v1/shops/{slug}/webhooks/{endpoint}", None),
    ("GET", "/api/v1/shops/{slug}/webhooks/{endpoint}/deliveries", None),
    ("POST", "/api/v1/shops/{slug}/erasures", {"email": "shopper@example.com"}),
    ("PATCH", "/api/v1/shops/{slug}/collaborators/{collaborator}", {"role": "owner"}),
    ("DELETE", "/api/v1/shops/{slug}/collaborators/{collaborator}", None),
    ("POST", "/api/v1/shops/{slug}/ownership", {"collaborator_id": 1}),
    ("GET", "/api/v1/shops/{slug}/tokens", None),
    ("DELETE", "/api/v1/shops/{slug}/tokens/{token}", None),
    ("GET", "/api/v1/shops/{slug}/plan", None),
    ("PUT", "/api/v1/shops/{slug}/plan", {"plan": "premium"}),
    ("GET", "/api/v1/shops/{slug}/audit", None),
    ("GET", "/api/v1/shops/{slug}/events", None),
    ("POST", "/api/v1/shops/{slug}/events", {"name": "Sale", "duration_min": 60,
                                              "starts_at": "2099-12-24T18:00:00+01:00",
                                              "expected_peak_rps": 100}),
    ("GET", "/api/v1/shops/{slug}/events/{event}", None),
    ("PATCH", "/api/v1/shops/{slug}/events/{event}", {"expected_peak_rps": 1}),
    ("DELETE", "/api/v1/shops/{slug}/events/{event}", None),
    ("POST", "/api/v1/shops/{slug}/products/import", None),
    ("GET", "/api/v1/shops/{slug}/products/export", None),
    ("GET", "/api/v1/shops/{slug}/waiting-room", None),
    ("PUT", "/api/v1/shops/{slug}/waiting-room", {"mode": "on", "admit_per_s": 0.01}),
    ("POST", "/api/v1/shops/{slug}/products/TREE/images", None),
    ("DELETE", "/api/v1/shops/{slug}/products/TREE/images/{image}", None),
    ("PATCH", "/api/v1/shops/{slug}/products/TREE/images/{image}", {"position": 0}),
    ("GET", "/api/v1/shops/{slug}/settings", None),
    ("PATCH", "/api/v1/shops/{slug}/settings", {"prices_include_vat": False}),
]
IDS = {"collaborator": 1, "token": 1, "event": 1, "endpoint": 1, "image": 1}


def merchant_endpoints(app):
    """Every rule of the app under /shops/<slug>/ that needs a merchant token."""
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/v1/shops/<slug>/")
            for method in rule.methods - {"HEAD", "OPTIONS"}
            if not (method == "GET" and rule.rule.endswith(("/products", "/products/<sku>",
                                                             "/status")))
            and not rule.rule.endswith("/carts")}


def test_the_table_covers_every_merchant_endpoint(app):
    """A new merchant endpoint must be added to the table above, or this fails."""
    covered = {(method, path.replace("{slug}", "<slug>").replace("TREE", "<sku>")
                .replace("{carrier}", "<int:carrier_id>").replace("{endpoint}", "<endpoint_id>")
                .replace("{collaborator}", "<int:collaborator_id>")
                .replace("{token}", "<int:token_id>").replace("{event}", "<int:event_id>")
                .replace("{image}", "<int:image_id>"))
               for method, path, _ in MERCHANT_ENDPOINTS}
    missing = merchant_endpoints(app) - covered
    assert not missing, f"add these to MERCHANT_ENDPOINTS: {sorted(missing)}"


@pytest.mark.parametrize("method, path, body", MERCHANT_ENDPOINTS)
def test_another_merchants_token_gets_403_and_changes_nothing(client, api, method, path, body):
    victim = api.sign_up("Victim")
    intruder = api.sign_up("Intruder")
    api.add_product(victim, "TREE", price=5000, stock=4)
    carrier = client.post(f"/api/v1/shops/{victim.slug}/carriers", headers=victim.auth,
                          json={"name": "Reindeer Express", "daily_capacity": 50}).get_json()
    response = client.open(path.format(slug=victim.slug, carrier=carrier["id"], **IDS),
                           method=method,
                           json=body, headers=intruder.auth)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    tree = client.get(f"/api/v1/shops/{victim.slug}/products/TREE").get_json()
    assert tree["available"] == 4 and tree["price"]["amount"] == 5000 and tree["images"] == []
    assert tree["price_includes_vat"] is True  # the shop's settings are untouched
    skus = [p["sku"] for p in client.get(f"/api/v1/shops/{victim.slug}/products")
            .get_json()["items"]]
    assert skus == ["TREE"]
    carriers = client.get(f"/api/v1/shops/{victim.slug}/carriers", headers=victim.auth)
    assert [(c["name"], c["is_down"]) for c in carriers.get_json()["items"]] == [
        ("Reindeer Express", False)]
