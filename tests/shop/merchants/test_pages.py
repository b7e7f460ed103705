"""The HTML back-office: sign in with a CSRF-protected form, see coming events and capacity."""

from __future__ import annotations

import re

from tests.shop.merchants.conftest import PASSWORD

EVENT = {"name": "Mail blast", "starts_at": "2099-12-20T18:00:00+01:00", "duration_min": 90,
         "expected_peak_rps": 100}


def _csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()


def _sign_in(client, email, password=PASSWORD):
    form = client.get("/merchant/sign-in")
    assert form.status_code == 200
    return client.post("/merchant/sign-in", data={
        "csrf_token": _csrf(form.data), "email": email, "password": password})


def test_a_viewer_signs_in_and_sees_coming_events_with_their_capacity(client, team):
    owner, viewer = team["owner"], team["viewer"]
    client.post(f"/api/v1/shops/{owner.slug}/events", headers=owner.auth, json=EVENT)
    signed_in = _sign_in(client, viewer.email)
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"].endswith(f"/merchant/shops/{owner.slug}/")
    dashboard = client.get(f"/merchant/shops/{owner.slug}/")
    assert dashboard.status_code == 200 and dashboard.mimetype == "text/html"
    text = dashboard.get_data(as_text=True)
    assert "Mail blast" in text and "2099-12-20 17:00" in text
    assert '<td data-label="Web replicas planned">4</td>' in text  # 100 rps at 32 a replica
    assert "viewer" in text and "<script" not in text
    assert "Content-Security-Policy" in dashboard.headers


def test_a_form_without_its_csrf_token_is_refused(client, team):
    response = client.post("/merchant/sign-in", data={"email": team["staff"].email,
                                                       "password": PASSWORD})
    assert response.status_code == 400
    assert client.get(f"/merchant/shops/{team['staff'].slug}/").status_code == 303


def test_a_wrong_password_shows_the_form_again(client, team):
    response = _sign_in(client, team["staff"].email, "wrong password")
    assert response.status_code == 401
    assert b"wrong e-mail or password" in response.data


def test_without_a_session_the_dashboard_sends_to_sign_in(client, shop):
    response = client.get(f"/merchant/shops/{shop.slug}/")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/merchant/sign-in")


def test_another_shops_dashboard_is_403(client, api, team):
    other = api.sign_up("Someone Else")
    _sign_in(client, team["staff"].email)
    response = client.get(f"/merchant/shops/{other.slug}/")
    assert response.status_code == 403 and response.mimetype == "text/html"


def test_signing_out_revokes_the_token(client, team):
    _sign_in(client, team["staff"].email)
    dashboard = client.get(f"/merchant/shops/{team['staff'].slug}/")
    tokens_before = client.get(f"/api/v1/shops/{team['owner'].slug}/tokens",
                               headers=team["owner"].auth).get_json()["items"]
    out = client.post("/merchant/sign-out", data={"csrf_token": _csrf(dashboard.data)})
    assert out.status_code == 303
    tokens_after = client.get(f"/api/v1/shops/{team['owner'].slug}/tokens",
                              headers=team["owner"].auth).get_json()["items"]
    assert len(tokens_after) == len(tokens_before) - 1
    assert client.get(f"/merchant/shops/{team['staff'].slug}/").status_code == 303


def test_the_dashboard_shows_todays_sales_and_what_runs_low(app, api, team):
    from tests.shop.merchants.pages import acting_as

    owner = team["owner"]
    api.add_product(owner, "STAR", price=2599, stock=4, name="Tree star")
    api.add_product(owner, "BAUBLE", price=500, stock=50, name="Bauble")
    assert api.buy(owner, "STAR", 2).status_code == 201
    assert api.buy(owner, "BAUBLE", 1).status_code == 201
    assert api.buy(owner, "BAUBLE", 1, token="tok_declined").status_code in (201, 402)
    page = acting_as(app, team["viewer"]).get(f"/merchant/shops/{owner.slug}/")
    text = page.get_data(as_text=True)
    orders = re.search(r"<dt>Orders paid</dt><dd>(\d+)</dd>", text).group(1)
    revenue = re.search(r"<dt>Revenue</dt><dd>([^<]+)</dd>", text).group(1)
    assert orders == "2"
    assert revenue == "€56.98"  # 2 x 25.99 + 5.00, shipping free
    low = text.split('id="low-stock"')[1].split("</section>")[0]
    assert "Tree star" in low and '<td data-label="Available" class="number">2</td>' in low
    assert "Bauble" not in low
    for section in ("Team", "Tokens", "Events", "Plan"):
        assert f">{section}</a>" in text
    assert ">Audit log</a>" not in text  # a viewer's dashboard
