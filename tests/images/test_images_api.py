"""Merchants add and remove product images; the product's JSON lists them with every width.

Files go to the default store, a folder under the instance path, and are fetched back from
the storefront's /media/ URLs, as a browser would.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from shop.images.processing import rendition_widths
from tests.images.support import GPS_INFO, MAKE, ORIENTATION, bomb, picture, upload


@pytest.fixture
def product(api, shop):
    return api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=3)


def media_files(app) -> list[Path]:
    root = Path(app.extensions["peakshop"].settings.instance_path) / "media"
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def fetch(client, url: str):
    """GET an absolute URL of this site through the test client, body read and closed."""
    response = client.get("/" + url.split("://", 1)[1].split("/", 1)[1])
    response.get_data()
    response.close()
    return response


def test_a_photo_is_stored_upright_small_and_without_metadata(client, api, shop, product, app):
    # 1600 x 900 as stored, EXIF orientation 6: shown rotated 90 degrees clockwise, 900 x 1600.
    response = upload(client, shop, "MUG", picture(1600, 900, orientation=6),
                      alt="  Reindeer mug,\n side view  ")
    assert response.status_code == 201, response.get_json()
    image = response.get_json()
    assert image["alt"] == "Reindeer mug, side view"
    assert (image["width"], image["height"], image["position"]) == (900, 1600, 0)
    assert [(s["width"], s["height"]) for s in image["sources"]] == [(320, 569), (640, 1138),
                                                                     (900, 1600)]
    assert image["url"] == image["sources"][-1]["url"]

    for source in image["sources"]:
        assert source["url"].startswith("http://localhost/media/products/")
        served = fetch(client, source["url"])
        assert served.status_code == 200
        assert served.mimetype == "image/webp"
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        # The name carries the content's hash: new content, new URL.
        assert hashlib.sha256(served.data).hexdigest()[:20] in source["url"]
        stored = Image.open(io.BytesIO(served.data))
        assert stored.format == "WEBP" and stored.size == (source["width"], source["height"])
        exif = stored.getexif()
        assert MAKE not in exif and GPS_INFO not in exif and ORIENTATION not in exif
        assert not {"exif", "xmp", "icc_profile"} & set(stored.info)
        # Upright: the red top edge of the stored photo is now the right edge.
        rgb = stored.convert("RGB")
        right, left = rgb.getpixel((rgb.width - 5, rgb.height // 2)), rgb.getpixel((5, 5))
        assert right[0] > 200 and right[2] < 60, right
        assert left[2] > 200 and left[0] < 60, left

    listed = client.get(f"/api/v1/shops/{shop.slug}/products/MUG").get_json()
    assert listed["images"] == [image]
    page = client.get(f"/api/v1/shops/{shop.slug}/products").get_json()
    assert page["items"][0]["images"] == [image]


def test_widths_are_never_upscaled(client, shop, product):
    wide = upload(client, shop, "MUG", picture(3000, 1000, "PNG"), content_type="image/png")
    assert [s["width"] for s in wide.get_json()["sources"]] == [320, 640, 1280]
    small = upload(client, shop, "MUG", picture(200, 100, "PNG"), content_type="image/png")
    assert [(s["width"], s["height"]) for s in small.get_json()["sources"]] == [(200, 100)]
    assert small.get_json()["position"] == 1


def test_the_raw_image_body_with_alt_in_the_query(client, shop, product):
    response = client.post(f"/api/v1/shops/{shop.slug}/products/MUG/images?alt=Mug",
                           headers=shop.auth, data=picture(700, 700, "WEBP"),
                           content_type="image/webp")
    assert response.status_code == 201, response.get_json()
    assert [s["width"] for s in response.get_json()["sources"]] == [320, 640, 700]
    # Transparent PNGs keep their transparency.
    clear = io.BytesIO()
    Image.new("RGBA", (400, 300), (0, 0, 0, 0)).save(clear, "PNG")
    response = client.post(f"/api/v1/shops/{shop.slug}/products/MUG/images?alt=Glass",
                           headers=shop.auth, data=clear.getvalue(), content_type="image/png")
    served = fetch(client, response.get_json()["url"])
    assert Image.open(io.BytesIO(served.data)).convert("RGBA").getpixel((10, 10))[3] == 0


def noise(width: int, height: int) -> bytes:
    """A PNG that does not compress: as many bytes as pixels times three."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG")
    return out.getvalue()


