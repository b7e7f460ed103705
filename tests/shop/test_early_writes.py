"""Add to cart and checkout answered before Flask (shop.core.early_writes, shop.cart.early,
shop.checkout.early): a plain request gets the answer Flask would give, and everything else
still meets Flask."""

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shop.status import slo_batch, slo_counter
from shop.status.burnrate import Window
from tests.support.api import ADDRESS, ShopApi
from tests.support.servers import RedisServer, free_port

pytestmark = pytest.mark.redis_topologies
ROUTE = "/api/v1/carts/<cart_id>/items/<sku>"
# A query is one of the things that send a request to Flask: the same request, answered by
# the view and every hook, for comparison.
TO_FLASK = "?via=flask"


@pytest.fixture
def flask_answers(app):
    """How many requests reached Flask's request handling (its before-request hooks)."""
    seen = []
    # Straight into the hook list: the app has already answered (the fixtures' sign-up).
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: seen.append(1))
    return seen


def put(client, cart, sku, body, headers=None, query=""):
    return client.put(f"/api/v1/carts/{cart}/items/{sku}{query}", json=body,
                      headers=headers or {})


def same_answer(early, flask):
    assert early.status_code == flask.status_code
    assert early.get_json() == flask.get_json()
    assert early.content_type == flask.content_type
    ignored = {"X-Request-ID", "Content-Length"}
    assert ({(k, v) for k, v in early.headers.items() if k not in ignored}
            == {(k, v) for k, v in flask.headers.items() if k not in ignored})
    assert len(early.headers["X-Request-ID"]) == 32


def test_a_plain_add_is_answered_before_flask_as_flask_answers_it(client, api, shop,
                                                                   flask_answers):
    api.add_product(shop, "TEA", price=450, stock=10)
    api.add_product(shop, "POT", price=2000, stock=5)
    cart = api.new_cart(shop)
    reached = len(flask_answers)
    early = put(client, cart, "TEA", {"quantity": 3})
    assert len(flask_answers) == reached, "a plain add to cart went through Flask"
    assert early.status_code == 200
    assert early.get_json()["total"] == {"amount": 1350, "currency": "EUR"}
    flask = put(client, cart, "TEA", {"quantity": 3}, query=TO_FLASK)
    assert len(flask_answers) == reached + 1
    same_answer(early, flask)
    # A second line, and the removal of the first: the cart as stored, priced live.
    early = put(client, cart, "POT", {"quantity": 1})
    assert early.get_json()["total"]["amount"] == 3350
    removed = put(client, cart, "TEA", {"quantity": 0})
    assert [line["sku"] for line in removed.get_json()["items"]] == ["POT"]
    assert len(flask_answers) == reached + 1
    assert client.get(f"/api/v1/carts/{cart}").get_json()["total"]["amount"] == 2000
    # The caller's own request id is echoed, as the hook echoes it.
    tagged = put(client, cart, "POT", {"quantity": 2}, {"X-Request-ID": "edge-42"})
    assert tagged.headers["X-Request-ID"] == "edge-42"


@pytest.mark.parametrize("sku, quantity, status, code", [
    ("GHOST", 1, 404, "unknown_sku"),
    ("TEA", 101, 422, "quantity_limit"),
    ("TEA", 11, 409, "insufficient_stock"),
    ("TEA", 10**9 + 1, 422, "invalid_input"),
])
def test_refusals_answered_early_are_the_problems_flask_answers(client, api, shop,
                                                                flask_answers, sku, quantity,
                                                                status, code):
    api.add_product(shop, "TEA", stock=10)
    cart = api.new_cart(shop)
    reached = len(flask_answers)
    early = put(client, cart, sku, {"quantity": quantity})
    assert len(flask_answers) == reached
    assert early.status_code == status
    assert early.content_type == "application/problem+json"
    assert early.get_json()["code"] == code
    same_answer(early, put(client, cart, sku, {"quantity": quantity}, query=TO_FLASK))
    assert client.get(f"/api/v1/carts/{cart}").get_json()["items"] == []


def test_an_unknown_cart_is_a_404_problem_early(client, api, shop, flask_answers):
    api.add_product(shop, "TEA")
    reached = len(flask_answers)
    for cart in ("0" * 32, "not-a-cart"):
        answer = put(client, cart, "TEA", {"quantity": 1})
        assert answer.status_code == 404
        assert answer.get_json()["code"] == "unknown_cart"
    assert len(flask_answers) == reached


