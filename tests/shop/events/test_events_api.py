"""Announced events over JSON, and the scaler's interface to them."""

from __future__ import annotations

import pytest

OPS_TOKEN = "ops-secret-for-tests"
EVENT = {"name": "Christmas mail blast", "starts_at": "2099-12-20T18:00:00+01:00",
         "duration_min": 90, "expected_peak_rps": 100}


@pytest.fixture
def ops_client(make_app):
    return make_app(ops_token=OPS_TOKEN).test_client()


OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


def _create(client, shop, **changes):
    return client.post(f"/api/v1/shops/{shop.slug}/events", headers=shop.auth,
                       json={**EVENT, **changes})


def test_an_event_is_created_with_its_planned_capacity(client, shop):
    response = _create(client, shop)
    assert response.status_code == 201
    event = response.get_json()
    assert event["starts_at"] == "2099-12-20T17:00:00Z"
    assert event["ends_at"] == "2099-12-20T18:30:00Z"
    assert event["planned_capacity"] == {
        "web_replicas": 4, "ready_by": "2099-12-20T16:50:00Z", "source": "estimate",
        "peak_rps": 100, "per_replica_rps": 32.0}
    listed = client.get(f"/api/v1/shops/{shop.slug}/events", headers=shop.auth).get_json()
    assert [item["id"] for item in listed["items"]] == [event["id"]]


def test_other_shops_overlapping_events_raise_the_plan(client, api, shop):
    mine = _create(client, shop).get_json()
    other = api.sign_up("Other Shop")
    _create(client, other, starts_at="2099-12-20T17:30:00Z", expected_peak_rps=200)
    again = client.get(f"/api/v1/shops/{shop.slug}/events/{mine['id']}",
                       headers=shop.auth).get_json()
    assert again["planned_capacity"]["peak_rps"] == 300
    assert again["planned_capacity"]["web_replicas"] == 10


@pytest.mark.parametrize("changes, fragment", [
    ({"starts_at": "2099-12-20T18:00:00"}, "offset"),
    ({"starts_at": "20/12/2099 18:00"}, "RFC 3339"),
    ({"starts_at": "2099-02-30T18:00:00Z"}, "real date"),
    ({"starts_at": 1766250000}, "RFC 3339"),
    ({"starts_at": "2001-01-01T00:00:00Z"}, "over already"),
    ({"duration_min": 0}, "at least 1"),
    ({"duration_min": "60"}, "whole number"),
    ({"expected_peak_rps": -5}, "at least 1"),
    ({"expected_peak_rps": True}, "whole number"),
    ({"name": ""}, "must not be empty"),
    ({"colour": "red"}, "unknown field"),
])
def test_bad_events_are_422_naming_the_field(client, shop, changes, fragment):
    response = _create(client, shop, **changes)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert fragment in response.get_json()["detail"]
    assert client.get(f"/api/v1/shops/{shop.slug}/events",
                      headers=shop.auth).get_json()["items"] == []


@pytest.mark.parametrize("starts_at, stored", [
    # RFC 3339 allows any number of fractional digits; past microseconds they are dropped.
    ("2099-12-20T18:00:00.123456789012+01:00", "2099-12-20T17:00:00Z"),
    ("2099-12-20T18:00:00.5Z", "2099-12-20T18:00:00Z"),
    # A leap second is the moment after :59, as POSIX clocks count it.
    ("2099-06-30T23:59:60Z", "2099-07-01T00:00:00Z"),
    ("2099-12-31T23:59:60.999+00:00", "2100-01-01T00:00:00Z"),
    ("2099-12-20t18:00:00z", "2099-12-20T18:00:00Z"),
])
def test_every_rfc3339_form_of_a_time_is_read(client, shop, starts_at, stored):
    response = _create(client, shop, starts_at=starts_at)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["starts_at"] == stored


@pytest.mark.parametrize("starts_at", [
    "2099-06-30T23:58:60Z",   # a leap second only ends a minute
    "2099-06-30T23:59:61Z",
    "2099-12-20T18:00:00." + "1" * 100 + "Z",  # absurdly long
    "9999-12-31T23:59:60Z",   # past the last moment a date can hold
])
def test_what_only_looks_like_an_rfc3339_time_is_422(client, shop, starts_at):
    response = _create(client, shop, starts_at=starts_at)
    assert response.status_code == 422
    assert "starts_at" in response.get_json()["detail"]


