"""The cart: adding from the product page, changing and removing lines, CSRF."""

from tests.storefront.pages import SAME_ORIGIN, form_posting_to


def cart_total(shopper, slug: str) -> str:
    page = shopper.page(f"/shops/{slug}/cart")
    return page.split('class="amount total">', 1)[1].split("<", 1)[0]


def test_empty_cart_page(shopper, shop):
    page = shopper.page(f"/shops/{shop.slug}/cart")
    assert "Your cart is empty." in page
    assert "<title>Your cart · Nordpol Geschenke · peakshop</title>" in page


def test_add_to_cart_redirects_to_the_cart_with_the_line(shopper, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=5)
    response = shopper.add_to_cart(shop.slug, "MUG", 2)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/shops/{shop.slug}/cart"
    page = shopper.page(f"/shops/{shop.slug}/cart")
    assert "Added 2 × Reindeer mug to your cart." in page
    assert "Reindeer mug" in page and 'value="2"' in page
    assert cart_total(shopper, shop.slug) == "€25.00"


def test_adding_again_adds_to_the_quantity(shopper, api, shop):
    api.add_product(shop, "MUG", price=1250, stock=5)
    shopper.add_to_cart(shop.slug, "MUG", 1)
    shopper.add_to_cart(shop.slug, "MUG", 2)
    assert cart_total(shopper, shop.slug) == "€37.50"


def test_the_cart_id_lives_in_the_session_per_shop(client, shopper, api, shop):
    other = api.sign_up("Other shop")
    api.add_product(shop, "MUG", price=1250)
    api.add_product(other, "MUG", price=300)
    shopper.add_to_cart(shop.slug, "MUG", 1)
    shopper.add_to_cart(other.slug, "MUG", 1)
    with client.session_transaction() as session:
        carts = session["carts"]
    assert set(carts) == {shop.slug, other.slug} and carts[shop.slug] != carts[other.slug]
    assert cart_total(shopper, shop.slug) == "€12.50"
    assert cart_total(shopper, other.slug) == "€3.00"
    # The session's cart is the real one the JSON API sees.
    assert client.get(f"/api/v1/carts/{carts[shop.slug]}").get_json()["total"]["amount"] == 1250


def test_bad_quantity_rerenders_the_product_form(shopper, api, shop):
    api.add_product(shop, "MUG", stock=5)
    response = shopper.add_to_cart(shop.slug, "MUG", "lots")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "“Quantity” must be a whole number" in page
    assert 'value="lots"' in page and 'action="/shops/' in page


def test_zero_quantity_is_refused_on_the_product_page(shopper, api, shop):
    api.add_product(shop, "MUG", stock=5)
    response = shopper.add_to_cart(shop.slug, "MUG", 0)
    assert response.status_code == 422
    assert "“Quantity” must be at least 1" in response.get_data(as_text=True)


