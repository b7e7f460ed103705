"""Checkout: the form, placing the order, double submits and refusals."""

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from common.order_stream import STREAM
from shop.orders.models import Order, OutboxMessage
from tests.storefront.pages import CHECKOUT_FIELDS, forms_in


def count_orders(app) -> int:
    with app.extensions["peakshop"].database.reading() as session:
        return session.scalar(select(func.count()).select_from(Order))


def test_checkout_page_has_the_form_and_the_summary(shopper, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250)
    shopper.add_to_cart(shop.slug, "MUG", 2)
    response = shopper.client.get(f"/shops/{shop.slug}/checkout")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "<title>Checkout · Nordpol Geschenke · peakshop</title>" in page
    assert "2 × Reindeer mug" in page and "Place order and pay" in page
    assert 'data-testid="order-total">€25.00<' in page
    for field, label in (("email", "E-mail"), ("name", "Full name"), ("line1", "Address"),
                         ("postal_code", "Postal code"), ("city", "City"),
                         ("country", "Country"), ("payment_token", "Test card")):
        assert f'<label for="{field}">{label}</label>' in page
    assert "Test card that pays (tok_ok)" in page
    assert "Test card that is declined (tok_declined)" in page
    (form,) = [form for form in forms_in(page) if form.method == "post"]
    assert form.action == f"/shops/{shop.slug}/checkout"
    assert len(form.fields["idempotency_key"]) == 32 and form.fields["csrf_token"]


def test_every_render_gets_a_new_idempotency_key(shopper, api, shop):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG")
    first = shopper.checkout_form(shop.slug).fields["idempotency_key"]
    second = shopper.checkout_form(shop.slug).fields["idempotency_key"]
    assert first != second


def test_checkout_with_an_empty_cart_goes_back_to_the_cart(shopper, client, shop):
    response = client.get(f"/shops/{shop.slug}/checkout")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/shops/{shop.slug}/cart"
    assert "Your cart is empty: add products before checking out." in \
        shopper.page(f"/shops/{shop.slug}/cart")


def test_paying_places_the_order_and_shows_it(app, shopper, client, api, shop, redis_client):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=3)
    shopper.add_to_cart(shop.slug, "MUG", 2)
    response = shopper.checkout(shop.slug)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    order_id = location.path.rsplit("/", 1)[1]
    token = parse_qs(location.query)["token"][0]
    # The page's token is the very one the JSON API accepts.
    order = api.order(order_id, token).get_json()
    assert order["status"] == "paid" and order["total"]["amount"] == 2500
    assert order["shipping_address"]["country"] == "FI"
    page = shopper.page(f"{location.path}?{location.query}")
    assert "Paid" in page and "€25.00" in page
    # The paid order went to the workers' queue, and the cart is gone.
    assert redis_client.xlen(STREAM) == 1
    assert "Your cart is empty." in shopper.page(f"/shops/{shop.slug}/cart")
    assert "1 left" in shopper.page(f"/shops/{shop.slug}/products/MUG")


def test_a_double_submit_places_one_order(app, shopper, client, api, shop):
    api.add_product(shop, "MUG", stock=3)
    shopper.add_to_cart(shop.slug, "MUG", 1)
    form = shopper.checkout_form(shop.slug)
    data = {**form.fields, **CHECKOUT_FIELDS}
    first = client.post(form.action, data=data)
    second = client.post(form.action, data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count_orders(app) == 1
    with app.extensions["peakshop"].database.reading() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert "2 left" in shopper.page(f"/shops/{shop.slug}/products/MUG")


def test_a_declined_card_shows_payment_failed_and_keeps_the_cart(app, shopper, client, api,
                                                                shop):
    api.add_product(shop, "MUG", name="Reindeer mug", stock=3)
    shopper.add_to_cart(shop.slug, "MUG", 1)
    response = shopper.checkout(shop.slug, payment_token="tok_declined")
    assert response.status_code == 303
    page = shopper.page(response.headers["Location"])
    assert "Payment failed" in page and "The card was declined." in page
    assert 'http-equiv="refresh"' not in page
    assert f'href="/shops/{shop.slug}/checkout"' in page  # try again
    # The stock came back and the cart is still there for a second try.
    assert "3 left" in shopper.page(f"/shops/{shop.slug}/products/MUG")
    assert "Reindeer mug" in shopper.page(f"/shops/{shop.slug}/cart")
    retry = shopper.checkout(shop.slug)
    assert "Paid" in shopper.page(retry.headers["Location"])
    assert count_orders(app) == 2


def test_bad_input_rerenders_the_form_with_the_values(app, shopper, api, shop):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG", 1)
    response = shopper.checkout(shop.slug, country="Finland", city="Röváníemi <&>")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert ("“Country” must be a two-letter ISO 3166-1 country code like DE, FR or FI: "
            "got &#39;Finland&#39;") in page
    assert '<option value="FI">Finland</option>' in page  # a list to pick from instead
    assert 'value="Röváníemi &lt;&amp;&gt;"' in page
    assert 'value="shopper@example.com"' in page
    assert count_orders(app) == 0


def test_a_bad_email_is_refused(app, shopper, api, shop):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG", 1)
    response = shopper.checkout(shop.slug, email="not-an-address")
    assert response.status_code == 422
    assert "“E-mail” is not an e-mail address" in response.get_data(as_text=True)


def test_an_unknown_payment_token_is_refused(app, shopper, api, shop):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG", 1)
    response = shopper.checkout(shop.slug, payment_token="tok_stolen")
    assert response.status_code == 422
    assert "The dummy gateway takes &#39;tok_ok&#39;" in response.get_data(as_text=True)
    assert count_orders(app) == 0


def test_a_form_without_its_key_is_refused(app, shopper, client, api, shop):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG", 1)
    form = shopper.checkout_form(shop.slug)
    data = {**form.fields, **CHECKOUT_FIELDS}
    del data["idempotency_key"]
    response = client.post(form.action, data=data)
    assert response.status_code == 422
    assert "reload the checkout page" in response.get_data(as_text=True)
    assert count_orders(app) == 0


def test_stock_gone_before_paying_is_a_409_naming_what_is_left(app, shopper, client, api,
                                                               shop):
    api.add_product(shop, "MUG", name="Reindeer mug", stock=3)
    shopper.add_to_cart(shop.slug, "MUG", 3)
    form = shopper.checkout_form(shop.slug)
    assert api.buy(shop, "MUG", 2).status_code == 201  # someone else was quicker
    response = client.post(form.action, data={**form.fields, **CHECKOUT_FIELDS})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Only 1 of Reindeer mug left (you asked for 3). Nothing was reserved" in page
    assert 'name="email"' in page
    assert count_orders(app) == 1


def test_posting_checkout_without_a_cart_goes_to_the_empty_cart(app, shopper, client, api,
                                                                shop):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG", 1)
    form = shopper.checkout_form(shop.slug)
    with client.session_transaction() as session:
        session["carts"] = {}
    response = client.post(form.action, data={**form.fields, **CHECKOUT_FIELDS})
    assert response.status_code == 303
    assert "Your cart is empty" in shopper.page(response.headers["Location"])
    assert count_orders(app) == 0


def test_checkout_of_an_unknown_shop_is_a_404_page(client):
    response = client.get("/shops/nowhere/checkout")
    assert response.status_code == 404
    assert "text/html" in response.content_type


def test_a_nul_character_in_the_address_is_a_400(app, shopper, api, shop):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG", 1)
    response = shopper.checkout(shop.slug, city="Rovaniemi\x00")
    assert response.status_code == 400
    assert count_orders(app) == 0
