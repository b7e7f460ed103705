"""A demo shop for load tests, made and read through the public JSON API only.

`seed_demo_shop` signs a merchant up and lists a winter catalog plus one launch product
with little stock (the flash-sale item that sells out); `discover_catalog` reads any
existing shop's products back, so a load test can also run against a shop seeded elsewhere.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass

import requests

CATEGORIES = ("jumpers", "socks", "hats", "mittens", "candles", "ornaments")
MATERIALS = ("wool", "cashmere", "linen", "alpaca", "cotton", "felt", "glass", "beeswax")
STYLES = ("nordic", "alpine", "classic", "festive", "cosy", "midnight")
LAUNCH_SKU = "LAUNCH-REINDEER-JUMPER"
DEFAULT_PRODUCTS = 48
DEFAULT_STOCK = 100_000     # the regular catalog never runs out during a rehearsal
DEFAULT_LAUNCH_STOCK = 25   # the launch product sells out and gets restocked
RESTOCK_UNITS = 10          # the batch the merchant persona adds to it
PASSWORD = "load-test-password"
TIMEOUT_S = 30


class SeedError(RuntimeError):
    """The shop refused a seeding call; the message carries its status and problem detail."""


@dataclass(frozen=True)
class Catalog:
    """What shoppers pick from: SKUs, categories, search words, and the product in demand."""

    skus: tuple[str, ...]
    categories: tuple[str, ...]
    search_words: tuple[str, ...]
    hot_sku: str


@dataclass(frozen=True)
class DemoShop:
    slug: str
    merchant_token: str | None
    catalog: Catalog

    def to_json(self) -> dict:
        """A JSON-friendly dict (sent from Locust's master to its workers)."""
        return {"slug": self.slug, "merchant_token": self.merchant_token,
                "catalog": {"skus": list(self.catalog.skus),
                            "categories": list(self.catalog.categories),
                            "search_words": list(self.catalog.search_words),
                            "hot_sku": self.catalog.hot_sku}}

    @classmethod
    def from_json(cls, body: dict) -> DemoShop:
        catalog = body["catalog"]
        return cls(slug=body["slug"], merchant_token=body.get("merchant_token"),
                   catalog=Catalog(tuple(catalog["skus"]), tuple(catalog["categories"]),
                                   tuple(catalog["search_words"]), catalog["hot_sku"]))


def demo_products(count: int = DEFAULT_PRODUCTS, stock: int = DEFAULT_STOCK,
                  launch_stock: int = DEFAULT_LAUNCH_STOCK) -> list[dict]:
    """The product bodies to POST: `count` regular products, then the launch product."""
    combinations = itertools.product(STYLES, MATERIALS, CATEGORIES)
    products = []
    for number, (style, material, category) in zip(range(count), combinations, strict=False):
        products.append({
            "sku": f"{category[:3].upper()}-{number:04d}",
            "name": f"{style.title()} {material} {category.rstrip('s')}",
            "description": f"A {style} {category.rstrip('s')} in {material}, made to last.",
            "category": category,
            "price": {"amount": 990 + 250 * (number % 37), "currency": "EUR"},
            "stock": stock,
        })
    products.append({"sku": LAUNCH_SKU, "name": "Limited reindeer jumper",
                     "description": "This season's launch: a numbered edition.",
                     "category": "jumpers", "price": {"amount": 8900, "currency": "EUR"},
                     "stock": launch_stock})
    return products


def _api(base_url: str) -> str:
    return base_url.rstrip("/") + "/api/v1"


def _expect(response: requests.Response, status: int, what: str) -> dict:
    if response.status_code != status:
        detail = response.text[:300].replace("\n", " ")
        raise SeedError(f"{what} answered {response.status_code} (expected {status}): {detail}")
    return response.json()


def sign_up(base_url: str, name: str, session: requests.Session) -> tuple[str, str]:
    """Create a merchant; returns (slug, token)."""
    body = _expect(session.post(_api(base_url) + "/merchants", timeout=TIMEOUT_S, json={
        "name": name, "email": f"owner-{uuid.uuid4().hex[:12]}@loadtest.example",
        "password": PASSWORD}), 201, "POST /api/v1/merchants")
    return body["merchant"]["slug"], body["token"]


def seed_demo_shop(base_url: str, *, name: str = "Nordpol Winter Store",
                   products: int = DEFAULT_PRODUCTS,
                   launch_stock: int = DEFAULT_LAUNCH_STOCK) -> DemoShop:
    """Sign a merchant up and list the demo catalog; raises SeedError if the shop refuses."""
    with requests.Session() as session:
        slug, token = sign_up(base_url, name, session)
        headers = {"Authorization": f"Bearer {token}"}
        for product in demo_products(products, launch_stock=launch_stock):
            _expect(session.post(f"{_api(base_url)}/shops/{slug}/products", json=product,
                                 headers=headers, timeout=TIMEOUT_S),
                    201, f"POST /api/v1/shops/{slug}/products")
    return DemoShop(slug, token, discover_catalog(base_url, slug))


def _words(names: list[str]) -> tuple[str, ...]:
    words = {word.lower() for name in names for word in re.findall(r"[A-Za-z]{4,}", name)}
    return tuple(sorted(words))


def discover_catalog(base_url: str, slug: str, max_pages: int = 20) -> Catalog:
    """Read a shop's products back (paging with the cursor) into a Catalog.

    The product in demand is the launch SKU when the shop has it, else the one with the
    fewest units available, so any shop gets a product that can sell out.
    """
    items: list[dict] = []
    cursor = None
    with requests.Session() as session:
        for _ in range(max_pages):
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = _expect(session.get(f"{_api(base_url)}/shops/{slug}/products", params=params,
                                       timeout=TIMEOUT_S),
                           200, f"GET /api/v1/shops/{slug}/products")
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    if not items:
        raise SeedError(f"shop {slug!r} has no products: seed it first (POST products) or "
                        "let the load test create a demo shop")
    skus = tuple(item["sku"] for item in items)
    hot = LAUNCH_SKU if LAUNCH_SKU in skus else min(items, key=lambda i: i["available"])["sku"]
    categories = tuple(sorted({item["category"] for item in items if item.get("category")}))
    return Catalog(skus=skus, categories=categories,
                   search_words=_words([item["name"] for item in items]), hot_sku=hot)
