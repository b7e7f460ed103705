"""Product images over HTTP: the merchant's upload, change and delete, and the files.

The role matrix (shop.merchants.roles) lets owners, managers and staff change images and
keeps viewers out before these views run.
"""

from __future__ import annotations

import io

from flask import Blueprint, Flask, Response, current_app, g, request, send_from_directory
from werkzeug.exceptions import NotFound as NotFoundHTTP
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import parse_form_data

from shop.core import resources
from shop.core.errors import NotFound, Problem
from shop.core.http import json_body
from shop.core.openapi import BEARER, api, request_body
from shop.core.openapi import Response as Declared
from shop.images import processing, service
from shop.images.presenters import image_json, site_root
from shop.images.schemas import UPLOAD_BODY, ImageChanges, ImageOut, ImageUploadQuery
from shop.images.storage import IMMUTABLE, LOCAL_PREFIX, FolderStore, MediaStore, store_for
from shop.merchants.access import acting

blueprint = Blueprint("images_api", __name__, url_prefix="/api/v1/shops/<slug>")
media = Blueprint("media", __name__)

# Room for the multipart envelope and the alt field around the image's own bytes.
FORM_OVERHEAD_BYTES = 64 * 1024
RAW_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "application/octet-stream"})
UPLOAD_ENDPOINT = "images_api.upload_image"


def media_store() -> MediaStore:
    """The app's media store (set up by init_app from PEAKSHOP_MEDIA_URL)."""
    return current_app.extensions["peakshop_media"]


def limits() -> processing.Limits:
    settings = resources.current().settings
    return processing.Limits(settings.max_image_bytes, settings.max_image_pixels)


@blueprint.before_request
def allow_image_sized_bodies() -> None:
    """Uploads may be larger than the JSON API's body limit; everything else keeps it."""
    if request.endpoint == UPLOAD_ENDPOINT:
        request.max_content_length = limits().max_bytes + FORM_OVERHEAD_BYTES


def _too_large() -> Problem:
    return Problem(f"the upload is larger than {limits().max_bytes} bytes (or its alt text "
                   f"than {service.MAX_ALT_LENGTH} characters): send a smaller image",
                   code="image_too_large", status=413)


def read_upload() -> tuple[bytes, str | None]:
    """The image bytes and alt text of a multipart form or of a raw image body."""
    if (request.content_length or 0) > limits().max_bytes + FORM_OVERHEAD_BYTES:
        raise _too_large()  # refused before a byte is read
    try:
        if request.mimetype == "multipart/form-data":
            # Parts are kept in memory (the body is bounded above): werkzeug's default spools
            # them to temporary files that a refused upload would leave open.
            _, form, files = parse_form_data(
                request.environ, stream_factory=lambda *_args, **_kwargs: io.BytesIO(),
                max_content_length=request.max_content_length,
                max_form_memory_size=request.max_form_memory_size)
            upload = files.get("image")
            if upload is None:
                raise Problem("send the image in the form field 'image' (and its alt text in "
                              "'alt')", code="missing_image", status=422,
                              extra={"field": "image"})
            return upload.stream.getvalue(), form.get("alt", request.args.get("alt"))
        if request.mimetype in RAW_TYPES:
            return request.get_data(cache=False), request.args.get("alt")
    except RequestEntityTooLarge:
        raise _too_large() from None
    raise Problem("send multipart/form-data with the fields 'image' and 'alt', or the image "
                  "itself as image/jpeg, image/png or image/webp with ?alt=...: got "
                  f"{request.mimetype or 'no Content-Type'!r}", code="unsupported_media_type",
                  status=415)


@blueprint.post("/products/<sku>/images")
@request_body(UPLOAD_BODY)
@api.validate(query=ImageUploadQuery, resp=Declared(HTTP_201=ImageOut), tags=["catalog"],
              security=BEARER)
def upload_image(slug: str, sku: str):
    """Add an image to a product (JPEG, PNG or WebP; stored resized, without metadata)."""
    data, alt = read_upload()
    view = service.add_image(resources.current().database, media_store(),
                             acting().merchant_id, sku, data, alt, limits())
    g.audit_details = {"image_id": view.id, "sku": sku}
    return image_json(view, site_root()), 201


@blueprint.delete("/products/<sku>/images/<int:image_id>")
@api.validate(resp=Declared(HTTP_204=None), tags=["catalog"], security=BEARER)
def delete_image(slug: str, sku: str, image_id: int):
    """Remove one of a product's images and its files."""
    service.delete_image(resources.current().database, media_store(), acting().merchant_id,
                         sku, image_id)
    return Response(status=204)


@blueprint.patch("/products/<sku>/images/<int:image_id>")
@api.validate(json=ImageChanges, resp=Declared(HTTP_200=ImageOut), tags=["catalog"],
              security=BEARER)
def update_image(slug: str, sku: str, image_id: int):
    """Change an image's alt text or move it among the product's images (0: the main one)."""
    view = service.update_image(resources.current().database, media_store(),
                                acting().merchant_id, sku, image_id, json_body())
    g.audit_details = {"image_id": image_id, "sku": sku}
    return image_json(view, site_root())


@media.get(f"{LOCAL_PREFIX}/<path:key>")
def serve_media(key: str):
    """An image file from the local media folder; its name changes with its content."""
    store = media_store()
    if not isinstance(store, FolderStore):
        raise NotFound("images are served by the media store, not by this site")
    try:
        response = send_from_directory(store.root, key, max_age=31536000,
                                       mimetype=processing.OUTPUT_CONTENT_TYPE)
    except NotFoundHTTP:
        raise NotFound("there is no such image") from None
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def init_app(app: Flask) -> None:
    """The media store (PEAKSHOP_MEDIA_URL), the images API and the local media files (the
    back-office's image forms are a section of `shop.merchants.pages`)."""
    app.extensions["peakshop_media"] = store_for(app.extensions["peakshop"].settings)
    app.register_blueprint(blueprint)
    app.register_blueprint(media)
