"""Refusals from the domain services, reworded for a shopper reading a form. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping

from shop.core.errors import Problem
from shop.storefront.formatting import format_money

# The services name fields as the JSON API spells them; the pages show the form's labels.
FIELD_LABELS = {
    "shipping_address.country": "Country",
    "email": "E-mail",
    "name": "Full name",
    "line1": "Address",
    "line2": "Address line 2",
    "city": "City",
    "postal_code": "Postal code",
    "country": "Country",
    "quantity": "Quantity",
    "token": "Card",
}


def shortfall_text(name: str, available: int, requested: int, in_cart: int = 0) -> str:
    """One product the shop has too few of, with how many are left."""
    if available <= 0:
        return f"{name} is sold out."
    if in_cart:
        return f"Only {available} of {name} left, and your cart already holds {in_cart}."
    return f"Only {available} of {name} left (you asked for {requested})."


def with_labels(detail: str, labels: Mapping[str, str] = FIELD_LABELS) -> str:
    """The detail with `'field'` names replaced by the labels the form shows."""
    for field, label in labels.items():  # longer, dotted names come first in FIELD_LABELS
        detail = detail.replace(f"'{field}'", f"“{label}”")
    return detail[:1].upper() + detail[1:]


def problem_text(problem: Problem, names: Mapping[str, str], *, requested: int = 0,
                 in_cart: int = 0) -> str:
    """What to tell the shopper about a refused cart change or checkout.

    `names` maps SKUs to product names; `requested` and `in_cart` describe a cart change
    (the API's cart refusal does not repeat the quantity asked for).
    """
    if problem.code == "insufficient_stock":
        lines = problem.extra.get("lines")
        if lines is not None:
            return " ".join(shortfall_text(names.get(line["sku"], line["sku"]),
                                           line["available"], line["requested"])
                            for line in lines) + (" Nothing was reserved: lower the "
                                                  "quantities in your cart and try again.")
        sku = problem.extra.get("sku", "")
        return shortfall_text(names.get(sku, sku), problem.extra.get("available", 0),
                              requested, in_cart)
    text = CHECKOUT_REFUSALS.get(problem.code)
    if text is not None:
        return text.format(**_facts(problem))
    return with_labels(problem.detail)


# Checkout refusals in a shopper's words; the page shows the cart as it is now beside them.
CHECKOUT_REFUSALS = {
    "price_changed": "A price changed since you opened this page: the total is now {total}. "
                     "Nothing was charged or reserved. Check your order and pay again.",
    "currency_mismatch": "Your cart holds products priced in different currencies "
                         "({currencies}), which cannot be paid together. Nothing was charged "
                         "or reserved: remove the products priced differently.",
    "quantity_limit": "One order takes at most {max_quantity} of a product: lower the "
                      "quantity and try again.",
    "zero_total": "Your cart comes to nothing: there is nothing to pay for.",
    "total_too_large": "This order is too large to pay in one go: split it into smaller "
                       "orders.",
}


def _facts(problem: Problem) -> dict[str, str]:
    total = problem.extra.get("total") or {}
    return {"total": format_money(total["amount"], total["currency"]) if total else "",
            "currencies": ", ".join(problem.extra.get("currencies", [])),
            "max_quantity": str(problem.extra.get("max_quantity", ""))}
