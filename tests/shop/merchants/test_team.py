"""The team: invitations, roles, removal, transfer of ownership, always one owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from shop.merchants.models import Collaborator
from tests.shop.merchants.conftest import PASSWORD


def _invite(client, owner, email, role="viewer"):
    response = client.post(f"/api/v1/shops/{owner.slug}/collaborators", headers=owner.auth,
                           json={"email": email, "role": role})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_invitee_accepts_by_setting_a_password_and_reads_but_never_writes(client, api,
                                                                               shop):
    api.add_product(shop, "HAT")
    invited = _invite(client, shop, "Viewer@Example.com")
    assert invited["status"] == "invited" and invited["role"] == "viewer"
    token = invited["invitation"]["token"]
    short = client.post(f"/api/v1/invitations/{token}/accept", json={"password": "short"})
    assert short.status_code == 422
    accepted = client.post(f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD})
    assert accepted.status_code == 201
    body = accepted.get_json()
    assert body["collaborator"]["email"] == "viewer@example.com"
    assert body["collaborator"]["status"] == "active"
    viewer = {"Authorization": f"Bearer {body['token']}"}
    for path in ("/orders", "/collaborators", "/events", "/plan", "/carriers", "/tokens"):
        assert client.get(f"/api/v1/shops/{shop.slug}{path}", headers=viewer).status_code \
            == 200, path
    write = client.patch(f"/api/v1/shops/{shop.slug}/products/HAT", headers=viewer,
                         json={"stock": 0})
    assert write.status_code == 403
    assert client.get(f"/api/v1/shops/{shop.slug}/products/HAT").get_json()["available"] == 10
    again = client.post(f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD})
    assert again.status_code == 404


def test_invitation_tokens_are_stored_hashed_and_expire(app, client, shop):
    invited = _invite(client, shop, "late@example.com")
    database = app.extensions["peakshop"].database
    with database.transaction() as session:
        stored = session.scalar(select(Collaborator.invitation_hash).where(
            Collaborator.id == invited["id"]))
        assert stored and invited["invitation"]["token"] not in stored
        session.execute(update(Collaborator).where(Collaborator.id == invited["id"])
                        .values(invitation_expires_at=datetime(2020, 1, 1)))
    late = client.post(f"/api/v1/invitations/{invited['invitation']['token']}/accept",
                       json={"password": PASSWORD})
    assert late.status_code == 410 and late.get_json()["code"] == "invitation_expired"


def test_someone_with_an_account_accepts_with_their_own_password(client, api, team):
    staff = team["staff"]
    other = api.sign_up("Other Company")
    invited = _invite(client, other, staff.email, role="staff")
    url = f"/api/v1/invitations/{invited['invitation']['token']}/accept"
    assert client.post(url, json={"password": "not their password"}).status_code == 401
    assert client.post(url, json={"password": PASSWORD}).status_code == 201


def test_the_last_owner_cannot_leave_or_step_down(client, team):
    owner = team["owner"]
    base = f"/api/v1/shops/{owner.slug}/collaborators/{owner.collaborator_id}"
    demote = client.patch(base, headers=owner.auth, json={"role": "manager"})
    assert demote.status_code == 409 and demote.get_json()["code"] == "last_owner"
    remove = client.delete(base, headers=owner.auth)
    assert remove.status_code == 409
    roles = {item["id"]: item["role"] for item in client.get(
        f"/api/v1/shops/{owner.slug}/collaborators", headers=owner.auth).get_json()["items"]}
    assert roles[owner.collaborator_id] == "owner"


def test_transferring_ownership_leaves_one_owner_who_now_manages_the_team(client, team):
    owner, manager = team["owner"], team["manager"]
    moved = client.post(f"/api/v1/shops/{owner.slug}/ownership", headers=owner.auth,
                        json={"collaborator_id": manager.collaborator_id})
    assert moved.status_code == 200 and moved.get_json()["role"] == "owner"
    roles = {item["id"]: item["role"] for item in client.get(
        f"/api/v1/shops/{owner.slug}/collaborators", headers=owner.auth).get_json()["items"]}
    assert roles[owner.collaborator_id] == "manager"
    assert list(roles.values()).count("owner") == 1
    assert client.post(f"/api/v1/shops/{owner.slug}/collaborators", headers=owner.auth,
                       json={"email": "x@example.com", "role": "staff"}).status_code == 403
    assert client.patch(f"/api/v1/shops/{owner.slug}/collaborators/{owner.collaborator_id}",
                        headers=manager.auth, json={"role": "viewer"}).status_code == 200


def test_a_removed_collaborator_loses_access_at_once(client, team):
    owner, staff = team["owner"], team["staff"]
    assert client.get(f"/api/v1/shops/{staff.slug}/orders", headers=staff.auth).status_code \
        == 200
    assert client.delete(f"/api/v1/shops/{owner.slug}/collaborators/{staff.collaborator_id}",
                         headers=owner.auth).status_code == 204
    assert client.get(f"/api/v1/shops/{staff.slug}/orders", headers=staff.auth).status_code \
        == 401


def test_changing_a_role_takes_effect_on_the_next_request(client, team):
    owner, viewer = team["owner"], team["viewer"]
    create = {"sku": "X1", "name": "X", "price": 100, "stock": 1}
    assert client.post(f"/api/v1/shops/{owner.slug}/products", headers=viewer.auth,
                       json=create).status_code == 403
    assert client.patch(f"/api/v1/shops/{owner.slug}/collaborators/{viewer.collaborator_id}",
                        headers=owner.auth, json={"role": "staff"}).status_code == 200
    assert client.post(f"/api/v1/shops/{owner.slug}/products", headers=viewer.auth,
                       json=create).status_code == 201


def test_bad_team_requests_are_clear_4xx(client, team):
    owner = team["owner"]
    base = f"/api/v1/shops/{owner.slug}/collaborators"
    assert client.post(base, headers=owner.auth, json={"email": "a@example.com",
                                                       "role": "king"}).status_code == 422
    assert client.post(base, headers=owner.auth, json={"email": "nope",
                                                       "role": "staff"}).status_code == 422
    assert client.patch(f"{base}/{team['staff'].collaborator_id}", headers=owner.auth,
                        json={"role": "staff", "email": "x@example.com"}).status_code == 422
    assert client.patch(f"{base}/999999", headers=owner.auth,
                        json={"role": "staff"}).status_code == 404
    taken = client.post(base, headers=owner.auth, json={"email": team["staff"].email,
                                                        "role": "viewer"})
    assert taken.status_code == 409
    assert client.post("/api/v1/invitations/inv_forged/accept",
                       json={"password": PASSWORD}).status_code == 404


def test_a_signed_in_person_founds_a_second_company_and_owns_it(client, team):
    staff = team["staff"]
    founded = client.post("/api/v1/merchants", headers=staff.auth, json={"name": "My Own"})
    assert founded.status_code == 201
    body = founded.get_json()
    assert body["collaborator"]["role"] == "owner"
    assert body["collaborator"]["email"] == staff.email
    own = {"Authorization": f"Bearer {body['token']}"}
    assert client.get(f"/api/v1/shops/{body['merchant']['slug']}/audit",
                      headers=own).status_code == 200
    # The staff token still reaches only the first shop, as staff.
    assert client.get(f"/api/v1/shops/{body['merchant']['slug']}/orders",
                      headers=staff.auth).status_code == 403
    forged = client.post("/api/v1/merchants", headers={"Authorization": "Bearer psk_nope"},
                         json={"name": "Nope"})
    assert forged.status_code == 401
