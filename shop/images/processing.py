"""Turning an uploaded file into safe, small renditions: pure, no I/O beyond the bytes given.

Nothing about the upload is trusted: not its name, not its Content-Type. The bytes must
decode as JPEG, PNG or WebP (Pillow identifies them by content); the pixel count is checked
from the header before any pixel is decoded (a 100 kB PNG can unpack to gigabytes: a
decompression bomb); `verify()` reads the whole file for structural damage, and the file is
then reopened (verify leaves the image unusable) and decoded for real. The renditions are
re-encoded from pixels only — EXIF (GPS position, camera serial), XMP, comments and
thumbnails are gone — after the EXIF orientation was applied, so a portrait phone photo
stands upright. Colours in another profile (Adobe RGB, Display P3) are converted to sRGB,
the profile browsers assume once it is stripped.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from shop.core.errors import Problem

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
WIDTHS = (320, 640, 1280)
OUTPUT_FORMAT = "WEBP"
OUTPUT_CONTENT_TYPE = "image/webp"
OUTPUT_EXTENSION = "webp"
WEBP_QUALITY = 82
EXIF_ORIENTATION = 0x0112
TURNED = frozenset({5, 6, 7, 8})  # orientations that swap width and height
# What a file that decodes badly raises from inside Pillow's plugins.
_DAMAGE = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
           IndexError, TypeError)


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    data: bytes

    @property
    def digest(self) -> str:
        """The content hash that names the file: a new picture is a new URL."""
        return hashlib.sha256(self.data).hexdigest()[:20]


@dataclass(frozen=True)
class Prepared:
    source_format: str  # what the upload turned out to be
    width: int  # upright, as shown
    height: int
    renditions: tuple[Rendition, ...]  # narrowest first


class ImageRefused(Problem):
    status, code, title = 422, "invalid_image", "Invalid image"


def _refused(detail: str, code: str, status: int = 422) -> ImageRefused:
    return ImageRefused(detail, code=code, status=status)


def rendition_widths(width: int) -> tuple[int, ...]:
    """The widths to store for an image `width` pixels wide: each of WIDTHS below it, then
    its own width up to the largest of WIDTHS. Never upscaled, and a 900 px upload keeps its
    900 px for sharp screens rather than dropping to 640."""
    largest = min(width, max(WIDTHS))
    return (*(w for w in WIDTHS if w < largest), largest)


def prepare(data: bytes, limits: Limits) -> Prepared:
    """Check and decode an upload and render it at `rendition_widths`; ImageRefused (a 4xx
    problem naming the fix) for anything that is not a sound, reasonably sized image."""
    if not data:
        raise _refused("the image is empty: send the file's bytes", "empty_image", 400)
    if len(data) > limits.max_bytes:
        raise _refused(f"the image is {len(data)} bytes, more than the {limits.max_bytes} "
                       "allowed: send a smaller file (at most 2560 px wide is plenty)",
                       "image_too_large", 413)
    source_format = _check(data, limits)
    image, (width, height) = _decode(data)
    renditions = tuple(_render(image, w) for w in rendition_widths(image.width))
    return Prepared(source_format, width, height, renditions)


def _open(data: bytes) -> Image.Image:
    # Bombs are refused by our own pixel limit first; Pillow's own check (a warning past
    # MAX_IMAGE_PIXELS, an error past twice that) is turned into an error too.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)


def _check(data: bytes, limits: Limits) -> str:
    try:
        image = _open(data)
    except UnidentifiedImageError:
        raise _refused("the file is not a JPEG, PNG or WebP image (judged by its content, "
                       "not its name or Content-Type): convert it to one of those",
                       "unsupported_image_type", 415) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(None, limits) from None
    except _DAMAGE:
        raise _damaged() from None
    with image:
        width, height = image.size
        if width * height > limits.max_pixels:
            raise _too_many_pixels((width, height), limits)
        if width < 1 or height < 1:
            raise _damaged()
        try:
            image.verify()
        except _DAMAGE:
            raise _damaged() from None
        return image.format or "unknown"


def _too_many_pixels(size: tuple[int, int] | None, limits: Limits) -> ImageRefused:
    shown = f"{size[0]} x {size[1]} pixels" if size else "more pixels than allowed"
    return _refused(f"the image is {shown}; at most {limits.max_pixels} pixels are accepted "
                    "(a larger one may be a decompression bomb): scale it down first",
                    "image_too_many_pixels")


def _damaged() -> ImageRefused:
    return _refused("the image is damaged or truncated and cannot be decoded: export it "
                    "again from the original", "damaged_image")


def _decode(data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """Reopen (verify() spent the first image object) and decode: upright, sRGB, no metadata.
    Also the upload's own upright size (a JPEG may decode smaller, see draft below)."""
    try:
        with _open(data) as opened:
            width, height = opened.size
            if opened.getexif().get(EXIF_ORIENTATION, 1) in TURNED:
                width, height = height, width
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: no need to unpack 48 MP for 1280 px.
            opened.draft("RGB", (max(WIDTHS), max(WIDTHS)))
            opened.load()
            upright = ImageOps.exif_transpose(opened)
            if upright is opened:
                upright = opened.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refused("the image has more pixels than allowed: scale it down first",
                       "image_too_many_pixels") from None
    except _DAMAGE:
        raise _damaged() from None
    return _to_srgb(upright), (width, height)


def _to_srgb(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info)
    profile = image.info.get("icc_profile")
    target = "RGBA" if has_alpha else "RGB"
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert(target)
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            image = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                              outputMode=image.mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: the pixels as they are beat no image at all
    image.info.clear()
    return image


def _render(image: Image.Image, width: int) -> Rendition:
    height = max(1, round(image.height * width / image.width))
    resized = image if width == image.width else image.resize(
        (width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    # Saved from pixels alone: no exif=, icc_profile= or xmp= is passed, so none is written.
    resized.save(out, OUTPUT_FORMAT, quality=WEBP_QUALITY, method=4)
    return Rendition(width, height, out.getvalue())