@pytest.mark.parametrize("body, kwargs, status", [
    (None, {"data": b'{"quantity": 1', "content_type": "application/json"}, 400),
    (None, {"data": b'{"quantity": 1}', "content_type": "text/plain"}, 415),
    (None, {"data": b'{"quantity": 1}'}, 415),
    ({"quantity": True}, {}, 422),
    ({"quantity": "2"}, {}, 422),
    ({"quantity": 1.0}, {}, 422),
    ({"quantity": -1}, {}, 422),
    ({"quantity": 2**63}, {}, 422),
    ({"quantity": 1, "price": 0}, {}, 422),
    ([1], {}, 422),
    ({}, {}, 422),
    (None, {"data": b'{"quantity": 1, "quantity": 2, "x": "\\u0000"}',
            "content_type": "application/json"}, 422),
    (None, {"data": b'{"quantity": 1}\xff', "content_type": "application/json"}, 400),
    (None, {"data": b" " * 2000 + b'{"quantity": 1}', "content_type": "application/json"},
     200),
])
def test_anything_but_a_plain_request_meets_flask(client, api, shop, flask_answers, body,
                                                  kwargs, status):
    """Malformed, mistyped, oversized or unusual bodies go on to Flask untouched, whose
    guard, request model and view answer them as before."""
    api.add_product(shop, "TEA", stock=10)
    cart = api.new_cart(shop)
    reached = len(flask_answers)
    if body is None:
        answer = client.put(f"/api/v1/carts/{cart}/items/TEA", **kwargs)
    else:
        answer = put(client, cart, "TEA", body)
    assert len(flask_answers) == reached + 1
    assert answer.status_code == status, answer.get_data()
    if status >= 400:
        assert answer.content_type == "application/problem+json"
        quantity = None
    else:
        quantity = 1
    items = client.get(f"/api/v1/carts/{cart}").get_json()["items"]
    assert [line["quantity"] for line in items] == ([quantity] if quantity else [])


def test_a_query_a_cookie_or_an_unusual_path_meets_flask(client, api, shop, flask_answers):
    api.add_product(shop, "TEA", stock=10)
    cart = api.new_cart(shop)
    reached = len(flask_answers)
    assert put(client, cart, "TEA", {"quantity": 1}, query="?country=FR").status_code == 200
    unknown = put(client, cart, "T%C3%89", {"quantity": 1})  # no such SKU can exist
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "unknown_sku"
    client.set_cookie("unrelated", "1")
    assert put(client, cart, "TEA", {"quantity": 2}).status_code == 200
    assert len(flask_answers) == reached + 3
    assert client.get(f"/api/v1/carts/{cart}").get_json()["items"][0]["quantity"] == 2


