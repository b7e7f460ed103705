"""A demo shop for a first run, so `peakshop up` opens onto something to buy."""

from __future__ import annotations

from sqlalchemy import func, select

from shop.catalog import service as catalog
from shop.core.db import Database
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


def seed_demo_shop(database: Database) -> tuple[str, str, str] | None:
    """Create the demo merchant and catalog on an empty database.

    Returns (slug, owner e-mail, API token), or None when the database already has merchants.
    """
    with database.transaction() as session:
        if session.scalar(select(func.count()).select_from(Merchant)):
            return None
        issued = merchants.sign_up(session, {"name": "Demo Christmas Market",
                                             "email": "demo@peakshop.example",
                                             "password": DEMO_PASSWORD})
        for product in DEMO_PRODUCTS:
            catalog.create_product(session, issued.merchant.id, product)
        return issued.merchant.slug, issued.collaborator.email, issued.token
