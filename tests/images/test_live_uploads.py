"""Uploads over real HTTP to `peakshop serve` (gunicorn): body limits on a real socket.

In-process tests hand the body over whole; here it travels as production sends it, with a
Content-Length or chunked, so the 413 is decided while reading and the worker lives on.
"""

from __future__ import annotations

import io
import os

import pytest
import requests
from PIL import Image

pytestmark = pytest.mark.slow


def noise_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG")
    return out.getvalue()


def test_uploads_and_their_limits_over_http(gunicorn_server):
    url = gunicorn_server.url
    owner = requests.post(f"{url}/api/v1/merchants", timeout=30, json={
        "name": "Live Shop", "email": "live-images@example.com",
        "password": "long enough"}).json()
    slug, auth = owner["merchant"]["slug"], {"Authorization": f"Bearer {owner['token']}"}
    requests.post(f"{url}/api/v1/shops/{slug}/products", headers=auth, timeout=30, json={
        "sku": "MUG", "name": "Mug", "price": 450, "stock": 5}).raise_for_status()
    images = f"{url}/api/v1/shops/{slug}/products/MUG/images"

    photo = noise_png(1400, 900)  # about 3.8 MB: far above the JSON API's 64 KiB limit
    assert len(photo) > 3_000_000
    accepted = requests.post(images, headers=auth, timeout=120,
                             files={"image": ("mug.png", photo, "image/png")},
                             data={"alt": "A mug"})
    assert accepted.status_code == 201, accepted.text
    largest = requests.get(accepted.json()["url"], timeout=30)
    assert largest.status_code == 200 and largest.headers["Content-Type"] == "image/webp"
    assert largest.headers["Cache-Control"] == "public, max-age=31536000, immutable"

    too_big = b"\x89PNG" + os.urandom(11 * 1024 * 1024)
    refused = requests.post(f"{images}?alt=A", headers={**auth, "Content-Type": "image/png"},
                            data=too_big, timeout=120)
    assert refused.status_code == 413
    assert refused.headers["Content-Type"] == "application/problem+json"

    def chunks():
        for _ in range(11):
            yield os.urandom(1024 * 1024)

    chunked = requests.post(f"{images}?alt=A", headers={**auth, "Content-Type": "image/png"},
                            data=chunks(), timeout=120)
    assert chunked.status_code == 413

    product = requests.get(f"{url}/api/v1/shops/{slug}/products/MUG", timeout=30).json()
    assert [image["id"] for image in product["images"]] == [accepted.json()["id"]]
