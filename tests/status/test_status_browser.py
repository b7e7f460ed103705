"""The status page with an open incident in headless Chromium, on a desktop and a 390 px phone.

Debian's Chromium driven by Playwright; the app behind werkzeug's HTTP server on loopback, on
the suite's real Redis and database. The screenshots are kept in docs/images/ for review.
"""

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.status.conftest import OPS, open_incident
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium, screenshot, served

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"

pytestmark = needs_chromium


@pytest.fixture
def live_server(app):
    """The app behind a real HTTP server on a free loopback port."""
    yield from served(app)


def test_the_status_page_with_an_open_incident(live_server, client, request):
    from playwright.sync_api import expect, sync_playwright

    old = open_incident(client, title="Order e-mails were delayed", components=["e-mail"],
                        message="Our mail provider queued messages.")
    client.post(f"/api/v1/ops/incidents/{old['id']}/updates", headers=OPS,
                json={"message": "All delayed e-mails have been sent.", "status": "resolved"})
    eta = (datetime.now(UTC) + timedelta(minutes=90)).isoformat()
    current = open_incident(client, title="Checkout and payments are failing",
                            components=["checkout", "payments"], impact="outage", eta=eta,
                            message="Our card processor is not answering.")
    client.post(f"/api/v1/ops/incidents/{current['id']}/updates", headers=OPS,
                json={"message": "We are switching to our backup card processor.",
                      "status": "identified"})
    backend = request.node.callspec.params.get("database_url", "sqlite")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, width in (("desktop", 1280), ("390", 390)):
                page = browser.new_page(viewport={"width": width, "height": 900},
                                        java_script_enabled=False)
                page.goto(f"{live_server}/status")
                expect(page).to_have_title("Service status · peakshop")
                expect(page.get_by_role("heading", level=1)).to_have_text("Service status")
                expect(page.locator(".sp-summary")).to_contain_text(
                    "Something is not working at the moment.")
                incident = page.get_by_role("article", name="Checkout and payments are failing")
                expect(incident).to_contain_text("We are sorry.")
                expect(incident).to_contain_text("backup card processor")
                expect(incident.locator("dd").nth(0)).to_have_text("Cause found")
                expect(page.get_by_role("heading", name="Recently resolved")).to_be_visible()
                # Nothing sticks out sideways on a phone.
                scroll_width = page.locator("body").evaluate("body => body.scrollWidth")
                assert scroll_width <= width
                shot = request.getfixturevalue("tmp_path") / f"status-{name}.png"
                screenshot(page, shot)
                # The pictures in docs/ change only when asked for, once (from SQLite).
                if backend == "sqlite" and os.environ.get("PEAKSHOP_SAVE_SCREENSHOTS") == "1":
                    IMAGES.mkdir(parents=True, exist_ok=True)
                    shutil.copy(shot, IMAGES / shot.name)
                page.close()
        finally:
            browser.close()
