"""Tokens: issued at sign-in, expiring, listed, revoked; sign-in throttled before hashing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from shop.merchants.models import ApiToken, Person
from tests.shop.merchants.conftest import PASSWORD, add_member


def _database(app):
    return app.extensions["peakshop"].database


def _sign_in(client, email, password=PASSWORD, address="127.0.0.1", **extra):
    return client.post("/api/v1/tokens", json={"email": email, "password": password, **extra},
                       environ_base={"REMOTE_ADDR": address})


def test_sign_in_issues_an_expiring_token(client, team):
    staff = team["staff"]
    response = _sign_in(client, staff.email)
    assert response.status_code == 201
    body = response.get_json()
    assert body["token"].startswith("psk_") and isinstance(body["token_id"], int)
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    lifetime = expires_at - datetime.now(expires_at.tzinfo)
    assert timedelta(days=29) < lifetime <= timedelta(days=30)
    listed = client.get(f"/api/v1/shops/{staff.slug}/orders",
                        headers={"Authorization": f"Bearer {body['token']}"})
    assert listed.status_code == 200


def test_a_revoked_token_is_401(client, team):
    staff = team["staff"]
    token_id = next(item["token_id"] for item in client.get(
        f"/api/v1/shops/{staff.slug}/tokens", headers=staff.auth).get_json()["items"])
    assert client.delete(f"/api/v1/shops/{staff.slug}/tokens/{token_id}",
                         headers=staff.auth).status_code == 204
    after = client.get(f"/api/v1/shops/{staff.slug}/orders", headers=staff.auth)
    assert after.status_code == 401 and after.get_json()["code"] == "token_revoked"


def test_an_expired_token_is_401(app, client, team):
    staff = team["staff"]
    with _database(app).transaction() as session:
        session.execute(update(ApiToken).where(
            ApiToken.collaborator_id == staff.collaborator_id).values(
            expires_at=datetime(2020, 1, 1)))
    response = client.get(f"/api/v1/shops/{staff.slug}/orders", headers=staff.auth)
    assert response.status_code == 401 and response.get_json()["code"] == "token_expired"


def test_owners_see_and_revoke_every_token_others_only_their_own(client, team):
    owner, staff = team["owner"], team["staff"]
    every = client.get(f"/api/v1/shops/{owner.slug}/tokens", headers=owner.auth)
    assert {item["email"] for item in every.get_json()["items"]} >= {staff.email}
    own = client.get(f"/api/v1/shops/{staff.slug}/tokens", headers=staff.auth).get_json()
    assert {item["collaborator_id"] for item in own["items"]} == {staff.collaborator_id}
    owners_token = next(item["token_id"] for item in every.get_json()["items"]
                        if item["collaborator_id"] == owner.collaborator_id)
    refused = client.delete(f"/api/v1/shops/{staff.slug}/tokens/{owners_token}",
                            headers=staff.auth)
    assert refused.status_code == 403
    assert client.get(f"/api/v1/shops/{owner.slug}/orders", headers=owner.auth).status_code \
        == 200
    staffs_token = own["items"][0]["token_id"]
    assert client.delete(f"/api/v1/shops/{owner.slug}/tokens/{staffs_token}",
                         headers=owner.auth).status_code == 204
    assert client.get(f"/api/v1/shops/{staff.slug}/orders", headers=staff.auth).status_code \
        == 401


def test_another_shops_token_id_is_404(client, api, team):
    other = api.sign_up("Elsewhere")
    other_id = client.get(f"/api/v1/shops/{other.slug}/tokens",
                          headers=other.auth).get_json()["items"][0]["token_id"]
    owner = team["owner"]
    response = client.delete(f"/api/v1/shops/{owner.slug}/tokens/{other_id}", headers=owner.auth)
    assert response.status_code == 404
    assert client.get(f"/api/v1/shops/{other.slug}/orders", headers=other.auth).status_code \
        == 200


def test_unknown_e_mail_and_wrong_password_answer_alike(client, team):
    unknown = _sign_in(client, "nobody@example.com", "wrong password!")
    wrong = _sign_in(client, team["staff"].email, "wrong password!")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json() == wrong.get_json()
    assert unknown.headers.get("WWW-Authenticate") == wrong.headers.get("WWW-Authenticate")


def test_old_werkzeug_hashes_still_sign_in_and_are_upgraded_to_argon2id(app, client, team):
    staff = team["staff"]
    with _database(app).transaction() as session:
        session.execute(update(Person).where(Person.email == staff.email).values(
            password_hash=generate_password_hash(PASSWORD)))
    assert _sign_in(client, staff.email).status_code == 201
    with _database(app).reading() as session:
        stored = session.scalar(select(Person.password_hash).where(Person.email == staff.email))
    assert stored.startswith("$argon2id$")
    assert _sign_in(client, staff.email).status_code == 201


@pytest.fixture
def strict_client(make_app, redis_client):  # redis_client: counters start empty
    application = make_app(signin_account_limit="3 per minute",
                           signin_client_limit="5 per minute",
                           signin_host_rate="1000 per second")
    return application, application.test_client()


def test_failed_sign_ins_per_account_are_throttled_before_the_hash(strict_client):
    application, client = strict_client
    owner = client.post("/api/v1/merchants", json={"name": "Throttled", "email":
                                                    "t@example.com", "password": PASSWORD})
    assert owner.status_code == 201
    with _database(application).transaction() as session:
        session.execute(update(Person).values(password_hash=generate_password_hash(PASSWORD)))
    for attempt in range(3):
        assert _sign_in(client, "t@example.com", "wrong!!!!", f"10.0.0.{attempt}"
                        ).status_code == 401
    refused = _sign_in(client, "T@example.com", PASSWORD, "10.0.0.9")
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["scope"] == "account"
    # Refused before the password was checked: the old hash was not even read to upgrade.
    with _database(application).reading() as session:
        assert session.scalar(select(Person.password_hash)).startswith("scrypt:")


def test_failed_sign_ins_per_client_are_throttled_and_others_still_get_in(strict_client):
    _, client = strict_client
    assert client.post("/api/v1/merchants", json={"name": "Open", "email": "o@example.com",
                                                  "password": PASSWORD}).status_code == 201
    for number in range(5):
        assert _sign_in(client, f"guess{number}@example.com", "nope-nope", "10.1.1.1"
                        ).status_code == 401
    flooding = _sign_in(client, "o@example.com", PASSWORD, "10.1.1.1")
    assert flooding.status_code == 429 and flooding.get_json()["scope"] == "client"
    assert "Retry-After" in flooding.headers
    assert _sign_in(client, "o@example.com", PASSWORD, "10.2.2.2").status_code == 201


def test_a_person_in_two_companies_picks_the_shop(client, api, team):
    staff = team["staff"]
    other = api.sign_up("Second Company")
    invited = client.post(f"/api/v1/shops/{other.slug}/collaborators", headers=other.auth,
                          json={"email": staff.email, "role": "manager"}).get_json()
    accepted = client.post(f"/api/v1/invitations/{invited['invitation']['token']}/accept",
                           json={"password": PASSWORD})
    assert accepted.status_code == 201
    first = _sign_in(client, staff.email)
    assert first.get_json()["merchant"]["slug"] == staff.slug
    second = _sign_in(client, staff.email, shop=other.slug)
    assert second.get_json()["merchant"]["slug"] == other.slug
    token = {"Authorization": f"Bearer {second.get_json()['token']}"}
    assert client.get(f"/api/v1/shops/{other.slug}/orders", headers=token).status_code == 200
    assert client.get(f"/api/v1/shops/{staff.slug}/orders", headers=token).status_code == 403


def test_members_created_with_a_password_can_sign_in(client, team):
    member = add_member(client, team["owner"], "viewer")
    assert _sign_in(client, member.email).status_code == 201


def test_sign_ins_beyond_the_hosts_hash_budget_get_429_without_hashing(make_app, redis_client):
    application = make_app(signin_host_rate="2 per minute")
    client = application.test_client()
    assert client.post("/api/v1/merchants", json={"name": "Budget", "email": "b@example.com",
                                                  "password": PASSWORD}).status_code == 201
    assert _sign_in(client, "b@example.com", "wrong-one", "10.3.0.1").status_code == 401
    assert _sign_in(client, "b@example.com", PASSWORD, "10.3.0.2").status_code == 201
    busy = _sign_in(client, "b@example.com", PASSWORD, "10.3.0.3")
    assert busy.status_code == 429 and busy.get_json()["code"] == "signin_busy"
    assert busy.headers["Retry-After"] == "1"


def test_a_sign_in_finding_every_hashing_slot_taken_gets_429(app, client, team):
    """Another worker holding the host's only slot: the kernel's flock says so."""
    import fcntl
    import os

    folder = os.path.join(app.extensions["peakshop"].settings.instance_path, "signin-slots")
    os.makedirs(folder, exist_ok=True)
    descriptor = os.open(os.path.join(folder, "slot-0.lock"), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = _sign_in(client, team["staff"].email)
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    finally:
        os.close(descriptor)
    assert _sign_in(client, team["staff"].email).status_code == 201