def metric(client, status: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        for sample in family.samples:
            if (sample.name == "peakshop_http_requests_total"
                    and sample.labels == {"method": "PUT", "route": ROUTE, "status": status}):
                return sample.value
    return 0.0


def test_early_answers_are_counted_in_the_metrics_and_the_slo(client, api, shop,
                                                              redis_client):
    api.add_product(shop, "TEA", stock=10)
    cart = api.new_cart(shop)
    slo_batch.flush_all()
    time.sleep(slo_batch.FLUSH_INTERVAL_S + 0.1)  # a write the flusher had started is done
    before = slo_counter.window_counts(redis_client, "storefront", [300])[300]
    ok, refused = metric(client, "200"), metric(client, "409")
    put(client, cart, "TEA", {"quantity": 1})
    put(client, cart, "TEA", {"quantity": 2})
    put(client, cart, "TEA", {"quantity": 11})
    assert metric(client, "200") == ok + 2
    assert metric(client, "409") == refused + 1
    # A refusal is the caller's: good for the SLO, as Flask's hook counts it. The counts
    # reach Redis within a second (a flusher thread may hold them a moment): wait for them.
    expected = Window(before.good + 3, before.bad)
    deadline = time.monotonic() + slo_batch.FLUSH_INTERVAL_S + 9
    while True:
        slo_batch.flush_all()
        after = slo_counter.window_counts(redis_client, "storefront", [300])[300]
        if after == expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert after == expected


def test_a_dependency_down_is_answered_by_flask_with_a_503(client, api, shop, make_app,
                                                           flask_answers):
    """Any failure but a problem of the caller's goes to Flask from the start: its error
    handlers answer the Redis that does not answer with a 503 and Retry-After."""
    api.add_product(shop, "TEA", stock=10)
    cart = api.new_cart(shop)
    cut_off = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    reached = []
    cut_off.before_request(lambda: reached.append(1))
    answer = put(cut_off.test_client(), cart, "TEA", {"quantity": 1})
    assert answer.status_code == 503
    assert answer.content_type == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0
    assert reached == [1]


def test_adds_survive_a_redis_restart_and_answer_503_while_it_is_down(make_app):
    """The cart's commands keep a connection of the thread's own (shop.core.redis_direct):
    while Redis is down an add is a 503 problem, and once it is back the next add works on
    a fresh connection, without a restart of the app."""
    own = RedisServer.start()
    try:
        app = make_app(redis_url=own.url)
        api = ShopApi(app.test_client())
        shop = api.sign_up("Restart Shop")
        api.add_product(shop, "TEA", stock=10)
        cart = api.new_cart(shop)
        assert api.set_item(cart, "TEA", 1).status_code == 200
        own.stop()
        down = api.set_item(cart, "TEA", 2)
        assert down.status_code == 503 and down.content_type == "application/problem+json"
        own.restart()
        again = api.set_item(cart, "TEA", 3)
        assert again.status_code == 200, again.get_json()
        assert again.get_json()["items"][0]["quantity"] == 3
    finally:
        own.stop()


def checkout(client, cart, key=None, query="", **changes):
    body = {"email": "ada@example.com", "shipping_address": ADDRESS,
            "payment": {"gateway": "dummy", "token": "tok_ok"}, **changes}
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(f"/api/v1/carts/{cart}/checkout{query}", json=body, headers=headers)


def test_a_plain_checkout_is_answered_before_flask_and_replays_alike(client, api, shop,
                                                                      flask_answers):
    api.add_product(shop, "TEA", price=450, stock=10)
    cart = api.new_cart(shop)
    api.set_item(cart, "TEA", 2)
    reached = len(flask_answers)
    placed = checkout(client, cart, key="k-1")
    assert len(flask_answers) == reached
    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert order["status"] == "paid" and order["total"]["amount"] == 900
    assert "Idempotent-Replayed" not in placed.headers
    replayed = checkout(client, cart, key="k-1")
    through_flask = checkout(client, cart, key="k-1", query=TO_FLASK)
    assert len(flask_answers) == reached + 1
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_json() == order
    same_answer(replayed, through_flask)
    # The order is readable with its token, and the cart is gone: one order, however asked.
    shown = client.get(f"/api/v1/orders/{order['order_id']}",
                       headers={"Authorization": f"Bearer {order['access_token']}"})
    assert shown.status_code == 200
    other_key = checkout(client, cart, key="k-2")
    assert other_key.status_code in (404, 409)
    assert other_key.content_type == "application/problem+json"


@pytest.mark.parametrize("stock, changes, status, code", [
    (1, {}, 409, "insufficient_stock"),
    (10, {"expected_total": {"amount": 1, "currency": "EUR"}}, 409, "price_changed"),
    (10, {"payment": {"gateway": "stripe", "token": "tok_ok"}}, 422, "unsupported_gateway"),
    (10, {"shipping_option": "by-sleigh"}, 422, "unknown_shipping_option"),
])
def test_checkout_refusals_answered_early_are_flasks_and_reserve_nothing(
        client, api, shop, flask_answers, stock, changes, status, code):
    api.add_product(shop, "TEA", price=450, stock=10)
    cart = api.new_cart(shop)
    api.set_item(cart, "TEA", 2)
    client.patch(f"/api/v1/shops/{shop.slug}/products/TEA", headers=shop.auth,
                 json={"stock": stock})
    reached = len(flask_answers)
    early = checkout(client, cart, key="r-1", **changes)
    assert len(flask_answers) == reached
    assert early.status_code == status and early.get_json()["code"] == code, early.get_json()
    same_answer(early, checkout(client, cart, key="r-1", query=TO_FLASK, **changes))
    product = client.get(f"/api/v1/shops/{shop.slug}/products/TEA").get_json()
    assert product["available"] == stock


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "caf\u00e9"])
def test_an_unusual_idempotency_key_meets_flask(client, api, shop, flask_answers, key):
    api.add_product(shop, "TEA", stock=10)
    cart = api.new_cart(shop)
    api.set_item(cart, "TEA", 1)
    reached = len(flask_answers)
    answer = client.post(f"/api/v1/carts/{cart}/checkout", headers={
        "Idempotency-Key": key.encode().decode("latin-1")}, json={
        "email": "ada@example.com", "shipping_address": ADDRESS,
        "payment": {"gateway": "dummy", "token": "tok_ok"}})
    assert len(flask_answers) == reached + 1
    assert answer.status_code in (201, 422), answer.get_json()


def test_a_checkout_with_its_redis_down_is_a_503_answered_by_the_apps_handler(
        client, api, shop, make_app):
    """A checkout is never run twice: a failure that is not the caller's is answered by the
    app's own error handler, before Flask, and not handed to Flask again."""
    api.add_product(shop, "TEA", stock=10)
    cart = api.new_cart(shop)
    api.set_item(cart, "TEA", 1)
    cut_off = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    reached = []
    cut_off.before_request(lambda: reached.append(1))
    answer = checkout(cut_off.test_client(), cart, key="down-1")
    assert answer.status_code == 503, answer.get_json()
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["code"] == "dependency_unavailable"
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert reached == []
    # Nothing was reserved: the same cart checks out once Redis answers (the app's own).
    assert checkout(client, cart, key="down-1").status_code == 201


def test_a_body_past_the_apps_own_limit_is_flasks_413(make_app):
    """A deployment's PEAKSHOP_MAX_BODY_BYTES below the early limit still holds."""
    small = make_app(max_body_bytes=10)
    answer = put(small.test_client(), "0" * 32, "TEA", {"quantity": 1})
    assert answer.status_code == 413
    assert answer.content_type == "application/problem+json"
