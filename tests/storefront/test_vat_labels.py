"""The storefront says beside every price whether it includes VAT, and a net shop's checkout
shows the VAT it adds and the total with it (pages through Flask's test client)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest


def make_net(client, shop):
    response = client.patch(f"/api/v1/shops/{shop.slug}/settings", headers=shop.auth,
                            json={"prices_include_vat": False})
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def mug(api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=5)
    return shop


def test_a_gross_shop_labels_prices_incl_vat(shopper, mug):
    for url in (f"/shops/{mug.slug}/", f"/shops/{mug.slug}/products/MUG"):
        page = shopper.page(url)
        assert '<span class="vat-label">incl. VAT</span>' in page and "excl. VAT" not in page
    shopper.add_to_cart(mug.slug, "MUG", 2)
    cart = shopper.page(f"/shops/{mug.slug}/cart")
    assert "Price (<span class=\"vat-label\">incl. VAT</span>)" in cart
    assert "Prices include VAT" in cart and "excl. VAT" not in cart
    checkout = shopper.page(f"/shops/{mug.slug}/checkout?country=FR")
    assert 'data-testid="order-total">€25.00<' in checkout
    assert "Includes €4.17 VAT (20 % for France)" in checkout  # 2500 / 6 = 416.7
    assert 'data-testid="order-vat"' not in checkout


def test_a_net_shop_labels_prices_excl_vat_and_adds_the_vat_at_checkout(app, shopper, client,
                                                                       api, mug):
    make_net(client, mug)
    for url in (f"/shops/{mug.slug}/", f"/shops/{mug.slug}/products/MUG"):
        page = shopper.page(url)
        assert '<span class="vat-label">excl. VAT</span>' in page and "incl. VAT" not in page
    shopper.add_to_cart(mug.slug, "MUG", 2)
    cart = shopper.page(f"/shops/{mug.slug}/cart?country=FR")
    assert "Price (<span class=\"vat-label\">excl. VAT</span>)" in cart
    assert "Prices exclude VAT: 20 % VAT for France is added at checkout" in cart
    assert "€30.00 in all" in cart
    checkout = shopper.page(f"/shops/{mug.slug}/checkout?country=FR")
    # 2 x 12.50 net, free standard shipping, 20 % of 25.00 added.
    assert 'data-testid="order-vat">€5.00<' in checkout
    assert "Total with VAT" in checkout and 'data-testid="order-total">€30.00<' in checkout
    assert "Prices above are excl. VAT" in checkout
    # The form's expected total is the cart's (net) total: the order goes through.
    placed = shopper.checkout(mug.slug)  # to Finland, 25.5 %: 637.5 -> 638
    assert placed.status_code == 303, placed.get_data(as_text=True)
    order_page = shopper.page(urlsplit(placed.headers["Location"]).path + "?"
                              + urlsplit(placed.headers["Location"]).query)
    assert "Total with VAT" in order_page and "€31.38" in order_page and "€6.38" in order_page


def test_switching_relabels_a_page_a_browser_cached(shopper, client, make_app, mug):
    """The switch marks the shop's products changed, so a revalidation gets the new label.
    Asked of another app on the same database (another worker process): each process
    remembers validators for a second, which would answer this one 304 on its own."""
    url = f"/shops/{mug.slug}/products/MUG"
    first = shopper.client.get(url)
    assert "incl. VAT" in first.get_data(as_text=True)
    make_net(client, mug)
    again = make_app().test_client().get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and "excl. VAT" in again.get_data(as_text=True)
