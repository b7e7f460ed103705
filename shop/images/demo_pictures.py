"""Pictures for the demo shop, drawn with Pillow: no file to ship, nothing from the network."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFilter

SIZE = (1280, 960)


def _backdrop(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        share = y / (SIZE[1] - 1)
        draw.line([(0, y), (SIZE[0], y)],
                  fill=tuple(round(a + (b - a) * share) for a, b in zip(top, bottom, strict=True)))
    return image


def _sparkles(draw: ImageDraw.ImageDraw, seed: int) -> None:
    for n in range(60):
        x = (seed * 97 + n * 211) % SIZE[0]
        y = (seed * 53 + n * 137) % SIZE[1]
        r = 2 + (n % 4)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 248, 220))


def golden_star() -> bytes:
    image = _backdrop((18, 32, 74), (6, 12, 30))
    draw = ImageDraw.Draw(image)
    _sparkles(draw, 3)
    cx, cy, outer, inner = SIZE[0] / 2, SIZE[1] / 2 + 20, 360, 150
    points = [(cx + (outer if k % 2 == 0 else inner) * math.sin(k * math.pi / 5),
               cy - (outer if k % 2 == 0 else inner) * math.cos(k * math.pi / 5))
              for k in range(10)]
    glow = Image.new("L", SIZE, 0)
    ImageDraw.Draw(glow).polygon(points, fill=200)
    image.paste((255, 214, 90), mask=glow.filter(ImageFilter.GaussianBlur(40)))
    draw.polygon(points, fill=(240, 184, 40), outline=(255, 236, 150), width=8)
    draw.polygon([(cx, cy), *points[0:3]], fill=(252, 206, 74))
    return _jpeg(image)


def red_bauble() -> bytes:
    image = _backdrop((236, 228, 214), (196, 182, 160))
    draw = ImageDraw.Draw(image)
    cx, cy, r = SIZE[0] / 2, SIZE[1] / 2 + 60, 300
    draw.line([(cx, 0), (cx, cy - r - 40)], fill=(120, 90, 40), width=6)
    draw.rectangle([cx - 50, cy - r - 60, cx + 50, cy - r + 10], fill=(200, 160, 60))
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(176, 24, 32))
    shine = Image.new("L", SIZE, 0)
    ImageDraw.Draw(shine).ellipse([cx - 190, cy - 220, cx - 60, cy - 100], fill=170)
    image.paste((255, 230, 230), mask=shine.filter(ImageFilter.GaussianBlur(25)))
    draw.arc([cx - r + 30, cy - 60, cx + r - 30, cy + 60], 0, 180, fill=(230, 190, 80), width=10)
    return _jpeg(image)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


# SKU of the demo catalog -> (picture, alt text)
DEMO_PICTURES = {
    "STAR-GOLD": (golden_star, "A golden star glowing on a dark blue night sky"),
    "BAUBLE-RED": (red_bauble, "A shiny red glass bauble with a gold band and cap"),
}
