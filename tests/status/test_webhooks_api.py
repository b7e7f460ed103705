"""Merchants register outage webhooks; deliveries are signed, retried and logged."""

import pytest

from shop.webhooks import outbox
from tests.status.conftest import OPS, not_plain, open_incident
from tests.status.receiver import Receiver

ALL_EVENTS = ["incident.opened", "incident.updated", "incident.resolved"]


def register(client, shop, url, events=None):
    body = {"url": url, "events": events if events is not None else ALL_EVENTS}
    return client.post(f"/api/v1/shops/{shop.slug}/webhooks", headers=shop.auth, json=body)


def test_registration_returns_id_and_secret_once(client, shop):
    response = register(client, shop, "http://127.0.0.1:9/hook", ["incident.opened"])
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert isinstance(created["id"], int) and created["secret"].startswith("whsec_")
    assert created["events"] == ["incident.opened"]
    listed = client.get(f"/api/v1/shops/{shop.slug}/webhooks", headers=shop.auth).get_json()
    assert [e["id"] for e in listed["items"]] == [created["id"]]
    assert "secret" not in listed["items"][0]


def test_private_targets_are_refused_unless_allowed(make_app, redis_client):
    client = make_app().test_client()
    from tests.support.api import ShopApi

    shop = ShopApi(client).sign_up("Strict")
    for url in ("http://127.0.0.1:8000/hook", "http://169.254.169.254/latest",
                "http://localhost/hook", "http://[::1]/x", "http://10.1.2.3/x",
                "http://[2002:7f00:1::]/h", "http://[::ffff:10.0.0.1]/h"):
        response = register(client, shop, url)
        assert response.status_code == 422, url
        assert response.get_json()["code"] == "invalid_webhook_url"
    assert client.get(f"/api/v1/shops/{shop.slug}/webhooks",
                      headers=shop.auth).get_json()["items"] == []
    assert register(client, shop, "https://93.184.216.34/hook").status_code == 201


@pytest.mark.parametrize("body, mentions", [
    ({"url": "ftp://127.0.0.1/x"}, "https://"),
    ({"url": "not a url"}, "'url'"),
    ({"url": None}, "'url'"),
    ({"url": ["http://127.0.0.1/"]}, "'url'"),
    ({"url": "http://127.0.0.1/x", "events": ["order.paid"]}, "not an event"),
    ({"url": "http://127.0.0.1/x", "events": []}, "'events'"),
    ({"url": "http://127.0.0.1/x", "events": "incident.opened"}, "'events'"),
    ({"url": "http://user:pw@127.0.0.1/x"}, "user name"),
    ({"url": "http://93.184.216.34:0/h"}, "port must be a number from 1 to 65535"),
    ({"url": "http://127.0.0.1:65536/h"}, "port must be a number from 1 to 65535"),
])
def test_bad_registrations_are_422(client, shop, body, mentions):
    response = client.post(f"/api/v1/shops/{shop.slug}/webhooks", headers=shop.auth, json=body)
    assert response.status_code == 422, response.get_json()
    assert mentions in response.get_json()["detail"]


def test_a_token_reaches_only_its_own_shops_webhooks(client, api):
    mine, theirs = api.sign_up("Mine"), api.sign_up("Theirs")
    endpoint = register(client, mine, "http://127.0.0.1:9/hook").get_json()
    assert register(client, theirs, "http://127.0.0.1:9/x").status_code == 201
    assert client.post(f"/api/v1/shops/{mine.slug}/webhooks", headers=theirs.auth,
                       json={"url": "http://127.0.0.1:9/x"}).status_code == 403
    assert client.get(f"/api/v1/shops/{mine.slug}/webhooks/{endpoint['id']}/deliveries",
                      headers=theirs.auth).status_code == 403
    assert client.get(f"/api/v1/shops/{theirs.slug}/webhooks/{endpoint['id']}/deliveries",
                      headers=theirs.auth).status_code == 404
    assert client.get(f"/api/v1/shops/{mine.slug}/webhooks").status_code == 401


def test_staff_cannot_change_webhooks(client, shop):
    invited = client.post(f"/api/v1/shops/{shop.slug}/collaborators", headers=shop.auth,
                          json={"email": "staff@example.com", "password": "long enough pw",
                                "role": "staff"})
    assert invited.status_code == 201, invited.get_json()
    staff = {"Authorization": f"Bearer {invited.get_json()['token']}"}
    response = client.post(f"/api/v1/shops/{shop.slug}/webhooks", headers=staff,
                           json={"url": "http://127.0.0.1:9/x"})
    assert response.status_code == 403


def test_a_webhook_is_named_by_its_plain_digits_only(client, shop):
    """'٣' or '+3' reach no webhook, and delete none."""
    endpoint = register(client, shop, "http://127.0.0.1:9/hook").get_json()
    webhooks = f"/api/v1/shops/{shop.slug}/webhooks"
    for written in not_plain(endpoint["id"]):
        assert client.delete(f"{webhooks}/{written}", headers=shop.auth).status_code == 404
        assert client.get(f"{webhooks}/{written}/deliveries",
                          headers=shop.auth).status_code == 404
    listed = client.get(webhooks, headers=shop.auth).get_json()["items"]
    assert [item["id"] for item in listed] == [endpoint["id"]]


def test_delete_stops_deliveries(client, shop):
    endpoint = register(client, shop, "http://127.0.0.1:9/hook").get_json()
    path = f"/api/v1/shops/{shop.slug}/webhooks/{endpoint['id']}"
    assert client.delete(path, headers=shop.auth).status_code == 204
    assert client.delete(path, headers=shop.auth).status_code == 404
    open_incident(client)  # nothing queued for a deleted endpoint, nothing fails


