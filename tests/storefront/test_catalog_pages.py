"""The catalog and product pages."""

import re

from tests.storefront.pages import forms_in


def test_catalog_lists_products_with_price_and_availability(client, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=3)
    api.add_product(shop, "HAT", name="Elf hat", price=900, stock=0)
    api.add_product(shop, "SOCKS", name="Wool socks", price=1500, stock=500)
    response = client.get(f"/shops/{shop.slug}/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<title>Nordpol Geschenke · peakshop</title>" in page
    assert f'href="/shops/{shop.slug}/products/MUG"' in page
    for shown in ("Reindeer mug", "€12.50", "3 left", "Elf hat", "Sold out", "€15.00",
                  "In stock"):
        assert shown in page


def test_shop_address_without_slash_redirects_to_the_catalog(client, shop):
    response = client.get(f"/shops/{shop.slug}")
    assert response.status_code == 308
    assert response.headers["Location"].endswith(f"/shops/{shop.slug}/")


def test_search_box_filters_and_keeps_the_query(client, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug")
    api.add_product(shop, "HAT", name="Elf hat")
    page = client.get(f"/shops/{shop.slug}/?q=reindeer").get_data(as_text=True)
    assert "Reindeer mug" in page and "Elf hat" not in page
    search = [form for form in forms_in(page) if form.method == "get"][0]
    assert search.fields == {"q": "reindeer"}
    assert "<title>“reindeer” · Nordpol Geschenke · peakshop</title>" in page


def test_a_search_without_hits_says_so(client, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug")
    page = client.get(f"/shops/{shop.slug}/?q=sleigh").get_data(as_text=True)
    assert "No products match “sleigh”." in page


def test_category_links_filter_the_catalog(client, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", category="Kitchen")
    api.add_product(shop, "HAT", name="Elf hat", category="Clothing")
    page = client.get(f"/shops/{shop.slug}/").get_data(as_text=True)
    assert f'href="/shops/{shop.slug}/?category=Kitchen"' in page
    assert f'href="/shops/{shop.slug}/?category=Clothing"' in page
    kitchen = client.get(f"/shops/{shop.slug}/?category=Kitchen").get_data(as_text=True)
    assert "Reindeer mug" in kitchen and "Elf hat" not in kitchen
    assert re.search(r'href="[^"]*category=Kitchen"\s+aria-current="page"', kitchen)


def test_next_page_link_walks_the_whole_catalog(client, api, shop):
    for number in range(5):
        api.add_product(shop, f"P{number}", name=f"Product number {number}")
    seen, url = [], f"/shops/{shop.slug}/?limit=2"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r"Product number (\d)", page)
        match = re.search(r'<a rel="next" href="([^"]+)"', page)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert seen == ["0", "1", "2", "3", "4"]


def test_a_forged_cursor_shows_the_catalog_with_the_problem(client, api, shop):
    response = client.get(f"/shops/{shop.slug}/?cursor=not-a-cursor")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page and "&#39;cursor&#39; is not one" in page
    assert 'name="q"' in page  # the search form is still there


def test_a_bad_page_size_is_a_4xx_page(client, shop):
    response = client.get(f"/shops/{shop.slug}/?limit=5000")
    assert response.status_code == 422
    assert "must be a whole number from 1 to 100" in response.get_data(as_text=True)


def test_unknown_shop_is_a_404_page(client):
    response = client.get("/shops/no-such-shop/")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is no shop &#39;no-such-shop&#39;" in response.get_data(as_text=True)


def test_product_page_shows_price_stock_and_the_add_to_cart_form(client, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=3, category="Kitchen")
    response = client.get(f"/shops/{shop.slug}/products/MUG")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<title>Reindeer mug · Nordpol Geschenke · peakshop</title>" in page
    assert "€12.50" in page and "3 left" in page
    assert '<label for="quantity">Quantity</label>' in page
    (form,) = [form for form in forms_in(page) if form.method == "post"]
    assert form.action == f"/shops/{shop.slug}/cart/items"
    assert set(form.fields) == {"csrf_token", "sku", "quantity"}
    # A first visit's page is shared by every visitor: no one's token (see test_http_cache).
    assert form.fields["sku"] == "MUG" and form.fields["csrf_token"] == ""


def test_sold_out_product_has_no_add_to_cart_form(client, api, shop):
    api.add_product(shop, "HAT", stock=0)
    page = client.get(f"/shops/{shop.slug}/products/HAT").get_data(as_text=True)
    assert "Sold out" in page
    assert [form for form in forms_in(page) if form.method == "post"] == []


def test_availability_is_live(client, api, shop):
    api.add_product(shop, "MUG", stock=3)
    assert api.buy(shop, "MUG", 2).status_code == 201
    assert "1 left" in client.get(f"/shops/{shop.slug}/products/MUG").get_data(as_text=True)


def test_unknown_product_is_a_404_page(client, shop):
    response = client.get(f"/shops/{shop.slug}/products/NOPE")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "The shop has no product with SKU &#39;NOPE&#39;" in page
    assert f'href="/shops/{shop.slug}/"' in page  # a way back


def test_merchant_text_is_escaped(client, api, shop):
    api.add_product(shop, "XSS", name="<script>alert(1)</script>",
                    category="<b>bold</b>")
    for url in (f"/shops/{shop.slug}/", f"/shops/{shop.slug}/products/XSS"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page and "<b>bold</b>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_pages_send_a_strict_content_security_policy(client, shop):
    response = client.get(f"/shops/{shop.slug}/")
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_stylesheet_is_served(client):
    response = client.get("/static/storefront.css")
    assert response.status_code == 200
    assert "@media" in response.get_data(as_text=True)
    response.close()


def test_nul_characters_are_a_400_page_not_a_database_error(client, api, shop):
    api.add_product(shop, "MUG")
    for url in (f"/shops/{shop.slug}/?q=%00", f"/shops/{shop.slug}/?category=a%00",
                "/shops/a%00b/", f"/shops/{shop.slug}/products/MUG%00"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "NUL character" in response.get_data(as_text=True)
