"""`peakshop up`'s demo shop comes with pictures, drawn on the spot and stored like uploads."""

from __future__ import annotations

from shop.demo import seed_demo_shop
from shop.images.demo_pictures import DEMO_PICTURES


def test_the_demo_shop_has_pictures(app, client):
    resources = app.extensions["peakshop"]
    slug, _, _ = seed_demo_shop(resources.database, app.extensions["peakshop_media"])
    products = client.get(f"/api/v1/shops/{slug}/products?limit=50").get_json()["items"]
    pictured = {product["sku"]: product["images"] for product in products if product["images"]}
    assert set(pictured) == set(DEMO_PICTURES)
    for sku, images in pictured.items():
        [image] = images
        assert image["alt"] == DEMO_PICTURES[sku][1]
        assert [source["width"] for source in image["sources"]] == [320, 640, 1280]
    page = client.get(f"/shops/{slug}/").get_data(as_text=True)
    assert page.count('class="card-image"') == len(DEMO_PICTURES)
    # A second start finds the shop there and adds nothing.
    assert seed_demo_shop(resources.database, app.extensions["peakshop_media"]) is None
