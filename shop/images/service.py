"""Adding and removing a product's images; reading them for pages and the API. No Flask.

An upload is checked and rendered before anything is written, so refused input leaves
nothing behind. The files go to the store before the row that points to them commits (a
crash between the two leaves unreferenced files, never a row without its files); the slow
part — decoding and resizing — runs outside any transaction, so it holds no database lock.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.core.db import Database
from shop.core.errors import Conflict, DependencyDown, InvalidInput, NotFound
from shop.core.timeutil import utcnow
from shop.images import processing
from shop.images.models import ProductImage
from shop.images.storage import MediaStore

log = logging.getLogger(__name__)

MAX_ALT_LENGTH = 500
MAX_IMAGES_PER_PRODUCT = 20
_UNUSABLE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True)
class Source:
    width: int
    height: int
    url: str


@dataclass(frozen=True)
class ImageView:
    id: int
    product_id: int
    position: int
    alt: str
    width: int
    height: int
    sources: tuple[Source, ...]  # narrowest first

    @property
    def srcset(self) -> str:
        return ", ".join(f"{source.url} {source.width}w" for source in self.sources)

    @property
    def fallback(self) -> Source:
        """For browsers without srcset: the middle width, good enough on any screen."""
        return self.sources[len(self.sources) // 2]


def parse_alt(value: object) -> str:
    """The alt text from caller input: required, one line of at most MAX_ALT_LENGTH."""
    if value is None:
        raise InvalidInput("'alt' is required: describe the image for people who cannot see "
                           "it (for example \"Red mug with a reindeer, side view\")",
                           extra={"field": "alt"})
    if not isinstance(value, str):
        raise InvalidInput(f"'alt' must be text: got {type(value).__name__}",
                           extra={"field": "alt"})
    text = " ".join(value.split())
    if not text:
        raise InvalidInput("'alt' must not be empty: describe the image",
                           extra={"field": "alt"})
    if len(text) > MAX_ALT_LENGTH:
        raise InvalidInput(f"'alt' is longer than {MAX_ALT_LENGTH} characters: describe the "
                           "image in a sentence", extra={"field": "alt"})
    if _UNUSABLE_TEXT.search(text):
        raise InvalidInput("'alt' holds a NUL, a control character or a lone surrogate: send "
                           "plain text", extra={"field": "alt"})
    return text


def _product_id(session: Session, merchant_id: int, sku: str, *, lock: bool = False) -> int:
    statement = select(Product.id).where(Product.merchant_id == merchant_id, Product.sku == sku)
    # Locked while an image is added, so two uploads racing for the last of the
    # MAX_IMAGES_PER_PRODUCT places count one after the other (SQLite's single writer
    # already serialises them).
    product_id = session.scalar(statement.with_for_update() if lock else statement)
    if product_id is None:
        raise NotFound(f"the shop has no product with SKU {sku[:64]!r}", code="unknown_sku")
    return product_id


def _check_room(session: Session, product_id: int) -> int:
    """The next position; 409 when the product has all the images it may have."""
    count, last = session.execute(select(func.count(), func.max(ProductImage.position))
                                  .where(ProductImage.product_id == product_id)).one()
    if count >= MAX_IMAGES_PER_PRODUCT:
        raise Conflict(f"the product has {count} images, the most it may have: delete one "
                       "first (DELETE .../images/{id})", code="too_many_images")
    return 0 if last is None else last + 1


def add_image(database: Database, store: MediaStore, merchant_id: int, sku: str,
              data: bytes, alt: object, limits: processing.Limits) -> ImageView:
    """Check, render and store an upload, then record it as the product's last image."""
    alt_text = parse_alt(alt)
    with database.reading() as session:
        _check_room(session, _product_id(session, merchant_id, sku))
    prepared = processing.prepare(data, limits)
    upload = uuid.uuid4().hex[:16]
    renditions = [{"width": r.width, "height": r.height, "bytes": len(r.data),
                   "key": f"products/{merchant_id}/{upload}/{r.width}-{r.digest}."
                          f"{processing.OUTPUT_EXTENSION}"}
                  for r in prepared.renditions]
    written: list[str] = []
    try:
        for rendition, stored in zip(prepared.renditions, renditions, strict=True):
            store.put(stored["key"], rendition.data, processing.OUTPUT_CONTENT_TYPE)
            written.append(stored["key"])
    except Exception:  # whatever the store raises (disk full, S3 unreachable): it is down
        log.exception("could not write image files to the media store")
        _forget(store, written)
        raise DependencyDown("the image store cannot take files right now: retry in a few "
                             "seconds") from None
    try:
        with database.transaction() as session:
            product_id = _product_id(session, merchant_id, sku, lock=True)
            image = ProductImage(merchant_id=merchant_id, product_id=product_id,
                                 position=_check_room(session, product_id), alt=alt_text,
                                 width=prepared.width, height=prepared.height,
                                 renditions=renditions)
            session.add(image)
            session.flush()
            _touch(session, product_id)
            return view_of(image, store)
    except BaseException:
        _forget(store, written)  # no row points to them
        raise


