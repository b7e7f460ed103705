"""`GET` and `PUT /api/v1/shops/{slug}/waiting-room`: who may, what is accepted, what shows."""

import pytest

from shop.waiting_room.api import ROOM_MANAGERS


def test_a_new_shop_has_no_room(client, shop):
    body = client.get(f"/api/v1/shops/{shop.slug}/waiting-room", headers=shop.auth).get_json()
    assert body == {"shop": shop.slug, "mode": "off", "admit_per_s": None, "open": False,
                    "admitting_per_s": None, "line_length": 0, "measured_intake_per_s": 0.0}


def test_the_owner_switches_the_room_on_and_sees_the_line(client, stocked_shop, switch_room):
    body = switch_room(stocked_shop, "on", 0.01)
    assert (body["mode"], body["admit_per_s"]) == ("on", 0.01)
    for _ in range(3):
        assert client.get(f"/api/v1/shops/{stocked_shop.slug}/products").status_code == 503
    status = client.get(f"/api/v1/shops/{stocked_shop.slug}/waiting-room",
                        headers=stocked_shop.auth).get_json()
    assert status["open"] and status["line_length"] == 3
    assert status["admitting_per_s"] == 0.01


def test_the_rate_is_kept_when_only_the_mode_changes(client, shop, switch_room):
    switch_room(shop, "on", 4)
    assert switch_room(shop, "auto")["admit_per_s"] == 4.0
    assert switch_room(shop, "off")["mode"] == "off"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 422, "invalid_input"),
    ({"mode": "ON"}, 422, "invalid_input"),
    ({"mode": None}, 422, "invalid_input"),
    ({"mode": ["on"]}, 422, "invalid_input"),
    ({"mode": "on", "admit_per_s": 0}, 422, "invalid_input"),
    ({"mode": "on", "admit_per_s": -3}, 422, "invalid_input"),
    ({"mode": "on", "admit_per_s": 0.001}, 422, "invalid_input"),
    ({"mode": "on", "admit_per_s": 1e-300}, 422, "invalid_input"),
    ({"mode": "on", "admit_per_s": True}, 422, "invalid_input"),
    ({"mode": "on", "admit_per_s": "5"}, 422, "invalid_input"),
    ({"mode": "on", "admit_per_s": 1e300}, 422, "invalid_input"),
    ({"mode": "on", "admitted_per_s": 5}, 422, "invalid_input"),
])
def test_a_bad_body_is_a_422_naming_the_fix(client, shop, body, status, code):
    response = client.put(f"/api/v1/shops/{shop.slug}/waiting-room", json=body,
                          headers=shop.auth)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
    # Nothing changed.
    assert client.get(f"/api/v1/shops/{shop.slug}/waiting-room",
                      headers=shop.auth).get_json()["mode"] == "off"


@pytest.mark.parametrize(("data", "content_type", "status"), [
    ("{not json", "application/json", 400),
    ("mode=on", "application/x-www-form-urlencoded", 415),
    ("[1, 2]", "application/json", 422),
    ("NaN", "application/json", 400),  # not JSON at all: the edge refuses it
])
def test_a_body_that_is_not_a_json_object_is_refused(client, shop, data, content_type, status):
    response = client.put(f"/api/v1/shops/{shop.slug}/waiting-room", data=data,
                          content_type=content_type, headers=shop.auth)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_no_token_is_401_and_another_shops_token_is_403(client, api, shop):
    url = f"/api/v1/shops/{shop.slug}/waiting-room"
    assert client.get(url).status_code == 401
    assert client.put(url, json={"mode": "on"}).status_code == 401
    other = api.sign_up("Other shop")
    assert client.get(url, headers=other.auth).status_code == 403
    assert client.put(url, json={"mode": "on"}, headers=other.auth).status_code == 403


def test_an_unknown_shop_is_404_or_403_never_500(client, shop):
    response = client.put("/api/v1/shops/no-such-shop/waiting-room", json={"mode": "on"},
                          headers=shop.auth)
    assert response.status_code in (403, 404)


def test_only_room_managers_switch_the_room_but_every_collaborator_reads_it(client, shop):
    response = client.post(f"/api/v1/shops/{shop.slug}/collaborators", headers=shop.auth,
                           json={"email": "staff@example.com", "password": "long enough!",
                                 "role": "staff"})
    assert response.status_code == 201, response.get_json()
    staff = {"Authorization": f"Bearer {response.get_json()['token']}"}
    assert "staff" not in ROOM_MANAGERS
    url = f"/api/v1/shops/{shop.slug}/waiting-room"
    refused = client.put(url, json={"mode": "on"}, headers=staff)
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "role_forbidden"
    assert "manager, owner" in refused.get_json()["detail"]
    assert client.get(url, headers=staff).status_code == 200
