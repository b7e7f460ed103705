"""Product images in headless Chromium: the browser picks the srcset candidate that fits.

The app runs behind werkzeug's HTTP server on loopback (the suite's real Redis and database);
the browser is Debian's Chromium driven by Playwright. The pictures are the demo shop's, drawn
with Pillow. Screenshots (desktop, and a 390 px phone) land in the test's tmp folder, and in
docs/images/ when PEAKSHOP_SAVE_SCREENSHOTS=1.
"""

from __future__ import annotations

import pytest

from shop.images.demo_pictures import golden_star, red_bauble
from tests.images.support import upload
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, keep, needs_chromium, screenshot, served

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def live_server(app):
    yield from served(app)


# (screenshot name or None, viewport, device pixel ratio, the width the browser should load):
# the main image is about 29rem wide on a desktop, the screen's width less 5rem on a phone.
SCREENS = [
    ("desktop", {"width": 1280, "height": 900}, 1, 640),
    ("390", {"width": 390, "height": 844}, 1, 320),
    (None, {"width": 390, "height": 844}, 3, 1280),
]


def test_the_product_page_loads_the_fitting_width(live_server, api, shop, client, tmp_path,
                                                 database_url):
    from playwright.sync_api import expect, sync_playwright

    api.add_product(shop, "STAR-GOLD", name="Golden tree star", price=2599, stock=40,
                    category="decor")
    api.add_product(shop, "BAUBLE-RED", name="Red glass bauble (set of 6)", price=1850,
                    stock=120, category="decor")
    api.add_product(shop, "CANDLE", name="Beeswax candles (4)", price=1200, stock=80,
                    category="light")
    star = upload(client, shop, "STAR-GOLD", golden_star(),
                  alt="A golden star glowing on a dark blue night sky").get_json()
    upload(client, shop, "STAR-GOLD", red_bauble(), alt="The star beside a red bauble")
    upload(client, shop, "BAUBLE-RED", red_bauble(), alt="A shiny red glass bauble")
    url_of = {source["width"]: source["url"].split("localhost", 1)[1]
              for source in star["sources"]}
    save = database_url.startswith("sqlite")  # one set of screenshots, not one per database
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, viewport, ratio, width in SCREENS:
                # A fresh context each time: a wider candidate in the cache may be reused.
                context = browser.new_context(viewport=viewport, device_scale_factor=ratio)
                page = context.new_page()
                page.goto(f"{live_server}/shops/{shop.slug}/products/STAR-GOLD")
                main = page.locator("img.main-image")
                expect(main).to_have_attribute("alt", star["alt"])
                expect(main).to_have_js_property("complete", True)
                # currentSrc is the candidate chosen (naturalWidth is density-corrected, in
                # CSS pixels, so it says less).
                loaded = main.evaluate("img => img.currentSrc")
                assert loaded == live_server + url_of[width], (name, ratio, loaded)
                if name:
                    shot = tmp_path / f"storefront-product-image-{name}.png"
                    screenshot(page, shot)
                    if save:
                        keep(shot)
                if name == "desktop":
                    page.goto(f"{live_server}/shops/{shop.slug}/")
                    cards = page.locator(".card-image img")
                    expect(cards).to_have_count(2)
                    for index in range(2):
                        cards.nth(index).scroll_into_view_if_needed()
                        expect(cards.nth(index)).to_have_js_property("complete", True)
                        assert cards.nth(index).evaluate("img => img.naturalWidth") > 0
                    shot = tmp_path / "storefront-product-image-catalog-desktop.png"
                    screenshot(page, shot)
                    if save:
                        keep(shot)
                context.close()
        finally:
            browser.close()


def test_the_merchant_reorders_and_describes_images_in_the_back_office(
        live_server, api, shop, client, tmp_path, database_url):
    """JavaScript off, as in the rest of the back-office: plain forms do it all."""
    from playwright.sync_api import expect, sync_playwright

    api.add_product(shop, "STAR-GOLD", name="Golden tree star", price=2599, stock=40)
    star = upload(client, shop, "STAR-GOLD", golden_star(), alt="A golden star").get_json()
    bauble = upload(client, shop, "STAR-GOLD", red_bauble(), alt="Star and bauble").get_json()
    email = client.get(f"/api/v1/shops/{shop.slug}/collaborators",
                       headers=shop.auth).get_json()["items"][0]["email"]
    save = database_url.startswith("sqlite")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, viewport in (("desktop", {"width": 1280, "height": 900}),
                                   ("390", {"width": 390, "height": 844})):
                context = browser.new_context(viewport=viewport, java_script_enabled=False)
                page = context.new_page()
                page.goto(f"{live_server}/merchant/sign-in")
                page.get_by_label("E-mail").fill(email)
                page.get_by_label("Password").fill("correct horse battery")
                page.get_by_role("button", name="Sign in").click()
                page.goto(f"{live_server}/merchant/shops/{shop.slug}/products/STAR-GOLD/edit")
                second = page.locator(f"#image-{bauble['id']}")
                if name == "desktop":
                    second.get_by_label("Description (alt text)").fill(
                        "The golden star beside a red glass bauble")
                    second.get_by_label("Place").select_option("1")
                    second.get_by_role("button", name="Save image").click()
                    expect(page.get_by_role("status")).to_have_text("Image saved.")
                images = page.locator(".bo-image img")
                expect(images).to_have_count(2)
                expect(images.first).to_have_attribute(
                    "alt", "The golden star beside a red glass bauble")
                assert page.locator("body").evaluate("b => b.scrollWidth") <= viewport["width"]
                page.locator("#images").scroll_into_view_if_needed()
                shot = tmp_path / f"backoffice-product-images-{name}.png"
                screenshot(page, shot)
                if save:
                    keep(shot)
                context.close()
        finally:
            browser.close()
    product = client.get(f"/api/v1/shops/{shop.slug}/products/STAR-GOLD").get_json()
    assert [(image["id"], image["position"]) for image in product["images"]] == [
        (bauble["id"], 0), (star["id"], 1)]
