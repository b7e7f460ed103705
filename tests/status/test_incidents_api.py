"""Ops open, update and resolve incidents; the status JSON follows."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.status.conftest import OPS, OPS_TOKEN, not_plain, open_incident


def in_hours(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def test_all_is_operational_without_incidents(client):
    body = client.get("/api/v1/status").get_json()
    assert body["status"] == "operational"
    assert [c["name"] for c in body["components"]] == [
        "storefront", "checkout", "payments", "order processing", "e-mail"]
    assert {c["status"] for c in body["components"]} == {"operational"}
    assert body["incidents"] == []


def test_an_incident_shows_with_customer_first_text(client):
    created = open_incident(client, eta=in_hours(2), impact="outage",
                            components=["checkout", "payments"])
    body = client.get("/api/v1/status").get_json()
    assert body["status"] == "outage"
    statuses = {c["name"]: c["status"] for c in body["components"]}
    assert statuses == {"storefront": "operational", "checkout": "outage",
                        "payments": "outage", "order processing": "operational",
                        "e-mail": "operational"}
    [incident] = body["incidents"]
    assert incident["id"] == created["id"]
    assert incident["status"] == "investigating"
    assert incident["started_at"].endswith("Z") and incident["eta"].endswith("Z")
    [update] = incident["updates"]
    text = update["message"]
    assert text.startswith("We are sorry.")
    assert "Checkout and payments are not working" in text
    assert "Our team is on it" in text
    assert "Card payments time out for some customers." in text
    assert "We expect it to be fixed by" in text
    assert "Our next update comes by" in text


def test_updates_move_the_incident_to_resolved(client):
    created = open_incident(client)
    path = f"/api/v1/ops/incidents/{created['id']}/updates"
    identified = client.post(path, headers=OPS, json={
        "message": "A card processor rejects our requests.", "status": "identified",
        "eta": in_hours(1)})
    assert identified.status_code == 201, identified.get_json()
    assert "found the cause" in identified.get_json()["message"]
    monitoring = client.post(path, headers=OPS, json={"message": "Deployed a fix.",
                                                      "status": "monitoring"})
    assert monitoring.status_code == 201
    body = client.get("/api/v1/status").get_json()
    assert body["status"] == "degraded"  # a fix in place degrades at most
    [incident] = body["incidents"]
    assert [u["message"][:20] for u in incident["updates"]][0].startswith("We are sorry")
    assert len(incident["updates"]) == 3 and incident["status"] == "monitoring"

    resolved = client.post(path, headers=OPS, json={"message": "All payments go through.",
                                                    "status": "resolved"})
    assert resolved.status_code == 201
    assert resolved.get_json()["message"].startswith("This is fixed: checkout is working")
    body = client.get("/api/v1/status").get_json()
    assert body["status"] == "operational"
    assert body["incidents"] == []
    assert [i["id"] for i in body["recent"]] == [created["id"]]
    again = client.post(path, headers=OPS, json={"message": "one more"})
    assert again.status_code == 409 and again.get_json()["code"] == "incident_resolved"


def test_ops_can_publish_their_own_words(client):
    created = open_incident(client, message="Wir arbeiten daran.", verbatim=True)
    assert created["updates"][0]["message"] == "Wir arbeiten daran."


def test_a_shop_incident_shows_on_that_shop_only(client, api):
    first, second = api.sign_up("Erste"), api.sign_up("Zweite")
    open_incident(client, shop=first.slug, title="Erste's mails are late",
                  components=["e-mail"])
    platform = client.get("/api/v1/status").get_json()
    assert platform["incidents"] == [] and platform["status"] == "operational"
    mine = client.get(f"/api/v1/shops/{first.slug}/status").get_json()
    assert [i["title"] for i in mine["incidents"]] == ["Erste's mails are late"]
    assert mine["status"] == "degraded"
    theirs = client.get(f"/api/v1/shops/{second.slug}/status").get_json()
    assert theirs["incidents"] == []
    # A platform-wide incident shows on every shop's page.
    open_incident(client, title="Payments are down", components=["payments"])
    theirs = client.get(f"/api/v1/shops/{second.slug}/status").get_json()
    assert [i["title"] for i in theirs["incidents"]] == ["Payments are down"]


def test_unknown_shop_status_is_404(client):
    response = client.get("/api/v1/shops/no-such-shop/status")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer wrong"}, 401),
    ({"Authorization": "Basic " + OPS_TOKEN}, 401),
])
def test_the_ops_api_wants_the_ops_token(client, headers, status):
    response = client.post("/api/v1/ops/incidents", headers=headers, json={
        "title": "x", "components": ["checkout"], "message": "y"})
    assert response.status_code == status
    assert client.get("/api/v1/status").get_json()["incidents"] == []


def test_a_merchant_token_is_not_an_ops_token(client, shop):
    response = client.post("/api/v1/ops/incidents", headers=shop.auth, json={
        "title": "x", "components": ["checkout"], "message": "y"})
    assert response.status_code == 401


def test_without_an_ops_token_configured_the_api_is_closed(make_app):
    client = make_app().test_client()
    response = client.post("/api/v1/ops/incidents", headers=OPS, json={})
    assert response.status_code == 403


@pytest.mark.parametrize("body, mentions", [
    ({"components": ["checkout"], "message": "m"}, "'title'"),
    ({"title": "t", "message": "m"}, "'components'"),
    ({"title": "t", "components": [], "message": "m"}, "'components'"),
    ({"title": "t", "components": ["kitchen"], "message": "m"}, "not a component"),
    ({"title": "t", "components": [["checkout"]], "message": "m"}, "not a component"),
    ({"title": "t", "components": "checkout", "message": "m"}, "'components'"),
    ({"title": "t", "components": ["checkout"]}, "'message'"),
    ({"title": 5, "components": ["checkout"], "message": "m"}, "'title'"),
    ({"title": "t", "components": ["checkout"], "message": "m", "eta": "soon"}, "'eta'"),
    ({"title": "t", "components": ["checkout"], "message": "m", "eta": "2026-12-24T18:00:00"},
     "offset"),
    ({"title": "t", "components": ["checkout"], "message": "m",
      "eta": "2001-01-01T00:00:00Z"}, "past"),
    ({"title": "t", "components": ["checkout"], "message": "m", "eta": 12}, "'eta'"),
    ({"title": "t", "components": ["checkout"], "message": "m", "shop": "nope"}, "'shop'"),
    ({"title": "t", "components": ["checkout"], "message": "m", "impact": "meh"}, "'impact'"),
    ({"title": "t", "components": ["checkout"], "message": "m", "verbatim": "yes"},
     "'verbatim'"),
    ({"title": "t" * 201, "components": ["checkout"], "message": "m"}, "'title'"),
])
def test_bad_incidents_are_refused_with_the_field_named(client, body, mentions):
    response = client.post("/api/v1/ops/incidents", headers=OPS, json=body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert mentions in response.get_json()["detail"]
    assert client.get("/api/v1/status").get_json()["incidents"] == []


@pytest.mark.parametrize("raw, content_type, status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 422),
    (b"title=x", "application/x-www-form-urlencoded", 415),
])
def test_malformed_bodies_are_4xx(client, raw, content_type, status):
    response = client.post("/api/v1/ops/incidents", headers={**OPS,
                                                             "Content-Type": content_type},
                           data=raw)
    assert response.status_code == status


@pytest.mark.parametrize("incident_id", ["999999", "abc", "-1", "99999999999999999999"])
def test_updates_to_unknown_incidents_are_404(client, incident_id):
    response = client.post(f"/api/v1/ops/incidents/{incident_id}/updates", headers=OPS,
                           json={"message": "x"})
    assert response.status_code == 404


def test_an_incident_is_named_by_its_plain_digits_only(client):
    incident = open_incident(client)
    for written in not_plain(incident["id"]):
        path = "/api/v1/ops/incidents/" + written
        assert client.get(path, headers=OPS).status_code == 404, written
        posted = client.post(path + "/updates", headers=OPS, json={"message": "x"})
        assert posted.status_code == 404, written
    shown = client.get(f"/api/v1/ops/incidents/{incident['id']}", headers=OPS).get_json()
    assert len(shown["updates"]) == 1  # nothing was added to the incident


def test_a_control_character_in_the_path_is_refused_at_the_edge(client):
    response = client.post("/api/v1/ops/incidents/1%00/updates", headers=OPS,
                           json={"message": "x"})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_bad_updates_are_refused(client):
    created = open_incident(client)
    path = f"/api/v1/ops/incidents/{created['id']}/updates"
    assert client.post(path, headers=OPS, json={"message": "x", "status": "done"}
                       ).status_code == 422
    assert client.post(path, headers=OPS, json={"status": "resolved"}).status_code == 422
    assert client.get("/api/v1/status").get_json()["incidents"][0]["status"] == "investigating"


def test_ops_list_every_incident(client, api):
    first = api.sign_up("Erste")
    open_incident(client, shop=first.slug)
    open_incident(client)
    items = client.get("/api/v1/ops/incidents", headers=OPS).get_json()["items"]
    assert [i["scope"] for i in items] == ["platform", "shop"]
    one = client.get(f"/api/v1/ops/incidents/{items[0]['id']}", headers=OPS)
    assert one.status_code == 200 and one.get_json()["id"] == items[0]["id"]


@pytest.mark.parametrize("title", ["nul \x00 inside", "🎄 Weihnachten", "x" * 200, "  padded  "])
def test_unusual_titles_are_stored_or_refused_never_a_500(client, title):
    response = client.post("/api/v1/ops/incidents", headers=OPS, json={
        "title": title, "components": ["checkout"], "message": "m"})
    assert response.status_code in (201, 400, 422), response.get_json()
    if response.status_code == 201:
        listed = client.get("/api/v1/status").get_json()["incidents"]
        assert listed[0]["title"] == title.strip()


@pytest.mark.parametrize("text", ["bell \x07", "\x1b[2J\x1b[31mred", "del \x7f", "c1 \x9b31m"])
def test_control_characters_are_refused_where_customers_read(client, text):
    """Invisible on the status page, and in a terminal they move the cursor or recolour
    what follows."""
    for body in ({"title": text, "components": ["checkout"], "message": "m"},
                 {"title": "t", "components": ["checkout"], "message": text}):
        response = client.post("/api/v1/ops/incidents", headers=OPS, json=body)
        assert response.status_code == 422, response.get_json()
        assert "control character" in response.get_json()["detail"]
    assert client.get("/api/v1/status").get_json()["incidents"] == []


def test_an_update_can_change_the_impact(client):
    created = open_incident(client)
    assert client.get("/api/v1/status").get_json()["status"] == "degraded"
    response = client.post(f"/api/v1/ops/incidents/{created['id']}/updates", headers=OPS,
                           json={"message": "Now nothing goes through.", "impact": "outage"})
    assert response.status_code == 201
    assert "not working at the moment" in response.get_json()["message"]
    assert client.get("/api/v1/status").get_json()["status"] == "outage"
    bad = client.post(f"/api/v1/ops/incidents/{created['id']}/updates", headers=OPS,
                      json={"message": "x", "impact": "catastrophic"})
    assert bad.status_code == 422
