"""Shoppers' personal data: erased on request through the merchant, anonymised after the
retention period by the worker, and every erasure logged — on both databases."""

from __future__ import annotations

import hashlib
import signal
from datetime import timedelta

from sqlalchemy import select, update

from shop.core.timeutil import utcnow
from shop.notifications.models import OutgoingMail
from shop.orders.models import Order
from shop.privacy.models import PersonalDataErasure
from shop.privacy.service import ERASED_EMAIL, anonymise_expired
from tests.pipeline.support import start_worker, subprocess_env, wait_until


def _place(api, shop, email: str, *, status: str | None = None) -> tuple[str, str]:
    cart_id = api.new_cart(shop)
    assert api.set_item(cart_id, "MUG", 1).status_code == 200
    response = api.checkout(cart_id, email=email)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    if status:
        with api.client.application.extensions["peakshop"].database.transaction() as session:
            session.execute(update(Order).where(Order.id == body["order_id"])
                            .values(status=status))
    return body["order_id"], body["access_token"]


def _order(database, order_id: str) -> Order:
    with database.reading() as session:
        return session.get(Order, order_id)


def test_a_merchant_erases_one_shopper_on_request(app, api, shop):
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=50)
    delivered, token = _place(api, shop, "ada@example.com", status="confirmed")
    with database.transaction() as session:
        session.add(OutgoingMail(order_id=delivered, kind="order_confirmation",
                                 recipient="ada@example.com", subject="Your order",
                                 body="Ada Lovelace, 1 Frost Lane", status="sent"))
    still_open, _ = _place(api, shop, "ada@example.com")  # paid, not yet shipped
    someone_else, _ = _place(api, shop, "bob@example.com", status="confirmed")
    other_shop = api.sign_up("Elsewhere")
    api.add_product(other_shop, "MUG", stock=5)
    at_other_shop, _ = _place(api, other_shop, "ada@example.com", status="confirmed")

    response = api.client.post(f"/api/v1/shops/{shop.slug}/erasures", headers=shop.auth,
                               json={"email": "  ADA@example.com "})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["erased"]["orders"] == 1 and body["erased"]["mails"] == 1
    assert body["orders_kept_open"] == 1
    assert body["email_sha256"] == hashlib.sha256(b"ada@example.com").hexdigest()

    shown = api.order(delivered, token).get_json()
    assert shown["email"] == ERASED_EMAIL
    assert shown["shipping_address"] == {"country": "FI"}
    assert shown["total"]["amount"] > 0 and shown["items"]  # the books still add up
    assert _order(database, still_open).email == "ada@example.com"
    assert _order(database, someone_else).email == "bob@example.com"
    assert _order(database, at_other_shop).email == "ada@example.com"
    with database.reading() as session:
        mail = session.scalar(select(OutgoingMail))
        assert (mail.recipient, mail.body) == (ERASED_EMAIL, "(erased)")
        [logged] = session.scalars(select(PersonalDataErasure)).all()
    assert (logged.reason, logged.orders_anonymised, logged.orders_kept_open) == (
        "request", 1, 1)
    assert logged.subject_sha256 == body["email_sha256"]


def test_erasure_requests_are_checked(app, api, shop, client):
    route = f"/api/v1/shops/{shop.slug}/erasures"
    assert client.post(route, json={"email": "a@example.com"}).status_code == 401
    assert client.post(route, headers=shop.auth, json={}).status_code == 422
    assert client.post(route, headers=shop.auth, json={"email": "nope"}).status_code == 422
    assert client.post(route, headers=shop.auth, json={"email": 7}).status_code == 422
    assert client.post(route, headers=shop.auth, data="x",
                       content_type="text/plain").status_code == 415
    other = api.sign_up("Elsewhere")
    assert client.post(route, headers=other.auth,
                       json={"email": "a@example.com"}).status_code == 403
    staff = client.post(f"/api/v1/shops/{shop.slug}/collaborators", headers=shop.auth,
                        json={"email": "helper@example.com", "password": "long enough"})
    refused = client.post(route, headers={"Authorization": f"Bearer "
                                                           f"{staff.get_json()['token']}"},
                          json={"email": "a@example.com"})
    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"


def test_closed_orders_past_retention_are_anonymised_once(app, api, shop):
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=50)
    old, _ = _place(api, shop, "ada@example.com", status="confirmed")
    old_open, _ = _place(api, shop, "ada@example.com")
    recent, _ = _place(api, shop, "bob@example.com", status="confirmed")
    with database.transaction() as session:
        session.execute(update(Order).where(Order.id.in_([old, old_open]))
                        .values(created_at=utcnow() - timedelta(days=800)))

    assert anonymise_expired(database, retention_days=730) == 1
    assert anonymise_expired(database, retention_days=730) == 0
    assert _order(database, old).email == ERASED_EMAIL
    assert _order(database, old).personal_data_erased_at is not None
    assert _order(database, old_open).email == "ada@example.com"
    assert _order(database, recent).email == "bob@example.com"
    with database.reading() as session:
        [logged] = session.scalars(select(PersonalDataErasure)).all()
    assert (logged.reason, logged.orders_anonymised, logged.subject_sha256) == (
        "retention", 1, None)


def test_the_worker_anonymises_on_its_own(app, api, shop, settings_overrides, tmp_path):
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=50)
    old, _ = _place(api, shop, "ada@example.com", status="confirmed")
    with database.transaction() as session:
        session.execute(update(Order).where(Order.id == old)
                        .values(created_at=utcnow() - timedelta(days=3)))
    worker = start_worker(subprocess_env({
        "PEAKSHOP_DATABASE_URL": settings_overrides["database_url"],
        "PEAKSHOP_REDIS_URL": settings_overrides["redis_url"],
        "PEAKSHOP_INSTANCE_PATH": settings_overrides["instance_path"],
        "PEAKSHOP_LOG_JSON": "false", "PEAKSHOP_WORKER_BLOCK_MS": "200",
        "PEAKSHOP_PERSONAL_DATA_RETENTION_DAYS": "2",
        "PEAKSHOP_WORKER_PRIVACY_INTERVAL_S": "0.5"}), tmp_path, "privacy")
    try:
        wait_until(lambda: _order(database, old).email == ERASED_EMAIL,
                   "the worker's retention sweep")
    finally:
        worker.signal(signal.SIGTERM)
        worker.wait()
