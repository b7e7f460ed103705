"""The role matrix: every shop route is in it, and every role gets what the matrix says."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image

from shop.merchants.roles import (
    ACTIONS,
    PUBLIC,
    ROUTES,
    SHOP,
    Role,
    action_for,
    is_merchant_route,
    may,
)

_spares = itertools.count(1)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, "PNG")
    return out.getvalue()


PNG = _png()
CSV = ("sku,name,description,category,price_amount,currency,stock\r\n"
       "CSV-1,Candle,,light,500,EUR,3\r\n")
EVENT = {"name": "Launch", "starts_at": "2099-12-01T10:00:00+01:00", "duration_min": 60,
         "expected_peak_rps": 100}

# (method, URL rule) -> (path, JSON body or CSV text, status when the role is allowed).
# Paths name the fixtures made in `world`: the product TREE, carrier, event, a spare
# invitee to change and remove, and the acting member's own token.
REQUESTS = {
    ("POST", f"{SHOP}/products"): ("/products", {"sku": "NEW-{role}", "name": "New", "price": 100,
                                                  "stock": 1}, 201),
    ("PATCH", f"{SHOP}/products/<sku>"): ("/products/TREE", {"stock": 3}, 200),
    ("POST", f"{SHOP}/products/import"): ("/products/import?dry_run=false", CSV, 200),
    ("GET", f"{SHOP}/products/export"): ("/products/export", None, 200),
    ("GET", f"{SHOP}/orders"): ("/orders", None, 200),
    ("GET", f"{SHOP}/carriers"): ("/carriers", None, 200),
    ("POST", f"{SHOP}/carriers"): ("/carriers", {"name": "Sleigh {role}",
                                                  "daily_capacity": 5}, 201),
    ("PATCH", f"{SHOP}/carriers/<int:carrier_id>"): ("/carriers/{carrier}",
                                                     {"is_down": True}, 200),
    ("GET", f"{SHOP}/events"): ("/events", None, 200),
    ("POST", f"{SHOP}/events"): ("/events", EVENT, 201),
    ("GET", f"{SHOP}/events/<int:event_id>"): ("/events/{event}", None, 200),
    ("PATCH", f"{SHOP}/events/<int:event_id>"): ("/events/{event}",
                                                 {"expected_peak_rps": 10}, 200),
    ("DELETE", f"{SHOP}/events/<int:event_id>"): ("/events/{event}", None, 204),
    ("GET", f"{SHOP}/collaborators"): ("/collaborators", None, 200),
    ("POST", f"{SHOP}/collaborators"): ("/collaborators", {"email": "new-{role}@example.com",
                                                           "role": "viewer"}, 201),
    ("PATCH", f"{SHOP}/collaborators/<int:collaborator_id>"): ("/collaborators/{spare}",
                                                               {"role": "staff"}, 200),
    ("DELETE", f"{SHOP}/collaborators/<int:collaborator_id>"): ("/collaborators/{spare}",
                                                                None, 204),
    ("POST", f"{SHOP}/ownership"): ("/ownership", {"collaborator_id": "{manager}"}, 200),
    ("GET", f"{SHOP}/tokens"): ("/tokens", None, 200),
    ("DELETE", f"{SHOP}/tokens/<int:token_id>"): ("/tokens/{own_token}", None, 204),
    ("GET", f"{SHOP}/plan"): ("/plan", None, 200),
    ("PUT", f"{SHOP}/plan"): ("/plan", {"plan": "premium"}, 200),
    ("GET", f"{SHOP}/audit"): ("/audit", None, 200),
    ("GET", f"{SHOP}/webhooks"): ("/webhooks", None, 200),
    # A public address: the SSRF guard needs no DNS for it, and nothing is delivered here.
    ("POST", f"{SHOP}/webhooks"): ("/webhooks", {"url": "https://93.184.216.34/{role}",
                                                  "events": ["incident.opened"]}, 201),
    ("DELETE", f"{SHOP}/webhooks/<endpoint_id>"): ("/webhooks/{webhook}", None, 204),
    ("GET", f"{SHOP}/webhooks/<endpoint_id>/deliveries"): ("/webhooks/{webhook}/deliveries",
                                                           None, 200),
    ("POST", f"{SHOP}/erasures"): ("/erasures", {"email": "gone-{role}@example.com"}, 200),
    ("GET", f"{SHOP}/waiting-room"): ("/waiting-room", None, 200),
    ("PUT", f"{SHOP}/waiting-room"): ("/waiting-room", {"mode": "on", "admit_per_s": 5}, 200),
    ("POST", f"{SHOP}/products/<sku>/images"): ("/products/TREE/images?alt=Tree", PNG, 201),
    ("DELETE", f"{SHOP}/products/<sku>/images/<int:image_id>"): (
        "/products/TREE/images/{image}", None, 204),
    ("PATCH", f"{SHOP}/products/<sku>/images/<int:image_id>"): (
        "/products/TREE/images/{image}", {"position": 0, "alt": "Tree, {role}"}, 200),
    ("GET", f"{SHOP}/settings"): ("/settings", None, 200),
    ("PATCH", f"{SHOP}/settings"): ("/settings", {"prices_include_vat": False}, 200),
}
# The JSON routes; the back-office page has its own tests (test_pages.py).
PROTECTED = sorted(key for key, action in ROUTES.items()
                   if action != PUBLIC and key[1].startswith(SHOP + "/"))


def shop_routes(app) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if is_merchant_route(rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_shop_route_is_in_the_matrix(app):
    """A new route under /api/v1/shops/<slug>/ or /merchant/shops/<slug>/ must be classified
    in shop.merchants.roles."""
    missing = sorted(shop_routes(app) - set(ROUTES))
    assert not missing, f"add these to shop.merchants.roles.ROUTES: {missing}"
    stale = sorted(set(ROUTES) - shop_routes(app))
    assert not stale, f"these ROUTES lines name no route: {stale}"


def test_every_route_names_a_known_action_and_the_table_covers_them():
    assert {action for action in ROUTES.values() if action != PUBLIC} <= set(ACTIONS)
    assert set(REQUESTS) == set(PROTECTED)


def test_a_viewer_reads_and_never_writes():
    for (method, rule), action in ROUTES.items():
        if action == PUBLIC:
            continue
        if method == "GET" and action != "audit.read":
            assert may(Role.VIEWER, action), rule
        if method != "GET":
            assert not may(Role.VIEWER, action), (method, rule)


def test_only_owners_manage_the_team_plan_and_audit():
    for action in ("team.write", "plan.write", "audit.read"):
        assert ACTIONS[action] == {Role.OWNER}


def test_an_unclassified_route_is_for_owners_and_managers_only():
    assert action_for("PUT", f"{SHOP}/waiting-room-of-tomorrow") is None
    assert may("manager", None) and not may("staff", None) and not may("viewer", None)


def _invitee(client, owner) -> int:
    """A spare collaborator to change or remove: an open invitation (no password to hash)."""
    response = client.post(f"/api/v1/shops/{owner.slug}/collaborators", headers=owner.auth,
                           json={"email": f"spare{next(_spares)}@example.com",
                                 "role": "viewer"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _world(client, owner, member) -> dict:
    event = client.post(f"/api/v1/shops/{owner.slug}/events", headers=owner.auth, json=EVENT)
    assert event.status_code == 201, event.get_json()
    tokens = client.get(f"/api/v1/shops/{member.slug}/tokens",
                        headers=member.auth).get_json()["items"]
    webhook = client.post(f"/api/v1/shops/{owner.slug}/webhooks", headers=owner.auth,
                          json={"url": "https://93.184.216.34/world",
                                "events": ["incident.opened"]})
    assert webhook.status_code == 201, webhook.get_json()
    image = client.post(f"/api/v1/shops/{owner.slug}/products/TREE/images?alt=Tree",
                        headers=owner.auth, data=PNG, content_type="image/png")
    assert image.status_code == 201, image.get_json()
    return {"event": event.get_json()["id"], "spare": _invitee(client, owner),
            "image": image.get_json()["id"],
            "webhook": webhook.get_json()["id"],
            "own_token": next(item["token_id"] for item in tokens
                              if item["collaborator_id"] == member.collaborator_id)}


def _fill(value, names: dict):
    if not isinstance(value, str) or "{" not in value:
        return value
    if value.startswith("{") and value.endswith("}"):
        return names[value[1:-1]]
    return value.format(**names)


# The owner goes last: its request may hand over ownership or revoke its own token.
ROLE_ORDER = ("viewer", "staff", "manager", "owner")


@pytest.mark.parametrize("route", PROTECTED, ids=lambda key: f"{key[0]} {key[1]}")
def test_role_by_route_gets_the_status_of_the_matrix(client, api, team, route):
    """For each route, each role in turn: the success status when the matrix allows the
    role, else 403 (a table of role x route -> status)."""
    owner = team["owner"]
    api.add_product(owner, "TREE", stock=5)
    carrier = client.post(f"/api/v1/shops/{owner.slug}/carriers", headers=owner.auth,
                          json={"name": "Reindeer", "daily_capacity": 9}).get_json()
    path_template, body_template, success = REQUESTS[route]
    outcomes, expected = {}, {}
    for role in ROLE_ORDER:
        member = team[role]
        names = {"carrier": carrier["id"], "manager": team["manager"].collaborator_id,
                 "role": role,
                 **_world(client, owner, member)}
        path = path_template.format(**names)
        body = body_template
        if isinstance(body, dict):
            body = {key: _fill(value, names) for key, value in body.items()}
        url = f"/api/v1/shops/{member.slug}{path}"
        if isinstance(body, str):
            response = client.open(url, method=route[0], data=body, content_type="text/csv",
                                   headers=member.auth)
        elif isinstance(body, bytes):
            response = client.open(url, method=route[0], data=body, content_type="image/png",
                                   headers=member.auth)
        else:
            response = client.open(url, method=route[0], json=body, headers=member.auth)
        outcomes[role] = response.status_code
        expected[role] = success if may(role, ROUTES[route]) else 403
        if expected[role] == 403 and response.status_code == 403:
            assert response.get_json()["code"] == "role_forbidden"
    assert outcomes == expected
