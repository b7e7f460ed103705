"""Image files for the tests, drawn with Pillow: photos with EXIF, bombs, damaged files."""

from __future__ import annotations

import io

from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

ORIENTATION = 0x0112
GPS_INFO = 0x8825
MAKE = 0x010F


def picture(width: int, height: int, fmt: str = "JPEG", *, orientation: int | None = None,
            mode: str = "RGB") -> bytes:
    """A picture whose top half is red and bottom half blue as stored, with camera EXIF (maker,
    GPS position) and optionally an orientation tag."""
    image = Image.new(mode, (width, height), "blue")
    image.paste("red", (0, 0, width, height // 2))
    exif = Image.Exif()
    exif[MAKE] = "PeakCam"
    exif[GPS_INFO] = {1: "N", 2: (60.0, 10.0, 0.0)}
    if orientation:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes(), **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def bomb(side: int = 12_000) -> bytes:
    """A PNG of a few kB that decodes to side x side pixels: a decompression bomb."""
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG", optimize=True)
    return out.getvalue()


def upload(client, shop, sku: str, data: bytes, alt: str | None = "A red and blue square",
           filename: str = "photo.jpg", content_type: str = "image/jpeg"):
    """POST a multipart form like a browser or `curl -F` does."""
    form: dict = {"image": FileStorage(io.BytesIO(data), filename, content_type=content_type)}
    if alt is not None:
        form["alt"] = alt
    # Encoded in memory: the test client would spool a large form to a file it never closes.
    boundary, body = encode_multipart(form)
    return client.post(f"/api/v1/shops/{shop.slug}/products/{sku}/images", headers=shop.auth,
                       data=body, content_type=f"multipart/form-data; boundary={boundary}")