def test_deliveries_are_signed_retried_and_logged(app, client, shop):
    """A receiver that fails once gets the event on the retry; the log shows both tries."""
    database = app.extensions["peakshop"].database
    policy = outbox.RetryPolicy(base_s=0)  # retry at once: the backoff has its own test
    send = outbox.http_sender(allow_private=True, policy=policy)
    with Receiver() as receiver:
        endpoint = register(client, shop, receiver.url).get_json()
        receiver.secret = endpoint["secret"]
        receiver.fail_next = 1
        incident = open_incident(client, shop=shop.slug)

        first = outbox.deliver_due(database, send, policy)
        assert (first.delivered, first.failed) == (0, 1)
        log = client.get(f"/api/v1/shops/{shop.slug}/webhooks/{endpoint['id']}/deliveries",
                         headers=shop.auth).get_json()["items"]
        assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
            ("pending", 1, 503)]

        second = outbox.deliver_due(database, send, policy)
        assert (second.delivered, second.failed) == (1, 0)
    [event] = receiver.events
    assert event["type"] == "incident.opened" and event["shop"] == shop.slug
    assert event["data"]["incident"]["id"] == incident["id"]
    log = client.get(f"/api/v1/shops/{shop.slug}/webhooks/{endpoint['id']}/deliveries",
                     headers=shop.auth).get_json()["items"]
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("delivered", 2, 204)]
    assert log[0]["event_id"] == event["id"]


def test_a_target_that_turned_private_is_refused_at_delivery(app, client, shop):
    """Registered while allowed, delivered by a worker that is not: the second check holds."""
    database = app.extensions["peakshop"].database
    policy = outbox.RetryPolicy(base_s=0)
    with Receiver() as receiver:
        endpoint = register(client, shop, receiver.url).get_json()
        receiver.secret = endpoint["secret"]
        open_incident(client, shop=shop.slug)
        report = outbox.deliver_due(database, outbox.http_sender(allow_private=False,
                                                                 policy=policy), policy)
    assert (report.delivered, report.failed) == (0, 1)
    assert receiver.events == []
    [delivery] = client.get(f"/api/v1/shops/{shop.slug}/webhooks/{endpoint['id']}/deliveries",
                            headers=shop.auth).get_json()["items"]
    assert "loopback" in delivery["last_error"]


def test_a_delivery_is_given_up_after_the_last_attempt(app, client, shop):
    database = app.extensions["peakshop"].database
    policy = outbox.RetryPolicy(base_s=0, max_attempts=2)
    send = outbox.http_sender(allow_private=True, policy=policy)
    with Receiver() as receiver:
        endpoint = register(client, shop, receiver.url).get_json()
        receiver.fail_next = 5
        open_incident(client, shop=shop.slug)
        outbox.deliver_due(database, send, policy)
        outbox.deliver_due(database, send, policy)
        assert outbox.deliver_due(database, send, policy).failed == 0  # nothing left to try
    [delivery] = client.get(f"/api/v1/shops/{shop.slug}/webhooks/{endpoint['id']}/deliveries",
                            headers=shop.auth).get_json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("failed", 2)


@pytest.mark.parametrize("attempts, wait_s", [(1, 10), (2, 20), (3, 40), (9, 2560), (10, 3600),
                                              (16, 3600)])
def test_backoff_doubles_and_caps(attempts, wait_s):
    assert outbox.backoff_s(attempts, outbox.RetryPolicy()) == wait_s


def test_only_subscribed_events_are_queued(app, client, shop):
    database = app.extensions["peakshop"].database
    policy = outbox.RetryPolicy(base_s=0)
    with Receiver() as receiver:
        endpoint = register(client, shop, receiver.url, ["incident.resolved"]).get_json()
        receiver.secret = endpoint["secret"]
        incident = open_incident(client)
        client.post(f"/api/v1/ops/incidents/{incident['id']}/updates", headers=OPS,
                    json={"message": "still on it"})
        client.post(f"/api/v1/ops/incidents/{incident['id']}/updates", headers=OPS,
                    json={"message": "done", "status": "resolved"})
        outbox.deliver_due(database, outbox.http_sender(allow_private=True, policy=policy),
                           policy)
    assert [e["type"] for e in receiver.events] == ["incident.resolved"]


def test_https_goes_to_the_checked_address_with_the_urls_name(app, client, shop, tmp_path):
    """Connected to the address the guard checked (127.0.0.1), yet TLS verifies the
    certificate against the name in the URL, as it would for any public host."""
    from tests.status.tls import make_certificates

    ca, certificate, key = make_certificates(tmp_path, "localhost")
    database = app.extensions["peakshop"].database
    policy = outbox.RetryPolicy(base_s=0)
    with Receiver(tls=(str(certificate), str(key)), host="localhost") as receiver:
        endpoint = register(client, shop, receiver.url).get_json()
        receiver.secret = endpoint["secret"]
        open_incident(client, shop=shop.slug)
        (tmp_path / "other").mkdir()
        strangers_ca = make_certificates(tmp_path / "other", "localhost")[0]
        untrusted = outbox.deliver_due(database, outbox.http_sender(
            allow_private=True, policy=policy, ca_certs=str(strangers_ca)), policy)
        assert (untrusted.delivered, untrusted.failed) == (0, 1)
        trusted = outbox.deliver_due(database, outbox.http_sender(
            allow_private=True, policy=policy, ca_certs=str(ca)), policy)
        assert (trusted.delivered, trusted.failed) == (1, 0)
    assert [e["type"] for e in receiver.events] == ["incident.opened"]
    [delivery] = client.get(f"/api/v1/shops/{shop.slug}/webhooks/{endpoint['id']}/deliveries",
                            headers=shop.auth).get_json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
