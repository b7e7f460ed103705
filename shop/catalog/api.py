"""The catalog over JSON: public browsing and the merchant's product management."""

from __future__ import annotations

from flask import Blueprint, request

from shop.catalog import reads, service
from shop.catalog.models import Product
from shop.catalog.reads import ProductView
from shop.catalog.schemas import NewProduct, ProductChanges, ProductOut, ProductPage, ProductQuery
from shop.core import resources
from shop.core.http import bearer_token, json_body
from shop.core.openapi import BEARER, Response, api
from shop.core.validation import money_json
from shop.merchants import service as merchants

blueprint = Blueprint("catalog_api", __name__, url_prefix="/api/v1/shops/<slug>")


def product_json(product: Product | ProductView, *, for_merchant: bool = False) -> dict:
    body = {"sku": product.sku, "name": product.name, "description": product.description,
            "category": product.category,
            "price": money_json(product.price_amount, product.currency),
            "available": product.available}
    if for_merchant:
        body.update(stock=product.stock, reserved=product.reserved)
    return body


@blueprint.get("/products")
@api.validate(query=ProductQuery, resp=Response(HTTP_200=ProductPage), tags=["catalog"])
def list_products(slug: str):
    """Browse the shop's catalog: search, filter by category, page with a cursor."""
    limit = service.parse_limit(request.args.get("limit"))
    with resources.current().database.reading() as session:
        merchant = merchants.shop_by_slug(session, slug)
        page = service.list_products(session, merchant.id, query=request.args.get("q"),
                                     category=request.args.get("category"), limit=limit,
                                     cursor=request.args.get("cursor"))
        return {"items": [product_json(p) for p in page.items], "next_cursor": page.next_cursor}


@blueprint.get("/products/<sku>")
@api.validate(resp=Response(HTTP_200=ProductOut), tags=["catalog"])
def show_product(slug: str, sku: str):
    """One product with its live availability."""
    with resources.current().database.read_connection() as connection:
        return product_json(reads.product_view(connection, slug, sku))


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
        return product_json(product, for_merchant=True), 201


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
        return product_json(product, for_merchant=True)
