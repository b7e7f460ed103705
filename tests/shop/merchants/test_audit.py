"""The audit log: who changed prices, stock, carriers, team, tokens, events and plan."""

from __future__ import annotations

from tests.shop.merchants.conftest import PASSWORD


def _all_entries(client, owner, limit=2):
    entries, cursor, pages = [], None, 0
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"/api/v1/shops/{owner.slug}/audit{query}", headers=owner.auth)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        entries += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return entries, pages


def test_every_kind_of_change_is_logged_with_its_author(client, api, team):
    owner, manager, staff = team["owner"], team["manager"], team["staff"]
    shop = f"/api/v1/shops/{owner.slug}"
    api.add_product(staff, "BELL", price=700)
    client.patch(f"{shop}/products/BELL", headers=staff.auth,
                 json={"price": {"amount": 650, "currency": "EUR"}, "stock": 4})
    carrier = client.post(f"{shop}/carriers", headers=manager.auth,
                          json={"name": "Sleigh", "daily_capacity": 5}).get_json()
    client.patch(f"{shop}/carriers/{carrier['id']}", headers=manager.auth, json={"is_down": True})
    client.post(f"{shop}/events", headers=manager.auth, json={
        "name": "Launch", "starts_at": "2099-01-01T09:00:00Z", "duration_min": 30,
        "expected_peak_rps": 50})
    client.patch(f"{shop}/collaborators/{staff.collaborator_id}", headers=owner.auth,
                 json={"role": "viewer"})
    client.put(f"{shop}/plan", headers=owner.auth, json={"plan": "premium"})
    token_id = client.get(f"{shop}/tokens", headers=manager.auth).get_json()["items"][0][
        "token_id"]
    client.delete(f"{shop}/tokens/{token_id}", headers=manager.auth)
    client.post("/api/v1/tokens", json={"email": staff.email, "password": PASSWORD})

    entries, pages = _all_entries(client, owner)
    assert pages > 3
    assert len({entry["id"] for entry in entries}) == len(entries)
    assert [entry["id"] for entry in entries] == sorted((e["id"] for e in entries),
                                                        reverse=True)
    done = [(entry["actor"], entry["action"], entry["target"]) for entry in entries]
    assert (staff.email, "catalog.write", f"{shop}/products/BELL") in done
    assert (manager.email, "carriers.write", f"{shop}/carriers/{carrier['id']}") in done
    assert (manager.email, "tokens.revoke", f"{shop}/tokens/{token_id}") in done
    assert (owner.email, "plan.write", f"{shop}/plan") in done
    actions = {entry["action"] for entry in entries}
    assert {"events.write", "team.write", "tokens.issue"} <= actions
    price_change = next(entry for entry in entries if entry["target"] == f"{shop}/products/BELL"
                        and entry["details"]["method"] == "PATCH")
    assert price_change["details"]["request"]["price"]["amount"] == 650


def test_passwords_never_reach_the_log(client, team):
    owner = team["owner"]
    entries, _ = _all_entries(client, owner, limit=100)
    text = repr(entries)
    assert PASSWORD not in text
    assert "[redacted]" in text  # the members were created with a password


def test_only_owners_read_the_audit_log(client, team):
    for role in ("manager", "staff", "viewer"):
        member = team[role]
        assert client.get(f"/api/v1/shops/{member.slug}/audit",
                          headers=member.auth).status_code == 403


def test_refused_changes_are_not_logged(client, team):
    owner, viewer = team["owner"], team["viewer"]
    before, _ = _all_entries(client, owner, limit=100)
    client.post(f"/api/v1/shops/{owner.slug}/products", headers=viewer.auth,
                json={"sku": "NO", "name": "No", "price": 1, "stock": 1})
    client.post(f"/api/v1/shops/{owner.slug}/products", headers=owner.auth,
                json={"sku": "bad sku!", "name": "No", "price": 1, "stock": 1})
    after, _ = _all_entries(client, owner, limit=100)
    assert len(after) == len(before)


def test_a_forged_cursor_is_a_422(client, team):
    owner = team["owner"]
    response = client.get(f"/api/v1/shops/{owner.slug}/audit?cursor=%%%", headers=owner.auth)
    assert response.status_code == 422
