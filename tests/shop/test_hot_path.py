"""What every request pays, made cheaper without changing an answer.

The early path remembers Flask's routes by method and path, the libpq reader prepares its
statements per connection, Flask's `ensure_sync` answers are remembered and spectree's
partial-model walk is iterative: each is checked here against what it replaces, on both
databases where a database is involved (docs/capacity.md, "Per-request layers").
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest
import sqlalchemy
from pydantic import BaseModel
from spectree.model_adapter.pydantic_adapter import PydanticModelAdapter
from sqlalchemy import bindparam, literal_column, select

from shop.core import early_revalidation
from shop.core.dispatch import SyncAnswersRemembered
from shop.core.openapi import _ModelAdapter


def _early_path(app) -> early_revalidation.FastRevalidation:
    layer = app.wsgi_app
    while not isinstance(layer, early_revalidation.FastRevalidation):
        layer = layer.wsgi_app
    return layer


def _answer(response) -> tuple:
    headers = {name: value for name, value in response.headers.items()
               if name not in ("Date", "X-Request-ID")}
    return response.status_code, headers, response.data


def test_remembered_routes_answer_as_the_first_lookup_did(app, client, api, shop):
    """Every path answered twice more once its route is remembered: same status, headers
    and body as the first answer, which asked Flask's URL map."""
    api.add_product(shop, "MUG", price=1250, stock=5)
    base = f"/api/v1/shops/{shop.slug}"
    requests = [("GET", f"{base}/products/MUG"), ("HEAD", f"{base}/products/MUG"),
                ("GET", f"{base}/products/NONE"), ("GET", f"{base}/products/MUG/"),
                ("GET", f"{base}//products/MUG"), ("GET", f"{base}/products"),
                ("GET", "/api/v1/shops/no-such-shop/products/MUG"),
                ("GET", f"/shops/{shop.slug}/products/MUG"), ("GET", f"/shops/{shop.slug}"),
                ("DELETE", f"{base}/products/MUG/images/x")]
    first = {request: _answer(client.open(request[1], method=request[0]))
             for request in requests}
    for _ in range(2):
        for request in requests:
            assert _answer(client.open(request[1], method=request[0])) == first[request], \
                request
    assert first[("GET", f"{base}/products/MUG")][0] == 200
    assert first[("HEAD", f"{base}/products/MUG")][2] == b""
    assert first[("GET", f"{base}/products/NONE")][0] == 404


def test_the_remembered_routes_stay_bounded(app, client, shop, monkeypatch):
    monkeypatch.setattr(early_revalidation, "ROUTES_REMEMBERED", 8)
    early = _early_path(app)
    for number in range(20):
        client.get(f"/api/v1/shops/{shop.slug}/products/SKU-{number}")
        assert len(early._routes) <= 8
    long_path = f"/api/v1/shops/{shop.slug}/products/" + "X" * 600
    assert client.get(long_path).status_code == 404
    assert ("GET", long_path) not in early._routes


