"""The catalog over JSON: public browsing and the merchant's product management."""

from __future__ import annotations

from flask import Blueprint, request

from shop.catalog import freshness, reads, service
from shop.catalog import variants as variant_service
from shop.catalog.models import Product
from shop.catalog.reads import ProductView
from shop.catalog.schemas import NewProduct, ProductChanges, ProductOut, ProductPage, ProductQuery
from shop.catalog.variants import VariantView
from shop.core import resources
from shop.core.http import bearer_token, json_body
from shop.core.http_cache import public_read
from shop.core.openapi import BEARER, Response, api
from shop.core.timeutil import utcnow
from shop.core.validation import money_json
from shop.images.api import media_store
from shop.images.presenters import image_json, site_root
from shop.images.service import ImageView, images_by_product
from shop.merchants import service as merchants

blueprint = Blueprint("catalog_api", __name__, url_prefix="/api/v1/shops/<slug>")

# Part of every entity tag: change it when product_json changes what it shows.
JSON_REPRESENTATION = "catalog.json/2"


def product_json(product: Product | ProductView, *, for_merchant: bool = False,
                 variants: list[VariantView] | None = None,
                 parent_sku: str | None = None, images: list[ImageView] | None = None,
                 root: str | None = None, price_includes_vat: bool = True) -> dict:
    """A product as the API shows it; a product with variants lists them, and a variant
    names its product and options. A product with variants is available as its variants;
    one without has no `variants` key, so its JSON is what it always was."""
    body = {"sku": product.sku, "name": product.name, "description": product.description,
            "category": product.category,
            "price": money_json(product.price_amount, product.currency),
            "price_includes_vat": price_includes_vat,
            "available": (sum(max(v.available, 0) for v in variants) if variants
                          else product.available)}
    if variants:
        body["variants"] = [{"sku": v.sku, "options": v.options,
                             "price": money_json(v.price_amount, v.currency),
                             "available": v.available} for v in variants]
    if product.parent_id is not None:
        body.update(parent_sku=parent_sku, options=product.options)
    if for_merchant:
        body.update(stock=product.stock, reserved=product.reserved)
    root = root or site_root()  # a listing passes it: reading it per product costs
    body["images"] = [image_json(image, root) for image in images or []]
    return body


def listing_freshness(slug: str) -> freshness.Freshness | None:
    """Validators of a shop's listing pages, before anything is loaded."""
    return listing_freshness_of(resources.current(), slug)


def listing_freshness_of(shop: resources.Resources, slug: str) -> freshness.Freshness | None:
    """`listing_freshness` given the app's resources: no app context needed."""
    facts = freshness.shop_facts(shop.database.statements, slug)
    return None if facts is None else freshness.freshness(
        facts, JSON_REPRESENTATION + ":list", utcnow())


def product_freshness(slug: str, sku: str) -> freshness.Freshness | None:
    """Validators of one product's JSON, before it is loaded."""
    return product_freshness_of(resources.current(), slug, sku)


def product_freshness_of(shop: resources.Resources, slug: str,
                         sku: str) -> freshness.Freshness | None:
    """`product_freshness` given the app's resources: no app context needed."""
    facts = freshness.product_facts(shop.database.statements, slug, sku)
    return None if facts is None else freshness.freshness(
        facts, JSON_REPRESENTATION + ":product", utcnow())
def image_lists(connection, products) -> dict[int, list[ImageView]]:
    return images_by_product(connection, [product.id for product in products], media_store())


@blueprint.get("/products")
@public_read(listing_freshness)
@api.validate(query=ProductQuery, resp=Response(HTTP_200=ProductPage), tags=["catalog"])
def list_products(slug: str):
    """Browse the shop's catalog: search, filter by category, page with a cursor."""
    limit = service.parse_limit(request.args.get("limit"))
    with resources.current().database.read_connection() as connection:
        shop = reads.shop_view(connection, slug)
        page = reads.listing(connection, shop.id, query=request.args.get("q"),
                             category=request.args.get("category"), limit=limit,
                             cursor=request.args.get("cursor"))
        listed = variant_lists(connection, page.items)
        pictured = image_lists(connection, page.items)
        root = site_root()
        return {"items": [product_json(p, variants=listed.get(p.id), images=pictured.get(p.id),
                                       root=root, price_includes_vat=shop.prices_include_vat)
                          for p in page.items],
                "next_cursor": page.next_cursor}


def variant_lists(connection, products) -> dict[int, list[VariantView]]:
    return variant_service.variants_by_parent(
        connection, [product.id for product in products if product.has_variants])


@blueprint.get("/products/<sku>")
@public_read(product_freshness)
@api.validate(resp=Response(HTTP_200=ProductOut), tags=["catalog"])
def show_product(slug: str, sku: str):
    """One product with its live availability."""
    with resources.current().database.read_connection() as connection:
        product = reads.product_view(connection, slug, sku, media_store())
        return product_json(product, variants=variant_lists(connection, [product]).get(product.id),
                            parent_sku=variant_service.parent_sku(connection, product.parent_id),
                            images=product.images,
                            price_includes_vat=product.prices_include_vat)


@blueprint.post("/products")
@api.validate(json=NewProduct, resp=Response(HTTP_201=ProductOut), tags=["catalog"],
              security=BEARER)
def create_product(slug: str):
    """Put a new product on sale."""
    token = bearer_token()
    data = json_body()
    with resources.current().database.transaction() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        product = service.create_product(session, merchant.id, data)
        return product_json(product, for_merchant=True,
                            variants=variant_lists(session, [product]).get(product.id),
                            price_includes_vat=merchant.prices_include_vat), 201


@blueprint.patch("/products/<sku>")
@api.validate(json=ProductChanges, resp=Response(HTTP_200=ProductOut), tags=["catalog"],
              security=BEARER)
def update_product(slug: str, sku: str):
    """Change a product's details, price or stock."""
    token = bearer_token()
    data = json_body()
    with resources.current().database.transaction() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        product = service.update_product(session, merchant.id, sku, data)
        return product_json(product, for_merchant=True,
                            variants=variant_lists(session, [product]).get(product.id),
                            parent_sku=variant_service.parent_sku(session, product.parent_id),
                            images=image_lists(session, [product]).get(product.id),
                            price_includes_vat=merchant.prices_include_vat)
