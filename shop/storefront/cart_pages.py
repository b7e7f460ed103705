"""The cart: add from a product page, change or remove lines, see the total."""

from __future__ import annotations

from flask import flash, redirect, request, url_for

from shop.cart import service as carts
from shop.cart.api import cart_json
from shop.catalog import service as catalog
from shop.catalog.models import Product
from shop.core import resources
from shop.core.errors import Conflict, InvalidInput, Problem
from shop.core.resources import Resources
from shop.core.timeutil import utcnow
from shop.fulfilment import countries
from shop.images.views import product_images
from shop.merchants.models import Merchant
from shop.storefront import cart_session, delivery, formatting, forms
from shop.storefront.blueprint import blueprint, find_shop, load_shop, page
from shop.storefront.catalog_pages import variant_choices
from shop.storefront.messages import problem_text

# What a shopper can fix by changing the form; anything else gets the error page.
FORM_PROBLEMS = (InvalidInput, Conflict)


def priced_cart(current: Resources, merchant: Merchant,
                slug: str) -> tuple[carts.Cart | None, list[carts.PricedLine]]:
    """This browser's cart in the shop with its lines at today's prices."""
    cart = cart_session.load(current.redis, slug, merchant.id)
    if cart is None:
        return None, []
    with current.database.reading() as session:
        return cart, carts.price_lines(session, cart)


def render_cart(merchant: Merchant, cart: carts.Cart | None, lines: list[carts.PricedLine],
                status: int = 200, error: str | None = None):
    """The cart page; `error` explains why the last change was refused."""
    summary = (cart_json(cart, lines, merchant.currency,
                         prices_include_vat=merchant.prices_include_vat)
               if cart is not None else None)
    available = {line.product.sku: line.product.available for line in lines}
    estimate = None
    if lines:
        with resources.current().database.reading() as session:
            country = delivery.default_country(session, merchant.id,
                                               request.args.get("country"))
            estimate = delivery.delivery_view(session, merchant.id, lines, country, None,
                                              utcnow(), merchant.prices_include_vat)
    return page("cart.html", status, shop=merchant, summary=summary, available=available,
                error=error, delivery=estimate, countries=countries.choices(),
                format_date=formatting.format_date)


@blueprint.get("/shops/<slug>/cart")
def show_cart(slug: str):
    """The cart's lines, quantities and total."""
    current = resources.current()
    merchant = load_shop(slug)
    cart, lines = priced_cart(current, merchant, slug)
    cart_session.visit(slug)
    return render_cart(merchant, cart, lines)


@blueprint.post("/shops/<slug>/cart/items")
def add_to_cart(slug: str):
    """Add the product page's quantity to the cart, then show the cart."""
    current = resources.current()
    sku = request.form.get("sku", "")
    with current.database.reading() as session:
        merchant = find_shop(session, slug)
        product = catalog.get_product(session, merchant.id, sku)
    cart = cart_session.load(current.redis, slug, merchant.id)
    in_cart = cart.quantities.get(sku, 0) if cart else 0
    added = 0
    try:
        added = forms.quantity(request.form.get("quantity"), minimum=1)
        wanted = carts.parse_quantity(in_cart + added)
        cart_id = cart.cart_id if cart else _open_cart(current, merchant, slug)
        carts.set_quantity(current.redis, current.database, cart_id, sku, wanted,
                           current.settings.cart_ttl_s,
                           max_quantity=current.settings.max_line_quantity)
    except FORM_PROBLEMS as problem:
        message = problem_text(problem, {sku: product.name}, requested=added, in_cart=in_cart)
        with current.database.reading() as session:
            # A size that was refused is shown on its product's page, with the sizes to pick.
            shown = (session.get(Product, product.parent_id) if product.parent_id
                     else product)
            choices = variant_choices(session, shown, chosen_sku=sku)
            return page("product.html", problem.status, shop=merchant, product=shown,
                        quantity=request.form.get("quantity", ""), error=message,
                        images=product_images(session, shown.id), **choices)
    flash(f"Added {added} × {product.name} to your cart.")
    return redirect(url_for(".show_cart", slug=slug), 303)


def _open_cart(current: Resources, merchant: Merchant, slug: str) -> str:
    cart_id = carts.create_cart(current.redis, merchant.id, current.settings.cart_ttl_s)
    cart_session.remember(slug, cart_id)
    return cart_id


@blueprint.post("/shops/<slug>/cart/items/<sku>")
def update_cart_line(slug: str, sku: str):
    """Set a line's quantity, or remove it, then show the cart."""
    current = resources.current()
    merchant = load_shop(slug)
    cart, lines = priced_cart(current, merchant, slug)
    if cart is None:
        flash("Your cart had expired, so it was emptied.")
        return redirect(url_for(".show_cart", slug=slug), 303)
    names = {line.product.sku: line.product.name for line in lines}
    quantity = 0
    try:
        removing = "remove" in request.form
        quantity = 0 if removing else forms.quantity(request.form.get("quantity"), minimum=0)
        carts.set_quantity(current.redis, current.database, cart.cart_id, sku, quantity,
                           current.settings.cart_ttl_s,
                           max_quantity=current.settings.max_line_quantity)
    except FORM_PROBLEMS as problem:
        return _refused(current, merchant, slug, problem, names, quantity)
    name = names.get(sku, sku)
    flash(f"Removed {name}." if quantity == 0 else f"{name}: quantity set to {quantity}.")
    return redirect(url_for(".show_cart", slug=slug), 303)


def _refused(current: Resources, merchant: Merchant, slug: str, problem: Problem,
             names: dict[str, str], quantity: int):
    cart, lines = priced_cart(current, merchant, slug)
    return render_cart(merchant, cart, lines, problem.status,
                       problem_text(problem, names, requested=quantity))
