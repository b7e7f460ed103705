"""A shopper in line in headless Chromium, with JavaScript off: the steps and checks shared by
the app's waiting page (tests/waiting_room/test_browser.py) and the gate's
(tests/edge/test_waiting_page_at_the_gate.py), which must be the same page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, screenshot


def shopper_waits_in_line(shop_url: str, shop_name: str, switch_off: Callable[[], None],
                          screenshots: Path, served_by: str | None = None) -> None:
    """With the shop's room on at 0.01 visitors/s and an empty line: the first visitor is
    number 1, keeps it on reload, the next is number 2 (on a phone), and once the room is
    off the same address opens the shop. `served_by`: the Server header the waiting page
    must carry."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            desktop = browser.new_context(viewport={"width": 1280, "height": 800},
                                          java_script_enabled=False)
            page = desktop.new_page()
            response = page.goto(shop_url)
            assert response.status == 503
            if served_by is not None:
                assert response.headers["server"] == served_by
            expect(page).to_have_title("You are in line · peakshop")
            expect(page.get_by_role("heading", level=1)).to_have_text(
                f"You are in line for {shop_name}")
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
            # The stylesheet loads (through the gate too): the figures sit side by side.
            boxes = [page.locator(".waiting-figures div").nth(i).bounding_box()
                     for i in range(2)]
            assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] < boxes[1]["x"]
            screenshot(page, screenshots / "waiting-room-desktop.png")

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
            screenshot(other, screenshots / "waiting-room-390.png")

            # When the line reaches them, the same address opens the shop.
            switch_off()
            page.reload()
            expect(page.get_by_role("heading", level=1)).not_to_have_text(
                re.compile("in line"))
        finally:
            browser.close()
    for name in ("waiting-room-desktop.png", "waiting-room-390.png"):
        assert (screenshots / name).stat().st_size > 5000
