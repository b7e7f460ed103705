"""Request and response models of the images API (they also write its OpenAPI entry)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shop.core.schemas import RequestModel, ResponseModel, optional
from shop.images.processing import WIDTHS
from shop.images.service import MAX_ALT_LENGTH


class ImageUploadQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")  # unknown query parameters are harmless

    alt: str = optional(max_length=MAX_ALT_LENGTH,
                        description="The alt text, when the body is the image itself.")


class ImageChanges(RequestModel):
    alt: str = optional(min_length=1, max_length=MAX_ALT_LENGTH,
                        description="What the image shows, for people who cannot see it.")
    position: int = optional(ge=0, le=2**31 - 1,
                             description="Where it goes among the product's images: 0 is the "
                                         "main image; the others shift by one; past the last "
                                         "is the end.")


class ImageSource(ResponseModel):
    width: int
    height: int
    url: str


class ImageOut(ResponseModel):
    id: int
    alt: str = Field(description="What the image shows, for people who cannot see it.")
    width: int = Field(description="Pixels, upright (EXIF orientation applied).")
    height: int
    position: int = Field(description="Order among the product's images; lowest first.")
    url: str = Field(description="The widest rendition.")
    sources: list[ImageSource] = Field(description=f"One per width ({', '.join(map(str, WIDTHS))}, "
                                                   "never wider than the upload), narrowest "
                                                   "first: an <img srcset>.")


# `alt` may come in the form or as the `?alt=` query parameter (the form's wins), so the
# form alone does not require it; without either the answer is 422.
_UPLOAD_FORM = {"type": "object", "required": ["image"], "properties": {
    "image": {"type": "string", "format": "binary",
              "description": "A JPEG, PNG or WebP file (judged by its content)."},
    # No "type": a multipart field is always text, so a JSON type would be a promise about
    # nothing (a client's object arrives as its text and is taken as the description).
    "alt": {"minLength": 1, "maxLength": MAX_ALT_LENGTH,
            "description": "Text, required here or as `?alt=`."}}}
_RAW_IMAGE = {"schema": {"type": "string", "format": "binary"}}

UPLOAD_BODY = {
    "required": True,
    "description": ("The image as a multipart form (`image`, `alt`), or the image itself as "
                    "the body with `?alt=`. At most PEAKSHOP_MAX_IMAGE_BYTES (10 MiB: else "
                    "413) and PEAKSHOP_MAX_IMAGE_PIXELS (50 million: else 422)."),
    "content": {"multipart/form-data": {"schema": _UPLOAD_FORM},
                "image/jpeg": _RAW_IMAGE, "image/png": _RAW_IMAGE, "image/webp": _RAW_IMAGE},
}
