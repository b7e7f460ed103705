"""The checkout page's answers to the refusals that keep money from being taken twice."""

from sqlalchemy import func, select

from shop.orders.models import Order
from shop.payments.dummy import charges
from tests.storefront.pages import CHECKOUT_FIELDS


def count_orders(app) -> int:
    with app.extensions["peakshop"].database.reading() as session:
        return session.scalar(select(func.count()).select_from(Order))


def test_the_form_carries_the_total_it_shows(shopper, api, shop):
    api.add_product(shop, "MUG", price=1250)
    shopper.add_to_cart(shop.slug, "MUG", 2)
    form = shopper.checkout_form(shop.slug)
    assert form.fields["expected_total_amount"] == "2500"
    assert form.fields["expected_total_currency"] == "EUR"


def test_a_price_changed_since_the_page_was_shown_is_not_charged(app, shopper, client, api,
                                                                 shop, redis_client):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=3)
    shopper.add_to_cart(shop.slug, "MUG", 2)
    form = shopper.checkout_form(shop.slug)
    assert client.patch(f"/api/v1/shops/{shop.slug}/products/MUG", headers=shop.auth,
                        json={"price": 1500}).status_code == 200
    response = client.post(form.action, data={**form.fields, **CHECKOUT_FIELDS})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "A price changed since you opened this page: the total is now €30.00." in page
    # the form now shows, and carries, the new total
    assert 'name="expected_total_amount" value="3000"' in page
    assert count_orders(app) == 0 and charges(redis_client) == []
    again = shopper.checkout(shop.slug)
    assert again.status_code == 303
    assert [charge["amount"] for charge in charges(redis_client)] == [3000]


def test_a_second_form_for_an_ordered_cart_shows_the_order(app, shopper, client, api, shop,
                                                           redis_client):
    """Two tabs, two forms, two keys: the second lands on the first's order, unpaid again."""
    api.add_product(shop, "MUG", stock=3)
    shopper.add_to_cart(shop.slug, "MUG", 1)
    first_tab = shopper.checkout_form(shop.slug)
    second_tab = shopper.checkout_form(shop.slug)
    first = client.post(first_tab.action, data={**first_tab.fields, **CHECKOUT_FIELDS})
    second = client.post(second_tab.action, data={**second_tab.fields, **CHECKOUT_FIELDS})
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    page = shopper.page(second.headers["Location"])
    assert "This cart was already ordered: here is that order." in page
    assert count_orders(app) == 1 and len(charges(redis_client)) == 1


def test_a_quantity_over_the_cap_is_refused_on_the_product_page(app, shopper, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", stock=500)
    response = shopper.add_to_cart(shop.slug, "MUG", 101)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "One order takes at most 100 of a product: lower the quantity" in page
    assert 'max="100"' in page


def test_a_cart_in_two_currencies_is_explained(app, shopper, client, api, shop, redis_client):
    """A product whose currency changed while in the cart (written straight to the table, as
    data from before a shop had one currency)."""
    from sqlalchemy import update

    from shop.catalog.models import Product

    api.add_product(shop, "MUG", name="Reindeer mug", price=1000)
    api.add_product(shop, "TEA", name="Winter tea", price=500)
    shopper.add_to_cart(shop.slug, "MUG", 1)
    shopper.add_to_cart(shop.slug, "TEA", 1)
    form = shopper.checkout_form(shop.slug)
    with app.extensions["peakshop"].database.transaction() as session:
        session.execute(update(Product).where(Product.sku == "TEA").values(currency="USD"))
    response = client.post(form.action, data={**form.fields, **CHECKOUT_FIELDS})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "priced in different currencies (EUR, USD)" in page
    assert count_orders(app) == 0 and charges(redis_client) == []


def test_a_free_cart_is_explained(app, shopper, client, api, shop, redis_client):
    api.add_product(shop, "CARD", name="Greeting card", price=0)
    shopper.add_to_cart(shop.slug, "CARD", 1)
    response = shopper.checkout(shop.slug)
    assert response.status_code == 422
    assert "Your cart comes to nothing" in response.get_data(as_text=True)
    assert count_orders(app) == 0 and charges(redis_client) == []
