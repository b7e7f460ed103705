"""The catalog and product pages show product images as responsive, described <img> tags."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.images.support import picture, upload


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.found.append(dict(attrs))


def images_of(html: str) -> list[dict]:
    parser = Images()
    parser.feed(html)
    return parser.found


def test_pages_show_every_width_with_alt_and_size(client, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=3)
    api.add_product(shop, "HAT", name="Elf hat", price=900, stock=3)
    main = upload(client, shop, "MUG", picture(1600, 1200), alt="Mug <with> \"quotes\"")
    second = upload(client, shop, "MUG", picture(500, 500), alt="Mug from above")
    assert main.status_code == second.status_code == 201

    [card] = images_of(client.get(f"/shops/{shop.slug}/").get_data(as_text=True))
    widths = [source["width"] for source in main.get_json()["sources"]]
    assert widths == [320, 640, 1280]
    assert card["srcset"].count("w, ") == 2 and card["srcset"].endswith(" 1280w")
    assert [part.split()[1] for part in card["srcset"].split(", ")] == ["320w", "640w", "1280w"]
    assert card["alt"] == 'Mug <with> "quotes"'  # escaped in the HTML, read back whole
    assert (card["width"], card["height"]) == ("1600", "1200")
    assert card["loading"] == "lazy" and card["sizes"]
    assert card["src"].startswith("/media/products/")

    page = client.get(f"/shops/{shop.slug}/products/MUG")
    first, more = images_of(page.get_data(as_text=True))
    assert first["class"] == "main-image" and first["fetchpriority"] == "high"
    assert "loading" not in first  # the main picture is the page: not deferred
    assert more["alt"] == "Mug from above" and more["loading"] == "lazy"
    paths = [source["url"].split("localhost", 1)[1] for source in second.get_json()["sources"]]
    assert more["srcset"] == f"{paths[0]} 320w, {paths[1]} 500w"  # its own 500 px, no more
    for image in (first, more):
        with client.get(image["src"]) as served:
            assert served.status_code == 200 and served.mimetype == "image/webp"
    # The hat has no image: no <img>, no empty frame.
    assert images_of(client.get(f"/shops/{shop.slug}/products/HAT").get_data(as_text=True)) == []
    assert "img-src 'self' data:;" in page.headers["Content-Security-Policy"]
