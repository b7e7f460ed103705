"""Plans: limits and usage, 402 plan_limit beyond them, upgrade through the billing seam."""

from __future__ import annotations

from shop.merchants.plans import LIMITS, Limit, Plan


def test_the_plan_shows_limits_and_usage(client, api, shop):
    api.add_product(shop, "A")
    api.add_product(shop, "B")
    body = client.get(f"/api/v1/shops/{shop.slug}/plan", headers=shop.auth).get_json()
    assert body["plan"] == "free"
    assert body["limits"]["products"] == LIMITS[Plan.FREE][Limit.PRODUCTS]
    assert body["usage"] == {"products": 2, "collaborators": 1, "events_per_month": 0}


def _event(client, shop, day: int):
    return client.post(f"/api/v1/shops/{shop.slug}/events", headers=shop.auth, json={
        "name": f"Drop {day}", "starts_at": f"2099-03-{day:02d}T12:00:00+01:00",
        "duration_min": 60, "expected_peak_rps": 10})


def test_events_beyond_the_month_quota_are_402_until_upgrade(client, shop):
    allowed = LIMITS[Plan.FREE][Limit.EVENTS_PER_MONTH]
    for day in range(1, allowed + 1):
        assert _event(client, shop, day).status_code == 201
    over = _event(client, shop, 28)
    assert over.status_code == 402
    problem = over.get_json()
    assert problem["code"] == "plan_limit" and problem["limit"] == "events_per_month"
    assert "premium" in problem["detail"] and problem["upgrade"]
    another_month = client.post(f"/api/v1/shops/{shop.slug}/events", headers=shop.auth, json={
        "name": "April", "starts_at": "2099-04-02T12:00:00Z", "duration_min": 60,
        "expected_peak_rps": 10})
    assert another_month.status_code == 201
    upgraded = client.put(f"/api/v1/shops/{shop.slug}/plan", headers=shop.auth,
                          json={"plan": "premium"})
    assert upgraded.status_code == 200 and upgraded.get_json()["plan"] == "premium"
    assert _event(client, shop, 28).status_code == 201


def test_collaborators_beyond_the_plan_are_402(client, shop):
    allowed = LIMITS[Plan.FREE][Limit.COLLABORATORS]
    for number in range(allowed - 1):  # the owner is one
        response = client.post(f"/api/v1/shops/{shop.slug}/collaborators", headers=shop.auth,
                               json={"email": f"p{number}@example.com", "role": "viewer"})
        assert response.status_code == 201
    over = client.post(f"/api/v1/shops/{shop.slug}/collaborators", headers=shop.auth,
                       json={"email": "one-more@example.com", "role": "viewer"})
    assert over.status_code == 402 and over.get_json()["limit"] == "collaborators"


def test_an_unknown_plan_is_422_and_changes_nothing(client, shop):
    response = client.put(f"/api/v1/shops/{shop.slug}/plan", headers=shop.auth,
                          json={"plan": "platinum"})
    assert response.status_code == 422
    assert client.get(f"/api/v1/shops/{shop.slug}/plan",
                      headers=shop.auth).get_json()["plan"] == "free"
