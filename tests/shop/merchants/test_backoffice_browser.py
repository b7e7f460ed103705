"""The back-office in headless Chromium, JavaScript off, against `peakshop serve` (gunicorn).

Debian's Chromium driven by Playwright; the storefront runs under gunicorn on the suite's
real Redis and database, and the JSON API is called over real HTTP with `requests`.
Screenshots at 1280 px and 390 px land in the test's tmp folder, and in docs/images/ when
PEAKSHOP_SAVE_SCREENSHOTS=1 (from the SQLite run).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium, screenshot

pytestmark = [pytest.mark.slow, needs_chromium]

DOCS_IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"
PASSWORD = "correct horse battery"
WIDTHS = {"desktop": 1280, "390": 390}
_people = itertools.count(1)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Owner:
    """A shop signed up over the JSON API of the live server."""

    def __init__(self, base_url: str, name: str = "Nordpol Geschenke"):
        self.base_url = base_url
        self.email = f"owner{next(_people)}@example.com"
        response = requests.post(f"{base_url}/api/v1/merchants", timeout=30, json={
            "name": name, "email": self.email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        body = response.json()
        self.slug, self.token = body["merchant"]["slug"], body["token"]

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        return requests.request(method, f"{self.base_url}/api/v1/shops/{self.slug}{path}",
                                headers={"Authorization": f"Bearer {token or self.token}"},
                                timeout=30, **kwargs)


def _page(browser, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  java_script_enabled=False)
    return context.new_page()


def _sign_in(page, base_url: str, email: str):
    from playwright.sync_api import expect

    page.goto(f"{base_url}/merchant/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def test_an_invited_viewer_joins_signs_in_and_is_refused_a_write(gunicorn_server, browser):
    from playwright.sync_api import expect

    base = gunicorn_server.url
    owner = Owner(base)
    page = _page(browser)
    _sign_in(page, base, owner.email)
    page.get_by_role("navigation", name="Back-office sections").get_by_role(
        "link", name="Team").click()
    page.get_by_label("E-mail of the person to invite").fill("vera@example.com")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("status")).to_contain_text("vera@example.com is invited as viewer")
    link = page.get_by_label("Invitation link").input_value()
    expect(page.locator("#main")).to_contain_text("invited")

    vera = _page(browser, 390)
    vera.goto(link)
    expect(vera.get_by_role("heading", level=1)).to_have_text("Join Nordpol Geschenke")
    vera.get_by_label("Choose a password").fill("vera's own secret")
    vera.get_by_label("Type it again").fill("vera's own secret")
    vera.get_by_role("button", name="Join Nordpol Geschenke").click()
    expect(vera.locator(".lead")).to_contain_text("vera@example.com, viewer of this shop")
    vera.get_by_role("button", name="Sign out").click()
    expect(vera.get_by_role("heading", level=1)).to_have_text("Sign in")
    vera.get_by_label("E-mail").fill("vera@example.com")
    vera.get_by_label("Password").fill("vera's own secret")
    vera.get_by_role("button", name="Sign in").click()
    expect(vera.locator(".lead")).to_contain_text("viewer of this shop")
    expect(vera.get_by_role("link", name="Announce an event")).to_have_count(0)

    # The form is readable by URL; sending it is a write the door refuses.
    vera.goto(f"{base}/merchant/shops/{owner.slug}/events/new")
    vera.get_by_label("Name").fill("Sneaky sale")
    vera.get_by_label("Starts at").fill("2099-12-20T18:00")
    vera.get_by_label("Duration (minutes)").fill("60")
    vera.get_by_label("Expected peak (requests per second)").fill("50")
    with vera.expect_response(lambda r: r.request.method == "POST") as sent:
        vera.get_by_role("button", name="Announce").click()
    assert sent.value.status == 403
    expect(vera.get_by_role("heading", level=1)).to_have_text("Forbidden")
    expect(vera.get_by_role("alert")).to_contain_text("a viewer cannot do this")
    assert owner.call("GET", "/events").json()["items"] == []


def test_a_token_revoked_on_the_tokens_page_is_refused_by_the_api(gunicorn_server, browser):
    from playwright.sync_api import expect

    base = gunicorn_server.url
    owner = Owner(base)
    issued = requests.post(f"{base}/api/v1/tokens", timeout=30,
                           json={"email": owner.email, "password": PASSWORD}).json()
    assert owner.call("GET", "/orders", issued["token"]).status_code == 200
    page = _page(browser)
    _sign_in(page, base, owner.email)
    page.get_by_role("link", name="Tokens").first.click()
    row = page.locator(f"#token-{issued['token_id']}")
    expect(row).to_contain_text(owner.email)
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API tokens")
    expect(page.locator(f"#token-{issued['token_id']}")).to_have_count(0)
    refused = owner.call("GET", "/orders", issued["token"])
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    assert owner.call("GET", "/orders").status_code == 200  # the others still work


def test_an_event_announced_on_its_page_shows_its_capacity_on_the_dashboard(gunicorn_server,
                                                                             browser):
    from playwright.sync_api import expect

    base = gunicorn_server.url
    owner = Owner(base)
    page = _page(browser)
    _sign_in(page, base, owner.email)
    page.get_by_role("link", name="Events").first.click()
    page.get_by_role("link", name="Announce an event").click()
    page.get_by_label("Name").fill("Winter launch")
    page.get_by_label("Starts at").fill("2099-12-20T18:00")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Duration (minutes)").fill("90")
    page.get_by_label("Expected peak (requests per second)").fill("100")
    page.get_by_role("button", name="Announce").click()
    expect(page.locator("#main")).to_contain_text("Winter launch")
    page.get_by_role("link", name="Dashboard").click()
    row = page.locator("#coming-events ~ table tbody tr", has_text="Winter launch")
    expect(row.locator('td[data-label="Starts (UTC)"]')).to_have_text("2099-12-20 17:00")
    expect(row.locator('td[data-label="Web replicas planned"]')).to_have_text("4")
    [event] = owner.call("GET", "/events").json()["items"]
    assert event["planned_capacity"]["web_replicas"] == 4


def _seed_a_busy_shop(owner: Owner) -> str:
    """Products (two running low), two paid orders, events, a carrier and a team, over the
    JSON API; returns the link of the invitation still open."""
    base = owner.base_url
    for sku, name, stock in (("STAR", "Tree star", 3), ("BAUBLE", "Glass bauble", 80),
                             ("CANDLE", "Beeswax candle", 5)):
        assert owner.call("POST", "/products", json={
            "sku": sku, "name": name, "price": {"amount": 2599, "currency": "EUR"},
            "stock": stock}).status_code == 201
    for sku in ("STAR", "BAUBLE"):
        cart = requests.post(f"{base}/api/v1/shops/{owner.slug}/carts", timeout=30).json()
        requests.put(f"{base}/api/v1/carts/{cart['cart_id']}/items/{sku}", json={
            "quantity": 1}, timeout=30)
        paid = requests.post(f"{base}/api/v1/carts/{cart['cart_id']}/checkout", timeout=30,
                             json={"email": "ada@example.com", "shipping_address": {
                                 "name": "Ada", "line1": "1 Frost Lane", "city": "Rovaniemi",
                                 "postal_code": "96930", "country": "FI"},
                                 "payment": {"gateway": "dummy", "token": "tok_ok"}})
        assert paid.status_code == 201, paid.text
    for name, start, peak in (("Black Friday doorbuster", "2099-11-27T00:00:00-05:00", 900),
                              ("Advent mail blast", "2099-12-01T07:00:00+01:00", 250)):
        assert owner.call("POST", "/events", json={
            "name": name, "starts_at": start, "duration_min": 120,
            "expected_peak_rps": peak}).status_code == 201
    for email, role in (("mia@example.com", "manager"), ("sam@example.com", "staff")):
        assert owner.call("POST", "/collaborators", json={
            "email": email, "role": role, "password": PASSWORD}).status_code == 201
    assert owner.call("POST", "/carriers", json={
        "name": "Reindeer Express", "daily_capacity": 40, "origin_country": "FI",
        "domestic_rate": 490, "eu_rate": 990, "world_rate": 1990,
        "cutoff_hour": 15}).status_code == 201
    invited = owner.call("POST", "/collaborators", json={
        "email": "vera@example.com", "role": "viewer"})
    assert invited.status_code == 201
    return invited.json()["invitation"]["accept_page_url"]


def test_the_back_office_fits_a_desktop_and_a_phone(gunicorn_server, browser, request,
                                                    tmp_path):
    from playwright.sync_api import expect

    base = gunicorn_server.url
    owner = Owner(base)
    invitation = _seed_a_busy_shop(owner)
    backend = request.node.callspec.params.get("database_url", "sqlite")
    save = backend == "sqlite" and os.environ.get("PEAKSHOP_SAVE_SCREENSHOTS") == "1"
    shop_url = f"{base}/merchant/shops/{owner.slug}"
    # The four kept in docs/, then the other pages, checked the same way.
    pages = {"dashboard": f"{shop_url}/", "team": f"{shop_url}/team",
             "tokens": f"{shop_url}/tokens", "events": f"{shop_url}/events",
             "event-form": f"{shop_url}/events/new", "carriers": f"{shop_url}/carriers",
             "plan": f"{shop_url}/plan", "audit": f"{shop_url}/audit",
             "invitation": invitation}
    documented = {"dashboard", "team", "tokens", "events"}
    for size, width in WIDTHS.items():
        page = _page(browser, width)
        _sign_in(page, base, owner.email)
        # The keyboard reaches the skip link first, then the sections, with a visible ring.
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        page.keyboard.press("Tab")
        focused = page.get_by_role("link", name="Dashboard").first
        expect(focused).to_be_focused()
        # A visible ring: our solid outline, or the browser's own focus ring ("auto").
        assert focused.evaluate("a => getComputedStyle(a).outlineStyle") in ("solid", "auto")
        for name, url in pages.items():
            page.goto(url)
            expect(page.locator("h1")).to_be_visible()
            scroll_width = page.locator("body").evaluate("body => body.scrollWidth")
            assert scroll_width <= width, f"{name} is wider than {width} px"
            fields = "main input:not([type=hidden]):not([hidden]), main select"
            for field in page.locator(fields).all():
                field_id = field.get_attribute("id")
                assert field_id and page.locator(f'label[for="{field_id}"]').count() == 1, (
                    f"{name}: an input without its label")
            shot = tmp_path / f"backoffice-{name}-{size}.png"
            screenshot(page, shot)
            assert shot.stat().st_size > 0
            if save and name in documented:
                DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, DOCS_IMAGES / shot.name)
        page.context.close()