def _truncated_png() -> bytes:
    whole = picture(800, 600, "PNG")
    return whole[: len(whole) // 2]


HOSTILE = {
    # name: (body, form fields or None for a raw body, status, code)
    "text named .jpg": (b"hello, I am not a picture at all\n" * 10, "photo.jpg", 415,
                        "unsupported_image_type"),
    "truncated png": (_truncated_png(), "photo.png", 422, "damaged_image"),
    "truncated jpeg": (picture(800, 600)[:5_000], "photo.jpg", 422, "damaged_image"),
    "decompression bomb": (bomb(), "bomb.png", 422, "image_too_many_pixels"),
    "empty file": (b"", "empty.jpg", 400, "empty_image"),
    "gif": (None, "anim.gif", 415, "unsupported_image_type"),
    "html with a jpeg name": (b"<html><script>alert(1)</script></html>", "x.jpg", 415,
                              "unsupported_image_type"),
}


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (20, 20)).save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_are_refused_and_nothing_is_stored(client, shop, product, app, case):
    data, filename, status, code = HOSTILE[case]
    response = upload(client, shop, "MUG", _gif() if data is None else data, filename=filename)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
    assert media_files(app) == []
    assert client.get(f"/api/v1/shops/{shop.slug}/products/MUG").get_json()["images"] == []


@pytest.mark.parametrize("alt, status", [
    (None, 422), ("", 422), ("   ", 422), ("x" * 501, 422), ("bad\x00alt", 422),
    ("x" * 600_000, 413),  # past werkzeug's limit for a form field: refused while parsing
])
def test_bad_alt_text_is_refused_and_nothing_is_stored(client, shop, product, app, alt, status):
    response = upload(client, shop, "MUG", picture(400, 300), alt=alt)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert "alt" in response.get_json()["detail"]
    assert media_files(app) == []


@pytest.mark.parametrize("query, status", [("?alt=" + "y" * 501, 422), ("", 422)])
def test_bad_alt_in_the_query_is_refused(client, shop, product, app, query, status):
    response = client.post(f"/api/v1/shops/{shop.slug}/products/MUG/images{query}",
                           headers=shop.auth, data=picture(400, 300), content_type="image/jpeg")
    assert response.status_code == status
    assert "alt" in response.get_json()["detail"]
    assert media_files(app) == []


def test_too_many_bytes_is_413_before_decoding(make_app, api, shop, product):
    small_limit = make_app(max_image_bytes=20_000).test_client()
    data = noise(300, 300)
    assert len(data) > 20_000
    for response in (
            upload(small_limit, shop, "MUG", data, content_type="image/png"),
            small_limit.post(f"/api/v1/shops/{shop.slug}/products/MUG/images?alt=A",
                             headers=shop.auth, data=data, content_type="image/png")):
        assert response.status_code == 413, response.get_json()
        assert response.get_json()["code"] == "image_too_large"
        assert "20000 bytes" in response.get_json()["detail"]


def test_a_lower_pixel_limit_is_a_bomb_limit(make_app, shop, product):
    strict = make_app(max_image_pixels=100_000).test_client()
    response = upload(strict, shop, "MUG", picture(400, 300))  # 120,000 pixels
    assert response.status_code == 422
    assert "400 x 300 pixels" in response.get_json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "image/gif"])
def test_other_body_types_are_415(client, shop, product, content_type):
    response = client.post(f"/api/v1/shops/{shop.slug}/products/MUG/images?alt=A",
                           headers=shop.auth, data=b"abc", content_type=content_type)
    assert response.status_code == 415
    assert response.get_json()["code"] == "unsupported_media_type"


