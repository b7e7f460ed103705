"""The rendered memo: a page or JSON read given again before Flask while its tag holds.

What it must never do: give a page after the product changed (once the facts are read
again), give one browser's page to another, lose a request from the metrics or the SLO, or
give links of another host. The last two tests run two gunicorn workers, the production
server, and change the product from this test's own process.
"""

from __future__ import annotations

import pytest
import requests
from prometheus_client import REGISTRY

from shop.core.early_revalidation import Rendered, RenderedMemo
from shop.status import slo_counter
from shop.status.components import Component
from shop.status.slo_batch import flush_all
from shop.storefront.revalidation import GOOD_ANSWERS, GoodAnswers
from tests.images.support import picture, upload
from tests.shop.catalog.test_http_cache import counted_statements
from tests.storefront.pages import Shopper
from tests.support import catalog_cache
from tests.support.live import LiveServer

# Facts read at every request here (memo 0): a change is then seen by the very next read.
settings_overrides = catalog_cache.settings_overrides
mug = catalog_cache.mug

PER_ANSWER = {"Date", "X-Request-ID"}


def reads(shop) -> list[str]:
    return [f"/api/v1/shops/{shop.slug}/products/MUG", f"/shops/{shop.slug}/products/MUG",
            f"/api/v1/shops/{shop.slug}/products", f"/shops/{shop.slug}/?q=mug"]


def stable_headers(response) -> dict:
    return {name: value for name, value in response.headers.items() if name not in PER_ANSWER}


@pytest.mark.parametrize("which", range(4))
def test_a_repeated_read_is_given_again_reading_only_the_facts(make_app, mug, which):
    url = reads(mug)[which]
    app = make_app()
    hooks = []
    app.before_request(lambda: hooks.append(1) and None)
    client = app.test_client()
    first = client.get(url)
    assert first.status_code == 200 and hooks == [1]
    with counted_statements(app) as statements:
        again = client.get(url, headers={"X-Request-Id": "shopper-42"})
    assert hooks == [1], "Flask's hooks ran: the answer was rendered again"
    assert len(statements) == 1 and "max(" in statements[0].lower()  # the freshness facts
    assert again.status_code == 200 and again.data == first.data
    # A page changed within the last second is answered without a date (Last-Modified has
    # whole seconds, shop.catalog.freshness): the answer given again may already carry it.
    dated_since = {"Last-Modified"} if "Last-Modified" not in first.headers else set()
    assert ({name: value for name, value in stable_headers(again).items()
             if name not in dated_since} == stable_headers(first))
    assert again.headers["X-Request-Id"] == "shopper-42"
    assert again.headers["Date"]
    third = client.get(url, headers={"X-Request-Id": "bad id <script>"})
    assert third.headers["X-Request-Id"] not in ("bad id <script>", first.headers["X-Request-Id"])


def test_a_merchant_change_is_seen_by_the_next_read(client, mug):
    product = f"/api/v1/shops/{mug.slug}/products/MUG"
    for url in reads(mug):
        client.get(url)
    before = {url: client.get(url) for url in reads(mug)}
    assert client.patch(product, json={"price": {"amount": 990, "currency": "EUR"}},
                        headers=mug.auth).status_code == 200
    for url in reads(mug):
        after = client.get(url)
        assert after.status_code == 200
        assert after.headers["ETag"] != before[url].headers["ETag"], url
        assert after.data != before[url].data, url
    assert client.get(product).get_json()["price"]["amount"] == 990
    assert "9.90" in client.get(f"/shops/{mug.slug}/products/MUG").get_data(as_text=True)


def test_a_new_image_is_seen_by_the_next_read(client, mug):
    page = f"/shops/{mug.slug}/products/MUG"
    product = f"/api/v1/shops/{mug.slug}/products/MUG"
    client.get(page), client.get(product)
    assert client.get(product).get_json()["images"] == []
    assert upload(client, mug, "MUG", picture(400, 300)).status_code == 201
    assert len(client.get(product).get_json()["images"]) == 1
    assert "<img" in client.get(page).get_data(as_text=True)


def test_links_follow_the_host_the_caller_reached(client, mug):
    assert upload(client, mug, "MUG", picture(400, 300)).status_code == 201
    url = f"/api/v1/shops/{mug.slug}/products/MUG"
    for host in ("shop.example", "other.example", "shop.example"):
        image = client.get(url, base_url=f"https://{host}").get_json()["images"][0]
        assert image["url"].startswith(f"https://{host}/"), image["url"]


def test_a_browser_with_a_session_never_gets_a_kept_page_nor_leaves_its_own(app, mug):
    url = f"/shops/{mug.slug}/products/MUG"
    shared = app.test_client().get(url)
    shopper = Shopper(app.test_client())
    shopper.add_to_cart(mug.slug, "MUG", 1)  # the browser now has a session and a cart
    own = shopper.client.get(url)
    assert own.status_code == 200 and own.headers["Cache-Control"] == "private, no-store"
    assert own.data != shared.data  # its form carries its own token
    again = app.test_client().get(url)
    assert again.data == shared.data and "public" in again.headers["Cache-Control"]


