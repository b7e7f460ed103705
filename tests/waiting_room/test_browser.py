"""The waiting page in headless Chromium, with JavaScript off: what a shopper in line sees.

The app runs behind werkzeug's HTTP server on loopback (the suite's real Redis and database);
the browser is Debian's Chromium driven by Playwright. Screenshots at desktop width and at
390 px (a phone) land in the test's tmp folder, and in docs/images/ when
PEAKSHOP_SAVE_SCREENSHOTS=1.
"""

import re

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, keep, needs_chromium, served

pytestmark = [pytest.mark.slow,
              needs_chromium]


@pytest.fixture
def live_server(app):
    """The app behind a real HTTP server on a free loopback port."""
    yield from served(app)


def test_a_shopper_waits_in_line_without_javascript(live_server, api, stocked_shop,
                                                    switch_room, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    switch_room(stocked_shop, "on", 0.01)
    shop_url = f"{live_server}/shops/{stocked_shop.slug}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            desktop = browser.new_context(viewport={"width": 1280, "height": 800},
                                          java_script_enabled=False)
            page = desktop.new_page()
            response = page.goto(shop_url)
            assert response.status == 503
            expect(page).to_have_title("You are in line · peakshop")
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "You are in line for Nordpol Geschenke")
            figures = page.get_by_role("status")
            expect(figures).to_contain_text("Your place in line")
            expect(figures).to_contain_text("Estimated wait")
            expect(page.locator(".waiting-figures dd").first).to_have_text("1")
            expect(page.locator(".waiting-figures dd").nth(1)).to_have_text("about 2 minutes")
            refresh = page.locator('meta[http-equiv="refresh"]').get_attribute("content")
            assert int(refresh) == int(response.headers["retry-after"])
            status_link = page.locator("#main").get_by_role("link", name="Service status")
            expect(status_link).to_have_attribute("href", "/status")
            assert page.locator("html").get_attribute("lang") == "en"
            page.screenshot(path=tmp_path / "waiting-room-desktop.png", full_page=True)

            # Reloading keeps the place; another visitor queues behind.
            page.reload()
            expect(page.locator(".waiting-figures dd").first).to_have_text("1")
            phone = browser.new_context(viewport={"width": 390, "height": 844},
                                        java_script_enabled=False, is_mobile=True)
            other = phone.new_page()
            other.goto(shop_url)
            expect(other.locator(".waiting-figures dd").first).to_have_text("2")
            for box in (other.locator(".waiting-figures div").nth(i).bounding_box()
                        for i in range(2)):
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390   # no side-scrolling
            other.screenshot(path=tmp_path / "waiting-room-390.png", full_page=True)

            # When the line reaches them, the same address opens the shop.
            switch_room(stocked_shop, "off")
            page.reload()
            expect(page.get_by_role("heading", level=1)).not_to_have_text(
                re.compile("in line"))
        finally:
            browser.close()
    for name in ("waiting-room-desktop.png", "waiting-room-390.png"):
        assert (tmp_path / name).stat().st_size > 5000
        keep(tmp_path / name)
