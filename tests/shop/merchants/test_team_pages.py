"""The team page and the invitation page, through Flask's test client on both databases."""

from __future__ import annotations

import html
import re

from tests.shop.merchants.conftest import PASSWORD, add_member
from tests.shop.merchants.pages import acting_as, csrf, post_form, text

NEW_PASSWORD = "a brand new secret"


def _team_url(slug: str) -> str:
    return f"/merchant/shops/{slug}/team"


def _invite(client, slug: str, email: str, role: str):
    return post_form(client, _team_url(slug), f"{_team_url(slug)}/invitations",
                     {"email": email, "role": role})


def _invitation_link(response) -> str:
    match = re.search(r'id="invitation-link" type="text" readonly value="([^"]+)"',
                      text(response))
    assert match, text(response)
    return html.unescape(match.group(1))


def _collaborators(client, owner) -> list[dict]:
    return client.get(f"/api/v1/shops/{owner.slug}/collaborators",
                      headers=owner.auth).get_json()["items"]


def test_an_invited_viewer_accepts_the_link_and_is_signed_in(app, client, team):
    owner = team["owner"]
    pages = acting_as(app, owner)
    invited = _invite(pages, owner.slug, "Newcomer@Example.com", "viewer")
    assert invited.status_code == 201
    assert "newcomer@example.com is invited as viewer" in text(invited)
    link = _invitation_link(invited)
    assert "/merchant/invitations/inv_" in link

    newcomer = app.test_client()
    form = newcomer.get(link)
    assert form.status_code == 200 and "You are invited as <strong>viewer</strong>" in text(form)
    joined = newcomer.post(link, data={"csrf_token": csrf(form.data),
                                       "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert joined.status_code == 303
    assert joined.headers["Location"].endswith(f"/merchant/shops/{owner.slug}/")
    dashboard = newcomer.get(f"/merchant/shops/{owner.slug}/")
    assert "newcomer@example.com, <strong>viewer</strong>" in text(dashboard)
    member = next(c for c in _collaborators(client, owner) if c["email"] == "newcomer@example.com")
    assert member["status"] == "active" and member["role"] == "viewer"
    # The link was single-use.
    assert newcomer.get(link).status_code == 404


def test_the_api_invitation_also_names_the_page_to_accept_it(client, team):
    owner = team["owner"]
    response = client.post(f"/api/v1/shops/{owner.slug}/collaborators", headers=owner.auth,
                           json={"email": "api-invitee@example.com", "role": "staff"})
    page_url = response.get_json()["invitation"]["accept_page_url"]
    assert client.get(page_url).status_code == 200


def test_accepting_with_mismatched_or_short_passwords_is_refused_and_joins_nobody(app, team):
    owner = team["owner"]
    link = _invitation_link(_invite(acting_as(app, owner), owner.slug,
                                    "typo@example.com", "staff"))
    newcomer = app.test_client()
    form = newcomer.get(link)
    for password, confirm, expected in ((NEW_PASSWORD, NEW_PASSWORD + "x", "passwords differ"),
                                        ("short", "short", "at least 8")):
        refused = newcomer.post(link, data={"csrf_token": csrf(form.data),
                                            "password": password, "confirm": confirm})
        assert refused.status_code == 422 and expected in text(refused)
        assert 'role="alert"' in text(refused)
    assert newcomer.post(link, data={"password": NEW_PASSWORD,
                                     "confirm": NEW_PASSWORD}).status_code == 400
    assert newcomer.get(link).status_code == 200  # still open


def test_someone_with_an_account_accepts_with_their_own_password(app, client, api, team):
    owner = team["owner"]
    other_shop_owner = api.sign_up("Elsewhere")
    email = client.get(f"/api/v1/shops/{other_shop_owner.slug}/collaborators",
                       headers=other_shop_owner.auth).get_json()["items"][0]["email"]
    link = _invitation_link(_invite(acting_as(app, owner), owner.slug, email, "manager"))
    person = app.test_client()
    form = person.get(link)
    assert "You already have an account" in text(form)
    wrong = person.post(link, data={"csrf_token": csrf(form.data), "password": "not it at all"})
    assert wrong.status_code == 401 and "accept with its password" in text(wrong)
    right = person.post(link, data={"csrf_token": csrf(form.data), "password": PASSWORD})
    assert right.status_code == 303


def test_an_unknown_invitation_is_a_404_page(client):
    response = client.get("/merchant/invitations/inv_nobody-made-this")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "ask an owner to invite you again" in text(response)


def test_a_bad_email_shows_the_problem_and_keeps_the_input(app, client, team):
    owner = team["owner"]
    before = len(_collaborators(client, owner))
    response = _invite(acting_as(app, owner), owner.slug, "not an e-mail", "staff")
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "Nobody was invited" in text(response)
    assert 'value="not an e-mail"' in text(response)
    assert len(_collaborators(client, owner)) == before


def test_an_unknown_role_is_refused(app, client, team):
    owner = team["owner"]
    response = _invite(acting_as(app, owner), owner.slug, "x@example.com", "emperor")
    assert response.status_code == 422 and "Not a valid choice" in text(response)


def test_an_invitation_without_its_csrf_token_is_refused(app, client, team):
    owner = team["owner"]
    before = len(_collaborators(client, owner))
    pages = acting_as(app, owner)
    response = pages.post(f"{_team_url(owner.slug)}/invitations",
                          data={"email": "forged@example.com", "role": "owner"})
    assert response.status_code == 400 and "expired or was sent from another site" in text(
        response)
    assert len(_collaborators(client, owner)) == before


def test_staff_and_viewers_see_the_team_but_cannot_change_it(app, client, team):
    owner = team["owner"]
    before = len(_collaborators(client, owner))
    for role in ("manager", "staff", "viewer"):
        pages = acting_as(app, team[role])
        page = pages.get(_team_url(owner.slug))
        assert page.status_code == 200 and "Invite someone" not in text(page)
        refused = pages.post(f"{_team_url(owner.slug)}/invitations",
                             data={"csrf_token": csrf(page.data), "email": "a@example.com",
                                   "role": "owner"})
        assert refused.status_code == 403 and refused.mimetype == "text/html"
        assert f"a {role} cannot do this" in text(refused)
    assert len(_collaborators(client, owner)) == before


def test_an_owner_changes_a_role_but_never_removes_the_last_owner(app, client, team):
    owner = team["owner"]
    pages = acting_as(app, owner)
    staff_id = team["staff"].collaborator_id
    changed = post_form(pages, _team_url(owner.slug),
                        f"{_team_url(owner.slug)}/{staff_id}/role", {"role": "manager"})
    assert changed.status_code == 303
    roles = {c["id"]: c["role"] for c in _collaborators(client, owner)}
    assert roles[staff_id] == "manager"
    refused = post_form(pages, _team_url(owner.slug),
                        f"{_team_url(owner.slug)}/{owner.collaborator_id}/role",
                        {"role": "viewer"})
    assert refused.status_code == 409 and "at least one owner" in text(refused)
    assert {c["id"]: c["role"] for c in _collaborators(client, owner)}[
        owner.collaborator_id] == "owner"


def test_removing_someone_stops_their_tokens(app, client, team):
    owner, staff = team["owner"], team["staff"]
    pages = acting_as(app, owner)
    removed = post_form(pages, _team_url(owner.slug),
                        f"{_team_url(owner.slug)}/{staff.collaborator_id}/remove")
    assert removed.status_code == 303
    assert client.get(f"/api/v1/shops/{owner.slug}/orders",
                      headers=staff.auth).status_code == 401


def test_ownership_moves_and_the_old_owner_becomes_a_manager(app, client, team):
    owner, manager = team["owner"], team["manager"]
    pages = acting_as(app, owner)
    moved = post_form(pages, _team_url(owner.slug), f"{_team_url(owner.slug)}/ownership",
                      {"collaborator_id": str(manager.collaborator_id)})
    assert moved.status_code == 303
    roles = {c["id"]: c["role"] for c in _collaborators(client, manager)}
    assert roles[manager.collaborator_id] == "owner"
    assert roles[owner.collaborator_id] == "manager"


def test_another_shops_collaborator_is_out_of_reach(app, client, api, team):
    owner = team["owner"]
    other = api.sign_up("Other Shop")
    stranger = add_member(client, other, "staff")
    pages = acting_as(app, owner)
    response = post_form(pages, _team_url(owner.slug),
                         f"{_team_url(owner.slug)}/{stranger.collaborator_id}/remove")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert client.get(f"/api/v1/shops/{other.slug}/orders",
                      headers=stranger.auth).status_code == 200
    assert pages.get(_team_url(other.slug)).status_code == 403


def test_the_plan_limits_invitations_from_the_page_too(app, client, team):
    owner = team["owner"]
    while len(_collaborators(client, owner)) < 10:  # the free plan's collaborators
        response = client.post(f"/api/v1/shops/{owner.slug}/collaborators",
                               headers=owner.auth,
                               json={"email": f"filler{len(_collaborators(client, owner))}"
                                              "@example.com", "role": "viewer"})
        assert response.status_code == 201
    refused = _invite(acting_as(app, owner), owner.slug, "eleventh@example.com", "viewer")
    assert refused.status_code == 402 and "upgrade" in text(refused)
    assert len(_collaborators(client, owner)) == 10
