"""How fresh a shopper's view of the catalog is, answered without loading it.

A conditional request (`If-None-Match`, `If-Modified-Since`) is answered 304 before the
product or the page is loaded: one aggregate query reads just what can change what the page
shows — the newest `updated_at`, the row count, the sum of `available` and of prices, and
the shop's name — and the entity tag is a digest of those facts. Every write to a product
(merchant edits, imports, checkout holds, expiries, confirmations) is an `UPDATE` that moves
`updated_at`, and the sums catch a change even from a pod whose clock lags another's.

`available` is part of the tag, so a revalidation always tells the truth; what a shared
cache serves *between* revalidations may be up to max-age + stale-while-revalidate seconds
old (docs/http-caching.md). Checkout never trusts a cached number: it reserves atomically.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, or_, select

from shop.catalog.models import Product
from shop.core.direct_statements import DirectStatements
from shop.merchants.models import Merchant

# Last-Modified has whole seconds: a change later in the same second would look unchanged to
# an If-Modified-Since, so a page changed this recently is served with its entity tag only.
SAME_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Freshness:
    """The validators of one representation: an opaque tag and, when safe, a date."""

    etag: str
    last_modified: datetime | None


@dataclass(frozen=True)
class CatalogFacts:
    """What can change a catalog or product response, read in one query."""

    shop_name: str
    newest_change: datetime | None
    rows: int
    available_total: int
    price_total: int


def freshness(facts: CatalogFacts, representation: str, now: datetime) -> Freshness:
    """The validators of `representation` (which page, which template version) given the
    catalog's `facts`. Pure: no I/O."""
    etag, newest = _tag(facts, representation)
    dated = newest is not None and _as_utc(now) - newest >= SAME_SECOND
    return Freshness(etag, newest if dated else None)


# Every full answer reads the facts afresh, and mostly finds the ones it found before: their
# digest is worked out once per process (a read's tenth of a millisecond is the budget).
@functools.lru_cache(maxsize=4096)
def _tag(facts: CatalogFacts, representation: str) -> tuple[str, datetime | None]:
    """The entity tag of `representation` under `facts`, and their newest change in UTC."""
    digest = hashlib.blake2b(digest_size=12)
    for part in (representation, facts.shop_name, facts.newest_change, facts.rows,
                 facts.available_total, facts.price_total):
        digest.update(repr(part).encode())
        digest.update(b"\x1f")
    return digest.hexdigest(), _as_utc(facts.newest_change)


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Core tables, not ORM entities: built at import, before every model is (an ORM alias would
# configure all mappers that early).
_PRODUCTS = Product.__table__
_MERCHANTS = Merchant.__table__
_FACTS = (func.max(_PRODUCTS.c.updated_at), func.count(_PRODUCTS.c.id),
          func.coalesce(func.sum(_PRODUCTS.c.stock - _PRODUCTS.c.reserved), 0),
          func.coalesce(func.sum(_PRODUCTS.c.price_amount), 0))

_SHOP_FACTS = (
    select(_MERCHANTS.c.name, *_FACTS)
    .select_from(_MERCHANTS.outerjoin(_PRODUCTS, _PRODUCTS.c.merchant_id == _MERCHANTS.c.id))
    .where(_MERCHANTS.c.slug == bindparam("slug"))
    .group_by(_MERCHANTS.c.id, _MERCHANTS.c.name)
)

_listed = _PRODUCTS.alias("listed")
# The product and its variants (a page shows each variant's price and stock), or a variant
# alone: rows whose id is the product's or whose parent is.
_PRODUCT_FACTS = (
    select(_MERCHANTS.c.name, *_FACTS)
    .select_from(
        _MERCHANTS.join(_listed, _listed.c.merchant_id == _MERCHANTS.c.id)
        .join(_PRODUCTS, or_(_PRODUCTS.c.id == _listed.c.id,
                             _PRODUCTS.c.parent_id == _listed.c.id)))
    .where(_MERCHANTS.c.slug == bindparam("slug"), _listed.c.sku == bindparam("sku"))
    .group_by(_MERCHANTS.c.id, _MERCHANTS.c.name)
)


def shop_facts(reader: DirectStatements, slug: str) -> CatalogFacts | None:
    """The facts of a shop's whole catalog (its listing pages), or None for no such shop.

    Reads every product row's dates and counts from the merchant's index: cheap for the
    hundreds to few thousands of products of a typical shop, linear beyond.
    """
    row = reader.first(_SHOP_FACTS, {"slug": slug})
    return None if row is None else CatalogFacts(*row)


def product_facts(reader: DirectStatements, slug: str, sku: str) -> CatalogFacts | None:
    """The facts of one product and its variants, or None when shop or SKU is unknown."""
    row = reader.first(_PRODUCT_FACTS, {"slug": slug, "sku": sku})
    return None if row is None else CatalogFacts(*row)
