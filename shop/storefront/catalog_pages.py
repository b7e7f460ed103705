"""Browsing: the shop's catalog and a product's page.

A first-time visitor's catalog and product pages are the same for everyone, so shared
caches may keep them (shop.core.http_cache); a browser with a session gets its own, private.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import g, request

from shop.catalog import freshness, reads, variants
from shop.catalog import service as catalog
from shop.core import resources
from shop.core.errors import InvalidInput, NotFound
from shop.core.http_cache import public_read
from shop.core.timeutil import utcnow
from shop.images.api import media_store
from shop.images.views import main_images
from shop.storefront import cart_session
from shop.storefront.blueprint import ShopLink, blueprint, load_shop, page
from shop.storefront.messages import with_labels

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "storefront"


def _templates_digest() -> str:
    # Same templates, same digest on every pod of a release; a new release renders anew.
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(TEMPLATES.glob("*.html")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


HTML_REPRESENTATION = "storefront.html/" + _templates_digest()


def _representation(page_name: str, shop: resources.Resources) -> str:
    # The quantity field's maximum comes from a setting the page shows.
    return f"{HTML_REPRESENTATION}:{page_name}:{shop.settings.max_line_quantity}"


def catalog_freshness(slug: str) -> freshness.Freshness | None:
    """Validators of the shop's catalog pages, before anything is loaded."""
    return catalog_freshness_of(resources.current(), slug)


def catalog_freshness_of(shop: resources.Resources, slug: str) -> freshness.Freshness | None:
    """`catalog_freshness` given the app's resources: no app context needed."""
    facts = freshness.shop_facts(shop.database.statements, slug)
    return None if facts is None else freshness.freshness(
        facts, _representation("catalog", shop), utcnow())


def product_freshness(slug: str, sku: str) -> freshness.Freshness | None:
    """Validators of a product's page, before the product is loaded."""
    return product_freshness_of(resources.current(), slug, sku)


def product_freshness_of(shop: resources.Resources, slug: str,
                         sku: str) -> freshness.Freshness | None:
    """`product_freshness` given the app's resources: no app context needed."""
    facts = freshness.product_facts(shop.database.statements, slug, sku)
    return None if facts is None else freshness.freshness(
        facts, _representation("product", shop), utcnow())


def remember_visit(slug: str) -> None:
    """Note the shop in this browser's session, or, for a first-time visitor, mark the page
    as shared: it then sets no cookie and its form carries no token."""
    if cart_session.known_browser():
        cart_session.visit(slug)
    else:
        g.shared_page = True


@blueprint.get("/shops/<slug>/")
@public_read(catalog_freshness, personal=cart_session.known_browser)
def show_catalog(slug: str):
    """The shop's products: search, filter by category, next page by cursor."""
    query = request.args.get("q", "").strip()
    category = request.args.get("category", "").strip()
    cursor = request.args.get("cursor") or None
    with resources.current().database.read_connection() as connection:
        merchant = reads.shop_view(connection, slug)
        g.storefront_shop = ShopLink(merchant.slug, merchant.name)  # error pages link back
        categories = catalog.categories(connection, merchant.id)
        try:
            limit = catalog.parse_limit(request.args.get("limit"))
            result = reads.listing(connection, merchant.id, query=query or None,
                                   category=category or None, limit=limit, cursor=cursor)
        except InvalidInput as problem:
            return page("catalog.html", problem.status, shop=merchant, categories=categories,
                        query=query, category=category, products=[], next_cursor=None,
                        limit=None, cursor=cursor, error=with_labels(problem.detail),
                        variant_available={}, variant_from={}, images={})
        listed = variants.variants_by_parent(
            connection, [product.id for product in result.items if product.has_variants])
        images = main_images(connection, [product.id for product in result.items])
    remember_visit(slug)
    return page("catalog.html", shop=merchant, categories=categories, query=query,
                category=category, products=result.items, next_cursor=result.next_cursor,
                limit=request.args.get("limit") or None, cursor=cursor, error=None,
                # A product with variants is as available as its sizes, priced from the lowest.
                variant_available={parent: sum(max(v.available, 0) for v in found)
                                   for parent, found in listed.items()},
                variant_from={parent: min(v.price_amount for v in found)
                              for parent, found in listed.items()},
                images=images)


@blueprint.get("/shops/<slug>/products/<sku>")
@public_read(product_freshness, personal=cart_session.known_browser)
def show_product(slug: str, sku: str):
    """One product: price, what is left, and the add-to-cart form."""
    try:
        with resources.current().database.read_connection() as connection:
            product = reads.product_view(connection, slug, sku, media_store())
            choices = variant_choices(connection, product)
    except NotFound:
        load_shop(slug)  # a known shop gives its 404 page a way back (an unknown one 404s here)
        raise
    shop = ShopLink(slug, product.shop_name)
    g.storefront_shop = shop
    remember_visit(slug)
    return page("product.html", shop=shop, product=product, quantity="1", error=None,
                images=product.images, **choices)


def variant_choices(connection, product, chosen_sku: str | None = None) -> dict:
    """The template's variant picker: the variants, what to call the choice, which is picked."""
    if not product.has_variants:
        return {"variants": [], "choice_label": None, "chosen_sku": None}
    found = variants.variants_by_parent(connection, [product.id]).get(product.id, [])
    names = {name for view in found for name in view.options}
    label = names.pop().replace("_", " ").capitalize() if len(names) == 1 else "Variant"
    return {"variants": found, "choice_label": label, "chosen_sku": chosen_sku}
