"""The back-office's catalog, CSV import and orders in headless Chromium, JavaScript off.

Production's server: `peakshop serve` (gunicorn) on the test's database and Redis, set up
and checked over its real JSON API; the browser is Debian's Chromium driven by Playwright.
Screenshots at 1280 px and 390 px land in the test's tmp folder, and in docs/images/ when
PEAKSHOP_SAVE_SCREENSHOTS=1 (once, from the SQLite run).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from tests.support.api import ADDRESS
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium, screenshot

pytestmark = [pytest.mark.slow, needs_chromium]
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
PASSWORD = "correct horse battery"
HEADER = "sku,name,description,category,price_amount,currency,stock\n"
_people = itertools.count(1)


class LiveShop:
    """A merchant signed up over the live server's JSON API, with its owner's e-mail."""

    def __init__(self, base: str):
        self.base = base
        self.email = f"browser-owner{next(_people)}@example.com"
        made = requests.post(f"{base}/api/v1/merchants", timeout=30, json={
            "name": "Nordpol Geschenke", "email": self.email, "password": PASSWORD})
        assert made.status_code == 201, made.text
        self.slug = made.json()["merchant"]["slug"]
        self.auth = {"Authorization": f"Bearer {made.json()['token']}"}

    def add_product(self, sku: str, name: str, price: int, stock: int, category: str) -> None:
        response = requests.post(f"{self.base}/api/v1/shops/{self.slug}/products", timeout=30,
                                 headers=self.auth, json={
                                     "sku": sku, "name": name, "category": category,
                                     "price": {"amount": price, "currency": "EUR"},
                                     "stock": stock})
        assert response.status_code == 201, response.text

    def buy(self, sku: str, token: str, email: str) -> str:
        cart = requests.post(f"{self.base}/api/v1/shops/{self.slug}/carts",
                             timeout=30).json()["cart_id"]
        requests.put(f"{self.base}/api/v1/carts/{cart}/items/{sku}", json={"quantity": 1},
                     timeout=30).raise_for_status()
        placed = requests.post(f"{self.base}/api/v1/carts/{cart}/checkout", timeout=30, json={
            "email": email, "shipping_address": ADDRESS,
            "payment": {"gateway": "dummy", "token": token}})
        assert placed.status_code == 201, placed.text
        return placed.json()["order_id"]

    def product(self, sku: str) -> requests.Response:
        return requests.get(f"{self.base}/api/v1/shops/{self.slug}/products/{sku}", timeout=30)


@pytest.fixture
def screenshots(request, tmp_path):
    """shoot(page, name): a full-page screenshot, kept in docs/images/ when asked for; on a
    phone it first checks that nothing sticks out sideways."""
    backend = request.node.callspec.params.get("database_url", "sqlite")

    def shoot(page, name: str) -> None:
        width = page.viewport_size["width"]
        assert page.locator("body").evaluate("body => body.scrollWidth") <= width, name
        path = tmp_path / f"backoffice-{name}.png"
        screenshot(page, path)
        if backend == "sqlite" and os.environ.get("PEAKSHOP_SAVE_SCREENSHOTS") == "1":
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS_IMAGES / path.name)

    return shoot


def test_a_merchant_runs_catalog_import_and_orders_in_the_browser(gunicorn_server, tmp_path,
                                                                  screenshots):
    from playwright.sync_api import expect, sync_playwright

    shop = LiveShop(gunicorn_server.url)
    shop.add_product("MUG", "Reindeer mug", 1250, 30, "Kitchen")
    shop.add_product("HAT", "Elf hat", 900, 4, "Clothing")
    paid = shop.buy("MUG", "tok_ok", "ada@example.com")
    failed = shop.buy("HAT", "tok_declined", "grace@example.com")
    bad_csv, good_csv = tmp_path / "bad.csv", tmp_path / "catalog.csv"
    bad_csv.write_text(HEADER + "CANDLE,Beeswax candle,Hand-dipped,Decor,650,EUR,25\n"
                                "BAUBLE,Glass bauble,,Decor,12.50,EUR,40\n")
    good_csv.write_text(HEADER + "CANDLE,Beeswax candle,Hand-dipped,Decor,650,EUR,25\n"
                                 "BAUBLE,Glass bauble,,Decor,1250,EUR,40\n")
    base = f"{gunicorn_server.url}/merchant/shops/{shop.slug}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            desktop = browser.new_context(viewport={"width": 1280, "height": 800},
                                          java_script_enabled=False)
            page = desktop.new_page()
            page.goto(f"{gunicorn_server.url}/merchant/sign-in")
            page.get_by_label("E-mail").fill(shop.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            nav = page.get_by_role("navigation", name="Back-office")
            nav.get_by_role("link", name="Products").click()

            # Create a product, then find it in the list.
            expect(page.get_by_role("heading", level=1)).to_have_text("Products")
            page.get_by_role("link", name="New product").click()
            page.get_by_label("SKU").fill("STAR")
            page.get_by_label("Name").fill("Tree star")
            page.get_by_label("Description").fill("Gold, 12 cm, for the very top.")
            page.get_by_label("Category").fill("Decor")
            page.get_by_label("Price").fill("25,99")
            page.get_by_label("Stock on hand").fill("40")
            page.get_by_role("button", name="Create product").click()
            expect(page.get_by_role("status")).to_have_text("Product created. It is on sale now.")
            assert shop.product("STAR").json()["price"]["amount"] == 2599
            nav.get_by_role("link", name="Products").click()
            expect(page.get_by_role("row", name=re.compile("Tree star"))).to_contain_text("€25.99")
            page.get_by_label("Search").fill("star")
            page.get_by_role("button", name="Search").click()
            expect(page.locator("tbody tr")).to_have_count(1)
            page.get_by_label("Search").fill("")
            page.get_by_role("button", name="Search").click()
            expect(page.locator("tbody tr")).to_have_count(3)
            screenshots(page, "products-desktop")
            page.get_by_role("link", name="Reindeer mug").click()
            expect(page.get_by_label("Stock on hand")).to_have_value("30")
            screenshots(page, "product-edit-desktop")

            # A CSV with one bad row: the dry run names it and creates nothing.
            nav.get_by_role("link", name="CSV import").click()
            page.get_by_label("CSV file").set_input_files(bad_csv)
            page.get_by_role("button", name="Check the file (dry run)").click()
            expect(page.get_by_role("heading", level=2).first).to_have_text(
                "Dry run of bad.csv: nothing has changed yet")
            errors = page.get_by_role("table", name=re.compile("Rows with errors"))
            expect(errors.get_by_role("row")).to_have_count(2)
            expect(errors.get_by_role("row").nth(1)).to_contain_text("3")
            expect(errors).to_contain_text("'price_amount' must be a whole number")
            screenshots(page, "import-dry-run-desktop")
            assert shop.product("CANDLE").status_code == 404
            # Fixed, it imports for real.
            page.get_by_label("CSV file").set_input_files(good_csv)
            page.get_by_role("button", name="Check the file (dry run)").click()
            expect(page.get_by_role("status")).to_contain_text("create 2 and update 0")
            page.get_by_role("button", name="Import 2 products").click()
            expect(page.get_by_role("status")).to_contain_text("Created 2 and updated 0")
            assert shop.product("BAUBLE").json()["price"]["amount"] == 1250
            assert shop.product("CANDLE").json()["available"] == 25

            # The orders list, filtered by status, leads to the order's page.
            nav.get_by_role("link", name="Orders").click()
            expect(page.locator("tbody tr")).to_have_count(2)
            screenshots(page, "orders-desktop")
            page.get_by_label("Status").select_option("payment_failed")
            page.get_by_role("button", name="Show").click()
            expect(page.locator("tbody tr")).to_have_count(1)
            page.locator("tbody").get_by_role("link").click()
            expect(page).to_have_url(re.compile(f"/orders/{failed}$"))
            expect(page.locator(".meta .badge")).to_have_text("Payment failed")
            expect(page.get_by_role("cell", name="Elf hat")).to_be_visible()
            screenshots(page, "order-desktop")
            page.goto(f"{base}/orders/{paid}")
            expect(page.get_by_test_id("order-total")).not_to_have_text("€0.00")

            # Keyboard: the first Tab reaches the skip link, and focus is drawn.
            page.goto(f"{base}/products")
            page.keyboard.press("Tab")
            focused = page.locator(":focus")
            expect(focused).to_have_text("Skip to content")
            assert focused.evaluate("e => getComputedStyle(e).outlineStyle") != "none"
            desktop.close()

            # The same pages on a 390 px phone.
            phone = browser.new_context(viewport={"width": 390, "height": 844},
                                        java_script_enabled=False,
                                        storage_state=None)
            page = phone.new_page()
            page.goto(f"{gunicorn_server.url}/merchant/sign-in")
            page.get_by_label("E-mail").fill(shop.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{base}/products")
            expect(page.get_by_text("Tree star")).to_be_visible()
            screenshots(page, "products-390")
            page.goto(f"{base}/products/STAR/edit")
            screenshots(page, "product-edit-390")
            page.goto(f"{base}/products/import")
            page.get_by_label("CSV file").set_input_files(bad_csv)
            page.get_by_role("button", name="Check the file (dry run)").click()
            expect(page.get_by_text("'price_amount' must be a whole number")).to_be_visible()
            screenshots(page, "import-dry-run-390")
            page.goto(f"{base}/orders")
            screenshots(page, "orders-390")
            phone.close()
        finally:
            browser.close()