def test_a_statement_the_database_refuses_keeps_the_readers_connection(app, api, shop,
                                                                       database_url):
    """On libpq: an error the server answers (here a division by zero) comes out as
    SQLAlchemy's, and the connection it came over is kept: nobody can make the reader
    reconnect at will."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite divides by zero into NULL, and reads through its own driver")
    api.add_product(shop, "MUG", price=1250, stock=5)
    reader = app.extensions["peakshop"].database.statements
    divided = select(literal_column("1") / bindparam("zero", type_=sqlalchemy.Integer))
    products = sqlalchemy.table("products", sqlalchemy.column("sku"), sqlalchemy.column("stock"))
    by_sku = select(products.c.stock).where(products.c.sku == bindparam("sku"))
    assert reader.first(by_sku, {"sku": "MUG"}) == (5,)
    kept = list(reader._connections.values())
    for _ in range(3):
        with pytest.raises(sqlalchemy.exc.DBAPIError):
            reader.first(divided, {"zero": 0})
    assert list(reader._connections.values()) == kept
    assert reader.first(by_sku, {"sku": "MUG"}) == (5,)
    assert reader.first(by_sku, {"sku": "NONE"}) is None


class _Model(BaseModel):
    amount: int = 1


@dataclass(frozen=True)
class _Data:
    amount: int = 1


@pytest.mark.parametrize("document", [
    None, 0, 0.0, "", False, {}, [], (), {"sku": "MUG", "price": {"amount": 1250}},
    {"items": [{"sku": "MUG", "quantity": 2, "options": {"size": "L"}}] * 5, "total": 3},
    _Model(), _Data(), _Data, [1, "two", None, _Model()], {"nested": [[], [[_Data()]]]},
    {"": _Model()}, {_Data(): 1}, {(1, _Data()): 2}, {(1, 2): "three"}, [0, False, "", 1.5],
    ({},), {"empty": {}, "zero": 0, "model": [_Model()]},
])
def test_the_partial_model_walk_answers_as_spectrees(document):
    assert (_ModelAdapter().is_partial_model_instance(document)
            == PydanticModelAdapter().is_partial_model_instance(document))


def test_ensure_sync_remembers_plain_functions_only(app):
    remembered = app.ensure_sync
    assert isinstance(remembered, SyncAnswersRemembered)

    def plain():
        return "plain"

    async def coroutine():
        return "async"

    assert remembered(plain) is plain and plain in remembered.plain
    assert remembered(plain) is plain
    try:
        wrapped = remembered(coroutine)
    except RuntimeError:  # Flask without its async extra refuses, as it always did
        wrapped = None
    assert wrapped is not coroutine and coroutine not in remembered.plain



def test_an_order_as_written_reads_and_changes_as_one_made_by_its_constructor(app):
    """Checkout's answer is an Order filled with the columns its statement wrote
    (`as_written`), not built by the constructor: it must read, change and refuse alike."""
    from datetime import UTC, datetime

    from shop.orders.models import Order, as_written

    now = datetime(2026, 12, 4, 9, tzinfo=UTC)
    columns = {"id": "a" * 32, "merchant_id": 1, "email": "ada@example.com",
               "shipping_address": {"country": "FI"}, "status": "pending_payment",
               "total_amount": 1299, "currency": "EUR", "payment_gateway": "dummy",
               "reservation_expires_at": now, "created_at": now, "updated_at": now}
    written, built = as_written(dict(columns)), Order(**columns)
    for name in Order.__table__.columns.keys():
        assert getattr(written, name) == getattr(built, name), name
    for order in (written, built):
        order.status, order.paid_at = "paid", now
        assert (order.status, order.paid_at) == ("paid", now)
    with pytest.raises(TypeError, match="colour"):
        as_written({**columns, "colour": "red"})
    with pytest.raises(TypeError):
        Order(**columns, colour="red")


def test_an_order_as_written_sets_the_mappers_up_when_nothing_did_yet():
    """A fresh process's first ORM use may be a checkout's order (a gunicorn worker's first
    requests): `as_written` sets the mappers up as the constructor's event would."""
    models = ["breaches", "catalog", "events", "fulfilment", "images", "merchants",
              "notifications", "orders", "payments", "privacy", "status", "webhooks"]
    script = "\n".join([*(f"import shop.{name}.models" for name in models),
                        "from shop.orders.models import Order, as_written",
                        "assert not Order.__mapper__.configured",
                        "order = as_written({'id': 'a' * 32, 'status': 'pending_payment'})",
                        "order.status = 'paid'",
                        "print(order.id, order.status, order.paid_at)"])
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["a" * 32, "paid", "None"]


def test_the_app_sets_its_mappers_up_before_its_first_request(redis_server, tmp_path):
    """Not in the middle of a worker's first request: by the end of `create_app` (checked in
    a fresh process, where no earlier test set them up)."""
    script = "\n".join([
        "from shop import create_app",
        f"create_app({{'database_url': 'sqlite:///{tmp_path}/fresh.db',",
        f"            'redis_url': '{redis_server.url}', 'instance_path': '{tmp_path}'}})",
        "from shop.orders.models import Order",
        "print(Order.__mapper__.configured)"])
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split()[-1] == "True"
