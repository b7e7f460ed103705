"""Merchants reorder a product's images and edit their alt text, over the API and in the
back-office; positions stay 0, 1, 2, ... per product, even when changes race."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.images.support import picture, upload
from tests.shop.backoffice import BackOffice, text
from tests.shop.merchants.conftest import team  # noqa: F401  (fixture)


@pytest.fixture
def images(client, api, shop):
    """Three images of MUG, uploaded in order A, B, C: their ids."""
    api.add_product(shop, "MUG", name="Reindeer mug", stock=3)
    ids = []
    for alt in ("A", "B", "C"):
        response = upload(client, shop, "MUG", picture(60, 40, "PNG"), alt=alt,
                          content_type="image/png")
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def listed(client, shop, sku="MUG") -> list[tuple[int, int, str]]:
    product = client.get(f"/api/v1/shops/{shop.slug}/products/{sku}").get_json()
    return [(image["id"], image["position"], image["alt"]) for image in product["images"]]


def patch(client, shop, image_id, body, sku="MUG", auth=None):
    return client.patch(f"/api/v1/shops/{shop.slug}/products/{sku}/images/{image_id}",
                        headers=auth or shop.auth, json=body)


def test_moving_an_image_shifts_the_others(client, shop, images):
    a, b, c = images
    moved = patch(client, shop, c, {"position": 0})
    assert moved.status_code == 200, moved.get_json()
    assert (moved.get_json()["id"], moved.get_json()["position"]) == (c, 0)
    assert listed(client, shop) == [(c, 0, "C"), (a, 1, "A"), (b, 2, "B")]
    # Past the last place is the end.
    assert patch(client, shop, a, {"position": 99}).get_json()["position"] == 2
    assert listed(client, shop) == [(c, 0, "C"), (b, 1, "B"), (a, 2, "A")]
    assert patch(client, shop, b, {"position": 1}).status_code == 200  # where it is already
    assert listed(client, shop) == [(c, 0, "C"), (b, 1, "B"), (a, 2, "A")]


def test_alt_text_is_edited_alone_or_with_a_move(client, shop, images):
    a, b, c = images
    edited = patch(client, shop, b, {"alt": "  Mug,\n from above "})
    assert edited.status_code == 200
    assert edited.get_json()["alt"] == "Mug, from above"
    both = patch(client, shop, a, {"alt": "Mug, side", "position": 2}).get_json()
    assert (both["alt"], both["position"]) == ("Mug, side", 2)
    assert listed(client, shop) == [(b, 0, "Mug, from above"), (c, 1, "C"), (a, 2, "Mug, side")]
    # The catalog's cards show the main image, now B.
    cards = client.get(f"/api/v1/shops/{shop.slug}/products").get_json()["items"]
    assert cards[0]["images"][0]["id"] == b


def test_deleting_closes_the_gap(client, shop, images):
    a, b, c = images
    assert client.delete(f"/api/v1/shops/{shop.slug}/products/MUG/images/{b}",
                         headers=shop.auth).status_code == 204
    assert listed(client, shop) == [(a, 0, "A"), (c, 1, "C")]
    added = upload(client, shop, "MUG", picture(60, 40, "PNG"), alt="D",
                   content_type="image/png").get_json()
    assert added["position"] == 2


@pytest.mark.parametrize("body, field", [
    ({"position": -1}, "position"), ({"position": "1"}, "position"),
    ({"position": True}, "position"), ({"position": 1.5}, "position"),
    ({"position": None}, "position"), ({"alt": ""}, "alt"), ({"alt": "   "}, "alt"),
    ({"alt": "x" * 501}, "alt"), ({"alt": 7}, "alt"), ({"alt": "bad\x00alt"}, "alt"),
    ({"alt": None}, "alt"), ({}, "alt"), ({"position": 0, "colour": "red"}, "colour"),
])
def test_bad_changes_are_422_and_change_nothing(client, shop, images, body, field):
    before = listed(client, shop)
    response = patch(client, shop, images[2], body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["detail"]
    assert listed(client, shop) == before


def test_bodies_that_are_not_a_json_object(client, shop, images):
    url = f"/api/v1/shops/{shop.slug}/products/MUG/images/{images[0]}"
    malformed = client.patch(url, headers=shop.auth, data="{", content_type="application/json")
    assert malformed.status_code == 400
    form = client.patch(url, headers=shop.auth, data={"position": "0"})
    assert form.status_code == 415
    listed_ = client.patch(url, headers=shop.auth, json=[0])
    assert listed_.status_code == 422
    for response in (malformed, form, listed_):
        assert response.mimetype == "application/problem+json"


def test_unknown_images_and_other_products(client, api, shop, images):
    api.add_product(shop, "HAT")
    assert patch(client, shop, 999_999, {"position": 0}).status_code == 404
    # An image of MUG is not reachable through HAT, nor through a SKU that does not exist.
    through_hat = patch(client, shop, images[0], {"position": 2}, sku="HAT")
    assert through_hat.status_code == 404
    assert through_hat.get_json()["code"] == "unknown_image"
    assert patch(client, shop, images[0], {"position": 2}, sku="NOPE").status_code == 404
    other = api.sign_up("Other shop")
    assert patch(client, shop, images[0], {"position": 2}, auth=other.auth).status_code == 403
    assert client.patch(f"/api/v1/shops/{shop.slug}/products/MUG/images/{images[0]}",
                        json={"position": 2}).status_code == 401
    assert [image_id for image_id, _, _ in listed(client, shop)] == images


def test_a_viewer_reads_but_does_not_reorder(client, shop, images, team):  # noqa: F811
    viewer = team["viewer"]
    refused = patch(client, shop, images[2], {"position": 0}, auth=viewer.auth)
    assert refused.status_code == 403
    staff = patch(client, shop, images[2], {"position": 0}, auth=team["staff"].auth)
    assert staff.status_code == 200


def test_a_change_moves_the_products_etag(make_app, shop, images):
    client = make_app(catalog_revalidation_memo_ms=0).test_client()
    url = f"/api/v1/shops/{shop.slug}/products/MUG"
    before = client.get(url).headers["ETag"]
    assert patch(client, shop, images[2], {"position": 0}).status_code == 200
    moved = client.get(url, headers={"If-None-Match": before})
    assert moved.status_code == 200 and moved.get_json()["images"][0]["id"] == images[2]
    assert patch(client, shop, images[2], {"alt": "New words"}).status_code == 200
    edited = client.get(url, headers={"If-None-Match": moved.headers["ETag"]})
    assert edited.status_code == 200 and edited.get_json()["images"][0]["alt"] == "New words"


def test_racing_moves_keep_positions_dense_and_unique(app, api, shop):
    """Twelve merchants' tabs move, rename and delete images of one product at once (threads
    with their own connections, on each database): whatever order they land in, the product
    ends with positions 0..n-1, each image once."""
    web = app.test_client()
    api.add_product(shop, "MUG", stock=3)
    ids = [upload(web, shop, "MUG", picture(40, 30, "PNG"), alt=f"Image {n}",
                  content_type="image/png").get_json()["id"] for n in range(8)]
    doomed = set(ids[:2])
    chooser = random.Random(17)
    moves = [(chooser.choice(ids[2:]), chooser.randrange(0, 9)) for _ in range(24)]

    def move(change):
        image_id, position = change
        return patch(app.test_client(), shop, image_id, {"position": position,
                                                         "alt": f"moved to {position}"}
                     ).status_code

    def delete(image_id):
        return app.test_client().delete(
            f"/api/v1/shops/{shop.slug}/products/MUG/images/{image_id}",
            headers=shop.auth).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        deleted = [pool.submit(delete, image_id) for image_id in doomed]
        statuses = list(pool.map(move, moves))
    assert statuses == [200] * len(moves)
    assert [future.result() for future in deleted] == [204, 204]
    final = listed(web, shop)
    assert [position for _, position, _ in final] == list(range(6))
    assert sorted(image_id for image_id, _, _ in final) == sorted(set(ids) - doomed)


def test_the_back_office_edits_alt_text_and_place(client, shop, images, team):  # noqa: F811
    a, b, c = images
    owner = BackOffice.sign_in(client, shop.slug, shop.email)
    page = owner.get("/products/MUG/edit")
    assert page.status_code == 200
    html = text(page)
    assert 'id="images"' in html and f'id="image-{c}-alt"' in html
    assert html.count("(main image)") == 3  # one choice per image's place list
    saved = owner.post(f"/products/MUG/images/{c}", {"alt": "Mug, top view", "place": "1"})
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(f"/products/MUG/edit?image_saved={c}#images")
    assert listed(client, shop) == [(c, 0, "Mug, top view"), (a, 1, "A"), (b, 2, "B")]
    shown = text(owner.get(f"/products/MUG/edit?image_saved={c}"))
    assert "Image saved." in shown
    assert '<option value="1" selected>1 (main image)</option>' in shown.split(
        f'id="image-{c}-place"')[1]

    blank = owner.post(f"/products/MUG/images/{a}", {"alt": "  ", "place": "1"})
    assert blank.status_code == 422 and "alt" in text(blank)
    bad_place = owner.post(f"/products/MUG/images/{a}", {"alt": "A", "place": "0"})
    assert bad_place.status_code == 422
    no_csrf = owner.post(f"/products/MUG/images/{a}", {"alt": "A", "place": "1"},
                         with_csrf=False)
    assert no_csrf.status_code == 400
    assert listed(client, shop) == [(c, 0, "Mug, top view"), (a, 1, "A"), (b, 2, "B")]


def test_a_viewer_sees_the_images_without_forms(client, shop, images, team):  # noqa: F811
    viewer = BackOffice.sign_in(client, shop.slug, team["viewer"].email)
    html = text(viewer.get("/products/MUG/edit"))
    assert 'id="images"' in html and "1 (main image): A" in html
    assert 'name="alt"' not in html
    refused = viewer.post(f"/products/MUG/images/{images[2]}", {"alt": "C", "place": "1"})
    assert refused.status_code == 403
    assert [image_id for image_id, _, _ in listed(client, shop)] == images


def test_the_back_office_adds_and_removes_images(make_app, api, shop, team):  # noqa: F811
    import io

    web = make_app(max_image_bytes=200_000).test_client()
    api.add_product(shop, "MUG", name="Reindeer mug", stock=3)
    owner = BackOffice.sign_in(web, shop.slug, shop.email)
    assert "Up to 0.2 MB." in text(owner.get("/products/MUG/edit"))

    def add(data: bytes, alt: str = "Mug, front", name: str = "mug.png"):
        return owner.post("/products/MUG/images",
                          {"image": (io.BytesIO(data), name), "alt": alt})

    first = add(picture(600, 400, "PNG"))
    assert first.status_code == 303, text(first)
    assert "image_added=" in first.headers["Location"]
    second = add(picture(300, 200), alt="Mug, back", name="back.jpg")
    assert second.status_code == 303
    images = listed(web, shop)
    assert [(position, alt) for _, position, alt in images] == [(0, "Mug, front"),
                                                                (1, "Mug, back")]
    assert "Image added" in text(web.get(first.headers["Location"]))

    not_a_picture = add(b"hello, I am text\n" * 10, name="fake.png")
    assert not_a_picture.status_code == 415 and "JPEG, PNG or WebP" in text(not_a_picture)
    no_alt = add(picture(60, 40), alt="")
    assert no_alt.status_code == 422 and "alt text" in text(no_alt)
    no_file = owner.post("/products/MUG/images", {"alt": "Nothing"})
    assert no_file.status_code == 422 and "choose a picture" in text(no_file)
    too_big = add(os.urandom(300_000), name="huge.png")
    assert too_big.status_code == 413 and "0.2 MB" in text(too_big)
    assert len(listed(web, shop)) == 2

    removed = owner.post(f"/products/MUG/images/{images[0][0]}/remove")
    assert removed.status_code == 303 and "image_removed=1" in removed.headers["Location"]
    assert [(image_id, position) for image_id, position, _ in listed(web, shop)] == [
        (images[1][0], 0)]
    assert owner.post(f"/products/MUG/images/{images[1][0]}/remove",
                      with_csrf=False).status_code == 400
    viewer = BackOffice.sign_in(web, shop.slug, team["viewer"].email)
    assert viewer.post(f"/products/MUG/images/{images[1][0]}/remove").status_code == 403
    assert viewer.post("/products/MUG/images", {
        "image": (io.BytesIO(picture(60, 40)), "a.jpg"), "alt": "x"}).status_code == 403
    assert len(listed(web, shop)) == 1
