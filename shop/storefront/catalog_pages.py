"""Browsing: the shop's catalog and a product's page."""

from __future__ import annotations

from flask import g, request

from shop.catalog import reads, variants
from shop.catalog import service as catalog
from shop.core import resources
from shop.core.errors import InvalidInput, NotFound
from shop.images.views import main_images, product_images
from shop.storefront import cart_session
from shop.storefront.blueprint import ShopLink, blueprint, find_shop, load_shop, page
from shop.storefront.messages import with_labels


@blueprint.get("/shops/<slug>/")
def show_catalog(slug: str):
    """The shop's products: search, filter by category, next page by cursor."""
    query = request.args.get("q", "").strip()
    category = request.args.get("category", "").strip()
    cursor = request.args.get("cursor") or None
    with resources.current().database.reading() as session:
        merchant = find_shop(session, slug)
        categories = catalog.categories(session, merchant.id)
        try:
            limit = catalog.parse_limit(request.args.get("limit"))
            result = catalog.list_products(session, merchant.id, query=query or None,
                                           category=category or None, limit=limit,
                                           cursor=cursor)
        except InvalidInput as problem:
            return page("catalog.html", problem.status, shop=merchant, categories=categories,
                        query=query, category=category, products=[], next_cursor=None,
                        limit=None, cursor=cursor, error=with_labels(problem.detail),
                        variant_available={}, variant_from={}, images={})
        listed = variants.variants_by_parent(
            session, [product.id for product in result.items if product.has_variants])
        images = main_images(session, [product.id for product in result.items])
    cart_session.visit(slug)
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
def show_product(slug: str, sku: str):
    """One product: price, what is left, and the add-to-cart form."""
    try:
        with resources.current().database.read_connection() as connection:
            product = reads.product_view(connection, slug, sku)
            choices = variant_choices(connection, product)
            images = product_images(connection, product.id)
    except NotFound:
        load_shop(slug)  # a known shop gives its 404 page a way back (an unknown one 404s here)
        raise
    shop = ShopLink(slug, product.shop_name)
    g.storefront_shop = shop
    cart_session.visit(slug)
    return page("product.html", shop=shop, product=product, quantity="1", error=None,
                images=images, **choices)


def variant_choices(connection, product, chosen_sku: str | None = None) -> dict:
    """The template's variant picker: the variants, what to call the choice, which is picked."""
    if not product.has_variants:
        return {"variants": [], "choice_label": None, "chosen_sku": None}
    found = variants.variants_by_parent(connection, [product.id]).get(product.id, [])
    names = {name for view in found for name in view.options}
    label = names.pop().replace("_", " ").capitalize() if len(names) == 1 else "Variant"
    return {"variants": found, "choice_label": label, "chosen_sku": chosen_sku}