def test_patch_and_delete(client, shop):
    event = _create(client, shop).get_json()
    url = f"/api/v1/shops/{shop.slug}/events/{event['id']}"
    changed = client.patch(url, headers=shop.auth, json={"expected_peak_rps": 1000,
                                                         "name": "Bigger"})
    assert changed.status_code == 200
    assert changed.get_json()["planned_capacity"]["web_replicas"] == 32
    assert changed.get_json()["name"] == "Bigger"
    assert client.patch(url, headers=shop.auth, json={"starts_at": "tomorrow"}).status_code \
        == 422
    assert client.delete(url, headers=shop.auth).status_code == 204
    assert client.get(url, headers=shop.auth).status_code == 404
    assert client.delete(url, headers=shop.auth).status_code == 404


def test_the_scaler_lists_every_shops_events_and_records_its_plan(client, ops_client, api,
                                                                  shop):
    mine = _create(client, shop).get_json()
    other = api.sign_up("Second")
    _create(client, other, starts_at="2099-12-21T10:00:00Z")
    _create(client, other, starts_at="2099-12-30T10:00:00Z")
    listed = ops_client.get("/api/v1/ops/events?from=2099-12-20T00:00:00Z"
                            "&to=2099-12-22T00:00:00%2B00:00", headers=OPS)
    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [item["shop"] for item in items] == [shop.slug, other.slug]
    assert set(items[0]) >= {"id", "shop", "name", "starts_at", "duration_min",
                             "expected_peak_rps", "planned_capacity"}
    planned = ops_client.put(f"/api/v1/ops/events/{mine['id']}/plan", headers=OPS,
                             json={"web_replicas": 6, "ready_by": "2099-12-20T16:40:00Z"})
    assert planned.status_code == 200
    seen = client.get(f"/api/v1/shops/{shop.slug}/events/{mine['id']}",
                      headers=shop.auth).get_json()["planned_capacity"]
    assert seen["web_replicas"] == 6 and seen["source"] == "scaler"
    assert seen["ready_by"] == "2099-12-20T16:40:00Z"
    # Moving the event makes the scaler's plan stale: the estimate shows until it re-plans.
    client.patch(f"/api/v1/shops/{shop.slug}/events/{mine['id']}", headers=shop.auth,
                 json={"starts_at": "2099-12-20T19:00:00+01:00"})
    moved = client.get(f"/api/v1/shops/{shop.slug}/events/{mine['id']}",
                       headers=shop.auth).get_json()["planned_capacity"]
    assert moved["source"] == "estimate"


@pytest.mark.parametrize("query", ["?from=yesterday", "?from=2099-12-20T00:00:00",
                                   "?from=2099-12-22T00:00:00Z&to=2099-12-20T00:00:00Z"])
def test_the_scaler_gets_422_for_bad_windows(ops_client, query):
    response = ops_client.get(f"/api/v1/ops/events{query}", headers=OPS)
    assert response.status_code == 422


@pytest.mark.parametrize("body", [{"web_replicas": -1, "ready_by": "2099-12-20T16:40:00Z"},
                                  {"web_replicas": 3, "ready_by": "2099-12-20T16:40:00"},
                                  {"web_replicas": 3}, {"ready_by": "2099-12-20T16:40:00Z"}])
def test_bad_plans_are_422(client, ops_client, shop, body):
    event = _create(client, shop).get_json()
    response = ops_client.put(f"/api/v1/ops/events/{event['id']}/plan", headers=OPS, json=body)
    assert response.status_code == 422


def test_the_ops_interface_needs_the_ops_token(client, ops_client, shop):
    event = _create(client, shop).get_json()
    assert ops_client.get("/api/v1/ops/events").status_code == 401
    assert ops_client.get("/api/v1/ops/events", headers=shop.auth).status_code == 401
    assert client.get("/api/v1/ops/events", headers=OPS).status_code == 403  # no ops token set
    assert ops_client.put(f"/api/v1/ops/events/{event['id']}/plan", headers=shop.auth,
                          json={"web_replicas": 1, "ready_by": "2099-01-01T00:00:00Z"}
                          ).status_code == 401
    assert ops_client.put("/api/v1/ops/events/999999/plan", headers=OPS,
                          json={"web_replicas": 1, "ready_by": "2099-01-01T00:00:00Z"}
                          ).status_code == 404
