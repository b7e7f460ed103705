"""What the storefront's pages need of images: the images of products, ready for <img>."""

from __future__ import annotations

from flask import current_app

from shop.images.service import ImageView, images_by_product
from shop.images.storage import MediaStore, public_origin


def _store() -> MediaStore:
    return current_app.extensions["peakshop_media"]


def media_origin() -> str | None:
    """Where images load from when that is another origin than this site (for the CSP)."""
    return public_origin(_store())


def main_images(connection, product_ids) -> dict[int, ImageView]:
    """The first image of each product that has one (the catalog's cards)."""
    return {product_id: images[0] for product_id, images in
            images_by_product(connection, product_ids, _store(), first_only=True).items()}


def product_images(connection, product_id: int) -> list[ImageView]:
    return images_by_product(connection, [product_id], _store()).get(product_id, [])
