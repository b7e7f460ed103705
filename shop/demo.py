"""A demo shop for a first run, so `peakshop up` opens onto something to buy."""

from __future__ import annotations

from sqlalchemy import func, select

from shop.catalog import service as catalog
from shop.core.db import Database
from shop.images.demo_pictures import DEMO_PICTURES
from shop.images.processing import Limits
from shop.images.service import add_image
from shop.images.storage import MediaStore
from shop.merchants import service as merchants
from shop.merchants.models import Merchant

# Printed by `peakshop up` beside the demo owner's e-mail; only ever a local demo.
DEMO_PASSWORD = "demo-password"

DEMO_PRODUCTS = [
    {"sku": "STAR-GOLD", "name": "Golden tree star", "category": "decor",
     "description": "Hand-painted glass, 15 cm.", "price": 2599, "stock": 40},
    {"sku": "BAUBLE-RED", "name": "Red glass bauble (set of 6)", "category": "decor",
     "description": "Mouth-blown in Lauscha.", "price": 1850, "stock": 120},
    {"sku": "CANDLE-BEES", "name": "Beeswax candles (4)", "category": "light",
     "description": "Slow-burning, 25 cm.", "price": 1200, "stock": 80},
    {"sku": "SOCKS-WOOL", "name": "Wool socks, reindeer pattern", "category": "clothing",
     "description": "Merino, sizes 36-46.", "price": 1490, "stock": 200},
    {"sku": "LEBKUCHEN", "name": "Nuremberg Lebkuchen tin", "category": "food",
     "description": "Twelve glazed gingerbreads.", "price": 990, "stock": 300},
]


def seed_demo_shop(database: Database, store: MediaStore | None = None,
                   limits: Limits | None = None) -> tuple[str, str, str] | None:
    """Create the demo merchant and catalog on an empty database; with a media `store`, a
    few products get pictures (drawn on the spot).

    Returns (slug, owner e-mail, API token), or None when the database already has merchants.
    """
    seeded = _seed_catalog(database)
    if seeded is not None and store is not None:
        merchant_id = seeded[3]
        for sku, (draw, alt) in DEMO_PICTURES.items():
            add_image(database, store, merchant_id, sku, draw(), alt,
                      limits or Limits(max_bytes=10 * 1024 * 1024, max_pixels=50_000_000))
    return seeded[:3] if seeded else None


def _seed_catalog(database: Database) -> tuple[str, str, str, int] | None:
    with database.transaction() as session:
        if session.scalar(select(func.count()).select_from(Merchant)):
            return None
        issued = merchants.sign_up(session, {"name": "Demo Christmas Market",
                                             "email": "demo@peakshop.example",
                                             "password": DEMO_PASSWORD})
        for product in DEMO_PRODUCTS:
            catalog.create_product(session, issued.merchant.id, product)
        return (issued.merchant.slug, issued.collaborator.email, issued.token,
                issued.merchant.id)
