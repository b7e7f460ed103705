"""The tokens, plan and audit-log pages, through Flask's test client on both databases."""

from __future__ import annotations

from tests.shop.merchants.pages import acting_as, csrf, post_form, text


def _tokens_url(slug: str) -> str:
    return f"/merchant/shops/{slug}/tokens"


def _revoke(client, slug: str, token_id: int):
    return post_form(client, _tokens_url(slug), f"{_tokens_url(slug)}/{token_id}/revoke")


def _token_id(client, member) -> int:
    items = client.get(f"/api/v1/shops/{member.slug}/tokens",
                       headers=member.auth).get_json()["items"]
    return next(item["token_id"] for item in items
                if item["collaborator_id"] == member.collaborator_id)


def test_owners_see_every_token_and_others_their_own(app, client, team):
    owner, staff = team["owner"], team["staff"]
    everyone = acting_as(app, owner).get(_tokens_url(owner.slug))
    assert everyone.status_code == 200
    for member in team.values():
        assert member.email in text(everyone)
    own = acting_as(app, staff).get(_tokens_url(owner.slug))
    assert staff.email in text(own) and owner.email not in text(own)


def test_an_owner_revokes_a_token_and_the_api_refuses_it(app, client, team):
    owner, staff = team["owner"], team["staff"]
    staff_token = _token_id(client, staff)
    response = _revoke(acting_as(app, owner), owner.slug, staff_token)
    assert response.status_code == 303
    assert client.get(f"/api/v1/shops/{owner.slug}/orders",
                      headers=staff.auth).status_code == 401


def test_staff_cannot_revoke_someone_elses_token(app, client, team):
    owner, staff = team["owner"], team["staff"]
    refused = _revoke(acting_as(app, staff), owner.slug, _token_id(client, owner))
    assert refused.status_code == 403 and "only owners revoke other people" in text(
        refused)
    assert client.get(f"/api/v1/shops/{owner.slug}/orders",
                      headers=owner.auth).status_code == 200


def test_a_viewer_cannot_revoke_even_their_own_token(app, client, team):
    viewer = team["viewer"]
    page = acting_as(app, viewer)
    refused = _revoke(page, viewer.slug, _token_id(client, viewer))
    assert refused.status_code == 403 and "a viewer cannot do this" in text(refused)
    assert client.get(f"/api/v1/shops/{viewer.slug}/orders",
                      headers=viewer.auth).status_code == 200


def test_a_revocation_without_its_csrf_token_is_refused(app, client, team):
    owner, staff = team["owner"], team["staff"]
    forged = acting_as(app, owner).post(
        f"{_tokens_url(owner.slug)}/{_token_id(client, staff)}/revoke")
    assert forged.status_code == 400
    assert client.get(f"/api/v1/shops/{owner.slug}/orders",
                      headers=staff.auth).status_code == 200


def test_revoking_the_sessions_own_token_signs_out(app, client, team):
    staff = team["staff"]
    page = acting_as(app, staff)
    assert _revoke(page, staff.slug, _token_id(client, staff)).status_code == 303
    again = page.get(_tokens_url(staff.slug))
    assert again.status_code == 303 and again.headers["Location"].endswith("/merchant/sign-in")


def test_another_shops_token_is_not_found(app, client, api, team):
    other = api.sign_up("Other Shop")
    other_token = client.get(f"/api/v1/shops/{other.slug}/tokens",
                             headers=other.auth).get_json()["items"][0]["token_id"]
    response = _revoke(acting_as(app, team["owner"]), team["owner"].slug, other_token)
    assert response.status_code == 404
    assert client.get(f"/api/v1/shops/{other.slug}/orders",
                      headers=other.auth).status_code == 200


def test_the_plan_page_shows_limits_and_usage_and_owners_upgrade(app, client, api, team):
    owner = team["owner"]
    api.add_product(owner, "STAR")
    plan_url = f"/merchant/shops/{owner.slug}/plan"
    page = acting_as(app, owner).get(plan_url)
    assert page.status_code == 200 and "<strong>free</strong> plan" in text(page)
    assert '<td data-label="Used" class="number">1</td>' in text(page)  # one product
    assert '<td data-label="Premium" class="number">100,000</td>' in text(page)
    moved = post_form(acting_as(app, owner), plan_url, plan_url, {"plan": "premium"})
    assert moved.status_code == 303
    assert client.get(f"/api/v1/shops/{owner.slug}/plan",
                      headers=owner.auth).get_json()["plan"] == "premium"


def test_a_plan_that_does_not_exist_is_a_422_page(app, client, team):
    owner = team["owner"]
    plan_url = f"/merchant/shops/{owner.slug}/plan"
    refused = post_form(acting_as(app, owner), plan_url, plan_url, {"plan": "platinum"})
    assert refused.status_code == 422 and "Not a valid choice" in text(refused)
    assert client.get(f"/api/v1/shops/{owner.slug}/plan",
                      headers=owner.auth).get_json()["plan"] == "free"


def test_only_owners_change_the_plan(app, client, team):
    manager = team["manager"]
    plan_url = f"/merchant/shops/{manager.slug}/plan"
    page = acting_as(app, manager)
    shown = page.get(plan_url)
    assert shown.status_code == 200 and "Change plan" not in text(shown)
    refused = page.post(plan_url, data={"csrf_token": csrf(shown.data), "plan": "premium"})
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert client.get(f"/api/v1/shops/{manager.slug}/plan",
                      headers=manager.auth).get_json()["plan"] == "free"


def test_the_audit_log_pages_back_through_changes_made_on_pages(app, team):
    owner = team["owner"]
    page = acting_as(app, owner)
    plan_url = f"/merchant/shops/{owner.slug}/plan"
    post_form(page, plan_url, plan_url, {"plan": "premium"})
    audit_url = f"/merchant/shops/{owner.slug}/audit"
    newest = page.get(audit_url, query_string={"limit": 1})
    assert newest.status_code == 200
    assert "plan.write" in text(newest) and "/merchant/shops/" in text(newest)
    assert "Older entries" in text(newest)
    older_link = text(newest).split('href="')[-1].split('"')[0].replace("&amp;", "&")
    older = page.get(older_link)
    assert older.status_code == 200 and "plan.write" not in text(older)


def test_a_bad_audit_cursor_or_limit_is_a_422_page(app, team):
    page = acting_as(app, team["owner"])
    audit_url = f"/merchant/shops/{team['owner'].slug}/audit"
    for query in ({"cursor": "not-a-cursor"}, {"limit": "0"}, {"limit": "²"}):
        response = page.get(audit_url, query_string=query)
        assert response.status_code == 422 and response.mimetype == "text/html"


def test_only_owners_read_the_audit_log(app, team):
    for role in ("manager", "staff", "viewer"):
        page = acting_as(app, team[role])
        response = page.get(f"/merchant/shops/{team[role].slug}/audit")
        assert response.status_code == 403 and response.mimetype == "text/html"
        assert "Audit log" not in text(page.get(f"/merchant/shops/{team[role].slug}/"))