def test_insufficient_stock_says_how_many_are_left(shopper, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", stock=3)
    response = shopper.add_to_cart(shop.slug, "MUG", 5)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Only 3 of Reindeer mug left (you asked for 5)." in page
    assert "3 left" in page


def test_insufficient_stock_counts_what_the_cart_holds(shopper, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", stock=3)
    shopper.add_to_cart(shop.slug, "MUG", 2)
    response = shopper.add_to_cart(shop.slug, "MUG", 2)
    assert response.status_code == 409
    assert "Only 3 of Reindeer mug left, and your cart already holds 2." in \
        response.get_data(as_text=True)


def test_adding_an_unknown_product_is_a_404_page(shopper, client, api, shop):
    api.add_product(shop, "MUG")
    form = form_posting_to(shopper.page(f"/shops/{shop.slug}/products/MUG"), "/cart/items")
    response = client.post(form.action, data={**form.fields, "sku": "NOPE"},
                           headers=SAME_ORIGIN)
    assert response.status_code == 404
    assert "text/html" in response.content_type


def test_update_changes_the_quantity(shopper, client, api, shop):
    api.add_product(shop, "MUG", price=1000, stock=9)
    shopper.add_to_cart(shop.slug, "MUG", 1)
    form = shopper.line_form(shop.slug, "MUG")
    response = client.post(form.action, data={**form.fields, "quantity": "4"})
    assert response.status_code == 303
    page = shopper.page(f"/shops/{shop.slug}/cart")
    assert "quantity set to 4" in page
    assert cart_total(shopper, shop.slug) == "€40.00"


def test_remove_button_drops_the_line(shopper, client, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug")
    api.add_product(shop, "HAT", name="Elf hat", price=500)
    shopper.add_to_cart(shop.slug, "MUG", 1)
    shopper.add_to_cart(shop.slug, "HAT", 1)
    form = shopper.line_form(shop.slug, "MUG")
    response = client.post(form.action, data={**form.fields, "remove": "1"})
    assert response.status_code == 303
    page = shopper.page(f"/shops/{shop.slug}/cart")
    assert "Removed Reindeer mug." in page
    assert "/products/MUG" not in page and "Elf hat" in page
    assert cart_total(shopper, shop.slug) == "€5.00"


def test_update_beyond_stock_rerenders_the_cart_with_409(shopper, client, api, shop):
    api.add_product(shop, "MUG", name="Reindeer mug", stock=3)
    shopper.add_to_cart(shop.slug, "MUG", 1)
    form = shopper.line_form(shop.slug, "MUG")
    response = client.post(form.action, data={**form.fields, "quantity": "7"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Only 3 of Reindeer mug left (you asked for 7)." in page
    assert "Your cart" in page and 'value="1"' in page


def test_bad_update_quantity_is_a_422(shopper, client, api, shop):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG", 1)
    form = shopper.line_form(shop.slug, "MUG")
    response = client.post(form.action, data={**form.fields, "quantity": "-3"})
    assert response.status_code == 422
    assert "“Quantity” must be a whole number" in response.get_data(as_text=True)


def test_a_cart_that_expired_is_an_empty_cart(shopper, client, api, shop, redis_client):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG", 1)
    redis_client.flushall()
    assert "Your cart is empty." in shopper.page(f"/shops/{shop.slug}/cart")
    with client.session_transaction() as session:
        assert shop.slug not in session["carts"]
    # Adding opens a fresh cart.
    assert shopper.add_to_cart(shop.slug, "MUG", 1).status_code == 303
    assert "Product MUG" in shopper.page(f"/shops/{shop.slug}/cart")


def test_a_cart_line_whose_stock_shrank_is_flagged(shopper, client, api, shop):
    api.add_product(shop, "MUG", stock=5)
    shopper.add_to_cart(shop.slug, "MUG", 4)
    client.patch(f"/api/v1/shops/{shop.slug}/products/MUG", headers=shop.auth,
                 json={"stock": 2})
    assert "2 left: lower the quantity before checking out." in \
        shopper.page(f"/shops/{shop.slug}/cart")


def test_post_without_csrf_token_is_refused(shopper, client, api, shop):
    api.add_product(shop, "MUG")
    shopper.page(f"/shops/{shop.slug}/products/MUG")  # the session has a token now
    response = client.post(f"/shops/{shop.slug}/cart/items",
                           data={"sku": "MUG", "quantity": "1"})
    assert response.status_code == 403
    assert "This form has expired or was sent from another site" in \
        response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "carts" not in session


def test_post_with_another_sessions_token_is_refused(app, shopper, client, api, shop):
    api.add_product(shop, "MUG")
    form = form_posting_to(shopper.page(f"/shops/{shop.slug}/products/MUG"), "/cart/items")
    stranger = app.test_client()
    stranger.get(f"/shops/{shop.slug}/products/MUG")
    response = stranger.post(form.action, data=form.fields)
    assert response.status_code == 403