def test_kept_answers_count_in_the_metrics_and_the_slo(make_app, redis_client, mug):
    app = make_app()
    hooks = []
    app.before_request(lambda: hooks.append(1) and None)
    client = app.test_client()
    url = f"/api/v1/shops/{mug.slug}/products/MUG"
    labels = {"method": "GET", "route": "/api/v1/shops/<slug>/products/<sku>", "status": "200"}

    def counted() -> tuple[float, int]:
        good = slo_counter.window_counts(redis_client, Component.STOREFRONT, [60])[60].good
        return REGISTRY.get_sample_value("peakshop_http_requests_total", labels) or 0, good

    client.get(url)
    # Everything counted so far (the fixture's requests too) written now: the process's
    # flusher would otherwise write it, once a second, between the two readings.
    flush_all()
    requests_before, good_before = counted()
    for _ in range(3):
        assert client.get(url).status_code == 200
    assert hooks == [1]  # the first read only: the others were given from the memo
    app.extensions[GOOD_ANSWERS].flush()  # as the next answer a second later does
    flush_all()
    requests_after, good_after = counted()
    assert requests_after - requests_before == 3 and good_after - good_before == 3


def test_the_memo_keeps_within_its_budget_and_by_tag():
    def answer(tag: str, size: int) -> Rendered:
        return Rendered(tag, "200 OK", (("Content-Type", "text/html"),), b"x" * size)

    memo = RenderedMemo(max_bytes=3000)
    memo.put(("a",), answer('W/"1"', 1000))
    memo.put(("b",), answer('W/"1"', 1000))
    assert memo.get(("a",), 'W/"1"') is not None  # a is now the most recently used
    assert memo.get(("a",), 'W/"2"') is None  # another tag: the page changed
    memo.put(("c",), answer('W/"1"', 1000))  # over budget: b, the least recently used, goes
    assert memo.get(("b",), 'W/"1"') is None
    assert memo.get(("a",), 'W/"1"') and memo.get(("c",), 'W/"1"')
    assert memo.used <= memo.max_bytes
    memo.put(("a",), answer('W/"2"', 500))  # a new rendering replaces the old one
    assert memo.get(("a",), 'W/"2"').body == b"x" * 500 and memo.used <= memo.max_bytes
    memo.put(("huge",), answer('W/"1"', 5000))  # larger than the budget: not kept
    assert memo.get(("huge",), 'W/"1"') is None and memo.get(("c",), 'W/"1"')
    nothing = RenderedMemo(0)
    nothing.put(("a",), answer('W/"1"', 1))
    assert nothing.get(("a",), 'W/"1"') is None


def warm(base: str, url: str, times: int = 30) -> list[dict]:
    # A new connection each time, so that both workers answer and keep the page.
    return [requests.get(base + url, timeout=10).json() for _ in range(times)]


@pytest.mark.parametrize("memo_ms", [0, 1000])
def test_two_workers_see_a_change_made_by_another_process(client, mug, database_url,
                                                          redis_server, tmp_path, memo_ms):
    """Two gunicorn workers keep the product; the merchant changes it through this test's
    own app (a third process). The next read of either worker has the change, whatever the
    memo of revalidations says (0, or the default second)."""
    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=str(tmp_path / "live"), workers=2,
                              extra_env={"PEAKSHOP_CATALOG_REVALIDATION_MEMO_MS": str(memo_ms)})
    try:
        url = f"/api/v1/shops/{mug.slug}/products/MUG"
        assert {body["price"]["amount"] for body in warm(server.url, url)} == {1250}
        assert client.patch(url, json={"price": {"amount": 990, "currency": "EUR"},
                                       "stock": 3}, headers=mug.auth).status_code == 200
        seen = warm(server.url, url)
        assert {(body["price"]["amount"], body["available"]) for body in seen} == {(990, 3)}
    finally:
        server.stop()


@pytest.mark.parametrize("page", [False, True])
def test_a_rendered_product_read_is_two_statements_images_included(make_app, client, mug,
                                                                   page):
    """Without the memo, a product read costs the facts and one statement for the product,
    its shop and all its images (no statement per image, none for images apart)."""
    for _ in range(2):
        assert upload(client, mug, "MUG", picture(400, 300)).status_code == 201
    app = make_app(catalog_rendered_memo_mb=0)
    url = f"/shops/{mug.slug}/products/MUG" if page else f"/api/v1/shops/{mug.slug}/products/MUG"
    reader = app.test_client()
    reader.get(url)  # the connections are open
    with counted_statements(app) as statements:
        answer = reader.get(url)
    assert answer.status_code == 200
    assert len(statements) == 2, statements
    assert "max(" in statements[0].lower() and "product_images" in statements[1]
    if page:
        assert answer.get_data(as_text=True).count("<img") == 2
    else:
        assert len(answer.get_json()["images"]) == 2


def test_good_answers_are_batched_with_the_other_slo_counts(redis_client):
    answers = GoodAnswers(redis_client)

    def good() -> int:
        return slo_counter.window_counts(redis_client, Component.STOREFRONT, [60])[60].good

    answers.flush()  # whatever an earlier answer left pending
    before = good()
    for _ in range(5):
        answers({})
    answers.flush()  # the batch's thread does this within a second
    assert good() - before == 5
    answers.flush()
    assert good() - before == 5  # written once