def _forget(store: MediaStore, keys: Iterable[str]) -> None:
    """Remove files no row points to; a failure only leaves garbage, so it is logged."""
    for key in keys:
        try:
            store.delete(key)
        except Exception:  # the store is down: the files stay, unreferenced and harmless
            log.warning("could not remove media file %s", key, exc_info=True)


def _image_of(session: Session, merchant_id: int, product_id: int, sku: str,
              image_id: int) -> ProductImage:
    image = session.get(ProductImage, image_id)
    if image is None or image.product_id != product_id or image.merchant_id != merchant_id:
        raise NotFound(f"product {sku[:64]!r} has no image {image_id}: its images are "
                       "listed in the product's JSON", code="unknown_image")
    return image


def delete_image(database: Database, store: MediaStore, merchant_id: int, sku: str,
                 image_id: int) -> None:
    """Remove one image of the product, close the gap it leaves, then remove its files."""
    with database.transaction() as session:
        product_id = _product_id(session, merchant_id, sku, lock=True)
        image = _image_of(session, merchant_id, product_id, sku, image_id)
        keys = [rendition["key"] for rendition in image.renditions]
        session.delete(image)
        session.flush()
        _renumber(session, product_id, _ordered_ids(session, product_id))
        _touch(session, product_id)
    _forget(store, keys)


def parse_position(value: object) -> int:
    """A position from caller input: a whole number from 0 (the main image)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"'position' must be a whole number from 0 (the main image): got "
                           f"{str(value)[:40]!r}", extra={"field": "position"})
    return value


def update_image(database: Database, store: MediaStore, merchant_id: int, sku: str,
                 image_id: int, changes: dict) -> ImageView:
    """Change an image's alt text and/or move it to `position` among the product's images.

    Moving shifts the images in between by one, so positions stay 0, 1, 2, ...; a position
    past the last moves it to the end. The product row is locked for the change, so
    concurrent moves of one product's images apply one after the other.
    """
    if not {"alt", "position"} & set(changes):
        raise InvalidInput("send 'alt' (the new text), 'position' (0 is the main image) or "
                           "both")
    alt = parse_alt(changes["alt"]) if "alt" in changes else None
    position = parse_position(changes["position"]) if "position" in changes else None
    with database.transaction() as session:
        product_id = _product_id(session, merchant_id, sku, lock=True)
        image = _image_of(session, merchant_id, product_id, sku, image_id)
        if alt is not None:
            image.alt = alt
        if position is not None:
            order = [other for other in _ordered_ids(session, product_id) if other != image.id]
            order.insert(min(position, len(order)), image.id)
            _renumber(session, product_id, order)
            session.refresh(image)
        _touch(session, product_id)
        session.flush()
        return view_of(image, store)


def _ordered_ids(session: Session, product_id: int) -> list[int]:
    return list(session.scalars(select(ProductImage.id)
                                .where(ProductImage.product_id == product_id)
                                .order_by(ProductImage.position, ProductImage.id)))


def _renumber(session: Session, product_id: int, ordered_ids: list[int]) -> None:
    """Give the images positions 0, 1, 2, ... in `ordered_ids` order.

    Positions are unique per product and both databases check that row by row, so every
    position first goes negative (never taken) and then to its final value.
    """
    table = ProductImage.__table__
    session.execute(update(table).where(table.c.product_id == product_id)
                    .values(position=-1 - table.c.position))
    for position, image_id in enumerate(ordered_ids):
        session.execute(update(table).where(table.c.id == image_id).values(position=position))


def _touch(session: Session, product_id: int) -> None:
    """The product's pages show its images: moving its `updated_at` changes their ETag
    (shop.catalog.freshness), so caches holding the old page revalidate to the new one."""
    session.execute(update(Product).where(Product.id == product_id).values(updated_at=utcnow()))


def view_of(image, store: MediaStore) -> ImageView:
    sources = tuple(Source(r["width"], r["height"], store.url(r["key"]))
                    for r in image.renditions)
    return ImageView(image.id, image.product_id, image.position, image.alt, image.width,
                     image.height, sources)


_IMAGES_OF = (select(ProductImage.id, ProductImage.product_id, ProductImage.position,
                     ProductImage.alt, ProductImage.width, ProductImage.height,
                     ProductImage.renditions)
              .order_by(ProductImage.product_id, ProductImage.position, ProductImage.id))
# Built once: a statement built per call costs more CPU than the query itself.
_IMAGES_OF_PRODUCTS = _IMAGES_OF.where(
    ProductImage.product_id.in_(bindparam("product_ids", expanding=True)))


def images_by_product(connection, product_ids: Iterable[int], store: MediaStore,
                      first_only: bool = False) -> dict[int, list[ImageView]]:
    """Each product's images in order, in one query (a Connection or a Session)."""
    wanted = sorted(set(product_ids))
    if not wanted:
        return {}
    found: dict[int, list[ImageView]] = {}
    for row in connection.execute(_IMAGES_OF_PRODUCTS, {"product_ids": wanted}):
        listed = found.setdefault(row.product_id, [])
        if not (first_only and listed):
            listed.append(view_of(row, store))
    return found
