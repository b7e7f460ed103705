"""A shop with one collaborator of each role, for the merchant-area tests."""

from __future__ import annotations

import itertools

import pytest

from tests.support.api import Shop

PASSWORD = "correct horse battery"
_people = itertools.count(1)


def add_member(client, owner: Shop, role: str, email: str | None = None) -> Shop:
    """A collaborator created directly by the owner (with a password), and their token."""
    email = email or f"{role}{next(_people)}@example.com"
    response = client.post(f"/api/v1/shops/{owner.slug}/collaborators", headers=owner.auth,
                           json={"email": email, "role": role, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    member = Shop(owner.slug, body["token"], owner.merchant_id)
    member.collaborator_id = body["id"]
    member.email = email
    return member


@pytest.fixture
def team(client, shop) -> dict[str, Shop]:
    """role -> a member of `shop` with that role (the owner is `shop` itself)."""
    first = client.get(f"/api/v1/shops/{shop.slug}/collaborators",
                       headers=shop.auth).get_json()["items"][0]
    shop.collaborator_id, shop.email = first["id"], first["email"]
    members = {"owner": shop}
    for role in ("manager", "staff", "viewer"):
        members[role] = add_member(client, shop, role)
    return members
