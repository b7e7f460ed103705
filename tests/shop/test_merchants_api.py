"""Merchant sign-up, sign-in and collaborators."""

import pytest


def test_sign_up_returns_the_shop_and_a_token(client):
    response = client.post("/api/v1/merchants", json={
        "name": "Café Noël", "email": "Owner@Example.com", "password": "long enough"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["merchant"]["slug"] == "cafe-noel"
    assert isinstance(body["merchant"]["id"], int)
    assert body["token"].startswith("psk_")


def test_two_merchants_with_one_name_get_distinct_slugs(api):
    assert api.sign_up("Twin").slug == "twin"
    assert api.sign_up("Twin").slug == "twin-2"


def test_tokens_are_stored_hashed(app, shop):
    from sqlalchemy import select

    from shop.merchants.models import ApiToken

    with app.extensions["peakshop"].database.reading() as session:
        stored = list(session.scalars(select(ApiToken.token_hash)))
    assert shop.token not in stored
    assert len(stored) == 1 and len(stored[0]) == 64


@pytest.mark.parametrize("body, fragment", [
    ({"email": "a@example.com", "password": "long enough"}, "'name' is required"),
    ({"name": "X", "email": "not-an-email", "password": "long enough"}, "not an e-mail"),
    ({"name": "X", "email": "a@example.com", "password": "short"}, "at least 8"),
    ({"name": 42, "email": "a@example.com", "password": "long enough"}, "must be a string"),
])
def test_bad_sign_up_is_a_422_naming_the_field(client, body, fragment):
    response = client.post("/api/v1/merchants", json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert fragment in response.get_json()["detail"]


def test_an_e_mail_signs_up_once(client):
    body = {"name": "X", "email": "same@example.com", "password": "long enough"}
    assert client.post("/api/v1/merchants", json=body).status_code == 201
    again = client.post("/api/v1/merchants", json=body)
    assert again.status_code == 409
    assert again.get_json()["code"] == "email_taken"


def test_sign_in_issues_a_new_working_token(client):
    client.post("/api/v1/merchants", json={"name": "Elves", "email": "e@example.com",
                                           "password": "long enough"})
    wrong = client.post("/api/v1/tokens", json={"email": "e@example.com", "password": "nope"})
    assert wrong.status_code == 401
    right = client.post("/api/v1/tokens", json={"email": "e@example.com",
                                                "password": "long enough"})
    assert right.status_code == 201
    token = right.get_json()["token"]
    listed = client.get("/api/v1/shops/elves/collaborators",
                        headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200


def test_owner_adds_a_collaborator_who_can_manage_the_catalog(client, api, shop):
    added = client.post(f"/api/v1/shops/{shop.slug}/collaborators", headers=shop.auth,
                        json={"email": "helper@example.com", "password": "long enough"})
    assert added.status_code == 201
    staff_token = added.get_json()["token"]
    assert added.get_json()["collaborator"]["role"] == "staff"
    created = client.post(f"/api/v1/shops/{shop.slug}/products",
                          headers={"Authorization": f"Bearer {staff_token}"},
                          json={"sku": "HAT", "name": "Hat", "price": 900, "stock": 1})
    assert created.status_code == 201
    # Staff cannot invite more people.
    invite = client.post(f"/api/v1/shops/{shop.slug}/collaborators",
                         headers={"Authorization": f"Bearer {staff_token}"},
                         json={"email": "x@example.com", "password": "long enough"})
    assert invite.status_code == 403
    emails = [c["email"] for c in client.get(f"/api/v1/shops/{shop.slug}/collaborators",
                                             headers=shop.auth).get_json()["items"]]
    assert "helper@example.com" in emails and len(emails) == 2


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer psk_forged"])
def test_missing_or_bad_tokens_are_401(client, shop, header):
    headers = {"Authorization": header} if header else {}
    response = client.post(f"/api/v1/shops/{shop.slug}/products", headers=headers,
                           json={"sku": "A", "name": "A", "price": 1, "stock": 1})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
