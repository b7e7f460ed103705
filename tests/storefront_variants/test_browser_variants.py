"""A shopper picks a size, sees delivery options with dates and VAT, and pays, in Chromium.

Debian's Chromium driven by Playwright, against the app on werkzeug's HTTP server on
loopback with the suite's real Redis and database. Screenshots (desktop and a 390 px phone)
go to the test's tmp folder, and to PEAKSHOP_SCREENSHOT_DIR when set (docs/images).
"""

import os
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium, screenshot, served

pytestmark = needs_chromium


@pytest.fixture
def live_server(app):
    """The app behind a real HTTP server on a free loopback port."""
    yield from served(app)


def stock_the_shop(api, shop):
    for carrier in ({"name": "Post", "daily_capacity": 100, "transit_days": 3, "priority": 0,
                     "origin_country": "DE", "domestic_rate": 390, "eu_rate": 690,
                     "world_rate": 1990, "free_shipping_over": 10000},
                    {"name": "Express", "daily_capacity": 20, "transit_days": 1, "priority": 1,
                     "origin_country": "DE", "domestic_rate": 990, "eu_rate": 1490,
                     "world_rate": 3990, "cutoff_hour": 24}):
        assert api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                               json=carrier).status_code == 201
    created = api.client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth, json={
        "sku": "SOCK", "name": "Wool socks", "category": "Clothing",
        "description": "Thick merino socks for cold December mornings.",
        "price": {"amount": 1290, "currency": "EUR"},
        "variants": [{"sku": f"SOCK-{size}", "options": {"size": str(size)},
                      "stock": 0 if size == 36 else 4} for size in range(36, 47, 2)]})
    assert created.status_code == 201, created.get_json()


def test_choose_a_size_and_a_delivery_then_pay(live_server, api, shop, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    stock_the_shop(api, shop)
    shots = tmp_path
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, viewport in (("desktop", {"width": 1200, "height": 900}),
                                   ("mobile", {"width": 390, "height": 844})):
                page = browser.new_page(viewport=viewport)
                page.goto(f"{live_server}/shops/{shop.slug}/products/SOCK")
                expect(page.get_by_role("heading", name="Wool socks")).to_be_visible()
                size = page.get_by_label("Size")
                expect(size.locator("option[value='SOCK-36']")).to_be_disabled()
                size.select_option("SOCK-42")
                screenshot(page, shots / f"storefront-product-{name}.png")
                page.get_by_role("button", name="Add to cart").click()

                expect(page).to_have_url(re.compile(r"/cart$"))
                expect(page.get_by_role("link", name="Wool socks (size 42)")).to_be_visible()
                page.get_by_label("Country").select_option("FR")
                page.get_by_role("button", name="Show delivery").click()
                expect(page.locator(".shipping-estimate")).to_contain_text("Express")
                expect(page.locator(".shipping-estimate")).to_contain_text("€6.90")
                screenshot(page, shots / f"storefront-cart-{name}.png")
                page.get_by_role("link", name="Go to checkout").click()

                page.get_by_label("E-mail").fill("ada@example.com")
                page.get_by_label("Full name").fill("Ada Lovelace")
                page.get_by_label("Address", exact=True).fill("1 rue du Givre")
                page.get_by_label("Postal code").fill("75001")
                page.get_by_label("City").fill("Paris")
                page.get_by_label("Country").select_option("FR")
                page.get_by_role("button", name="Update delivery").click()
                expect(page.get_by_text("Delivery to France")).to_be_visible()
                expect(page.get_by_label("E-mail")).to_have_value("ada@example.com")
                page.locator(".delivery-options label", has_text="Express").click()
                page.get_by_role("button", name="Update delivery").click()
                # 12.90 + 14.90 = 27.80, of which French VAT 20 %: 2.15 + 2.48.
                expect(page.get_by_test_id("order-total")).to_have_text("€27.80")
                expect(page.locator(".summary .vat")).to_contain_text("€4.63 VAT (20 % for France)")
                screenshot(page, shots / f"storefront-checkout-{name}.png")
                page.get_by_role("button", name="Place order and pay").click()

                expect(page.locator(".status-title")).to_have_text(re.compile("Paid|Confirmed"))
                order_url = urlsplit(page.url)
                page.close()
                order = api.order(order_url.path.rsplit("/", 1)[1],
                                  parse_qs(order_url.query)["token"][0]).get_json()
                assert order["items"][0]["sku"] == "SOCK-42"
                assert order["total"]["amount"] == 2780
                assert order["shipping"]["carrier"] == "Express"
                assert order["shipping"]["price"]["amount"] == 1490
                assert order["tax"]["amount"] == 215 + 248
        finally:
            browser.close()
    target = os.environ.get("PEAKSHOP_SCREENSHOT_DIR")
    for shot in sorted(shots.glob("storefront-*.png")):
        assert shot.stat().st_size > 0
        if target:
            shutil.copy(shot, Path(target) / shot.name)
    assert len(list(shots.glob("storefront-*.png"))) == 6