def test_a_form_without_the_image_field(client, shop, product):
    response = client.post(f"/api/v1/shops/{shop.slug}/products/MUG/images", headers=shop.auth,
                           data={"alt": "x", "file": (io.BytesIO(picture(50, 50)), "a.jpg")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and response.get_json()["field"] == "image"


def test_delete_removes_the_row_and_the_files(client, api, shop, product, app):
    first = upload(client, shop, "MUG", picture(700, 500)).get_json()
    second = upload(client, shop, "MUG", picture(300, 200)).get_json()
    assert len(media_files(app)) == 4  # 320, 640 and 700 px, and the small one's 300 px
    url = f"/api/v1/shops/{shop.slug}/products/MUG/images/{first['id']}"
    assert client.delete(url, headers=shop.auth).status_code == 204
    assert [image["id"] for image in client.get(
        f"/api/v1/shops/{shop.slug}/products/MUG").get_json()["images"]] == [second["id"]]
    assert len(media_files(app)) == 1
    assert fetch(client, first["url"]).status_code == 404
    again = client.delete(url, headers=shop.auth)
    assert again.status_code == 404 and again.get_json()["code"] == "unknown_image"


def test_images_stay_in_their_shop(client, api, shop, product):
    other = api.sign_up("Other shop")
    api.add_product(other, "MUG")
    mine = upload(client, shop, "MUG", picture(300, 200)).get_json()
    # Another shop's token reaches neither this shop nor, through its own SKU, this image.
    assert upload(client, other, "MUG", picture(300, 200)).status_code == 201
    url = f"/api/v1/shops/{shop.slug}/products/MUG/images/{mine['id']}"
    assert client.delete(url, headers=other.auth).status_code == 403
    foreign = f"/api/v1/shops/{other.slug}/products/MUG/images/{mine['id']}"
    assert client.delete(foreign, headers=other.auth).status_code == 404
    assert upload(client, shop, "NOPE", picture(300, 200)).status_code == 404
    anonymous = client.post(f"/api/v1/shops/{shop.slug}/products/MUG/images?alt=A",
                            data=picture(300, 200), content_type="image/jpeg")
    assert anonymous.status_code == 401


def test_a_product_holds_at_most_twenty_images(client, shop, product, app):
    tiny = picture(40, 30, "PNG")
    for _ in range(20):
        assert upload(client, shop, "MUG", tiny, content_type="image/png").status_code == 201
    files = len(media_files(app))
    refused = upload(client, shop, "MUG", tiny, content_type="image/png")
    assert refused.status_code == 409 and refused.get_json()["code"] == "too_many_images"
    assert len(media_files(app)) == files


@pytest.mark.parametrize("width, widths", [
    (3000, (320, 640, 1280)), (1280, (320, 640, 1280)), (900, (320, 640, 900)),
    (640, (320, 640)), (321, (320, 321)), (320, (320,)), (200, (200,)), (1, (1,))])
def test_rendition_widths(width, widths):
    assert rendition_widths(width) == widths


@pytest.mark.parametrize("content_type", ["image/jpeg", "application/octet-stream"])
def test_an_empty_raw_body_is_refused(client, shop, product, app, content_type):
    response = client.post(f"/api/v1/shops/{shop.slug}/products/MUG/images?alt=A",
                           headers=shop.auth, data=b"", content_type=content_type)
    assert response.status_code == 400 and response.get_json()["code"] == "empty_image"
    assert media_files(app) == []


def test_a_large_photo_keeps_its_own_size_and_shape(client, shop, product):
    """A 12 MP JPEG decodes at a fraction of its size (JPEG draft mode); the API still says
    how large the upload was, and every width keeps its shape."""
    response = upload(client, shop, "MUG", picture(4000, 3000, orientation=8))
    assert response.status_code == 201, response.get_json()
    image = response.get_json()
    assert (image["width"], image["height"]) == (3000, 4000)
    assert [(s["width"], s["height"]) for s in image["sources"]] == [(320, 427), (640, 853),
                                                                     (1280, 1707)]


def test_racing_uploads_never_pass_the_limit(app, api, shop, product):
    """Eight uploads race for the last three places: exactly three get them."""
    from concurrent.futures import ThreadPoolExecutor

    tiny = picture(40, 30, "PNG")
    web = app.test_client()
    for _ in range(17):
        assert upload(web, shop, "MUG", tiny, content_type="image/png").status_code == 201

    def attempt(_):
        return upload(app.test_client(), shop, "MUG", tiny, content_type="image/png").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))
    assert statuses == [201] * 3 + [409] * 5
    assert len(web.get(f"/api/v1/shops/{shop.slug}/products/MUG").get_json()["images"]) == 20


def test_an_image_added_or_removed_changes_the_products_etag(make_app, api, shop):
    """Product JSON and pages are cached by ETag: a new or deleted picture must show (with
    the per-process memo of catalog facts off, as the HTTP cache's own tests do)."""
    from tests.images.support import picture, upload

    client = make_app(catalog_revalidation_memo_ms=0).test_client()
    api.add_product(shop, "MUG", stock=5)
    url = f"/api/v1/shops/{shop.slug}/products/MUG"
    before = client.get(url).headers["ETag"]
    added = upload(client, shop, "MUG", picture(400, 300))
    assert added.status_code == 201, added.get_json()
    with_image = client.get(url, headers={"If-None-Match": before})
    assert with_image.status_code == 200 and with_image.get_json()["images"]
    assert client.delete(f"{url}/images/{added.get_json()['id']}",
                         headers=shop.auth).status_code == 204
    without = client.get(url, headers={"If-None-Match": with_image.headers["ETag"]})
    assert without.status_code == 200 and without.get_json()["images"] == []
