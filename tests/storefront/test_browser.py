"""A shopper buys a product in headless Chromium, against the app on a real HTTP server.

The browser is Debian's Chromium driven by Playwright; the app is served by werkzeug's HTTP
server on loopback, on the suite's real Redis and database. Screenshots of the product and
order pages land in the test's tmp folder.
"""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium, screenshot, served

pytestmark = needs_chromium


@pytest.fixture
def live_server(app):
    """The app behind a real HTTP server on a free loopback port."""
    yield from served(app)


def test_a_shopper_buys_a_product_in_the_browser(live_server, api, shop, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=3,
                    category="Kitchen")
    api.add_product(shop, "HAT", name="Elf hat", price=900, stock=40, category="Clothing")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(f"{live_server}/shops/{shop.slug}/")
            expect(page).to_have_title("Nordpol Geschenke · peakshop")
            page.get_by_role("link", name="Reindeer mug").click()

            expect(page.get_by_role("heading", name="Reindeer mug")).to_be_visible()
            expect(page.locator(".product .price")).to_have_text("€12.50 incl. VAT")
            expect(page.locator(".product .stock")).to_have_text("3 left")
            screenshot(page, tmp_path / "product.png")
            page.get_by_label("Quantity").fill("2")
            page.get_by_role("button", name="Add to cart").click()

            expect(page).to_have_url(re.compile(r"/cart$"))
            expect(page.locator(".cart .total")).to_have_text("€25.00")
            page.get_by_role("link", name="Go to checkout").click()

            expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
            page.get_by_label("E-mail").fill("ada@example.com")
            page.get_by_label("Full name").fill("Ada Lovelace")
            page.get_by_label("Address", exact=True).fill("1 Frost Lane")
            page.get_by_label("Postal code").fill("96930")
            page.get_by_label("City").fill("Rovaniemi")
            page.get_by_label("Country").select_option("FI")
            page.get_by_role("button", name="Update delivery").click()
            expect(page.get_by_text("Delivery to Finland")).to_be_visible()
            page.get_by_label("Test card").select_option("tok_ok")
            expect(page.get_by_test_id("order-total")).to_have_text("€25.00")
            page.get_by_role("button", name="Place order and pay").click()

            expect(page.locator(".status-title")).to_have_text(re.compile("Paid|Confirmed"))
            expect(page.get_by_role("cell", name="€25.00").first).to_be_visible()
            screenshot(page, tmp_path / "order.png")
            order_url = urlsplit(page.url)
        finally:
            browser.close()
    order = api.order(order_url.path.rsplit("/", 1)[1],
                      parse_qs(order_url.query)["token"][0]).get_json()
    assert order["status"] in ("paid", "confirmed")
    assert order["email"] == "ada@example.com" and order["total"]["amount"] == 2500
    assert (tmp_path / "product.png").stat().st_size > 0
    assert (tmp_path / "order.png").stat().st_size > 0
