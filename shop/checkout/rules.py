"""What a cart must satisfy before any stock is held for it: pure decisions, no I/O.

Each rule raises the problem the shopper sees, naming the fix. They run in this order, so
the first answer is the one the shopper can act on first.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop.cart.service import PricedLine
from shop.checkout.request import ExpectedTotal
from shop.core.errors import Conflict, InvalidInput
from shop.core.settings import Settings
from shop.core.validation import MAX_AMOUNT, money_json


@dataclass(frozen=True)
class Limits:
    """How long holds last and how much one line may take; built from the settings."""

    reservation_ttl_s: int = 900
    action_hold_ttl_s: int = 120   # orders waiting on the shopper (3-D Secure)
    max_line_quantity: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(reservation_ttl_s=settings.reservation_ttl_s,
                   action_hold_ttl_s=settings.action_hold_ttl_s,
                   max_line_quantity=settings.max_line_quantity)


def cart_currency(lines: list[PricedLine]) -> str:
    """The one currency every line is priced in; 409 `currency_mismatch` otherwise."""
    currencies = sorted({line.product.currency for line in lines})
    if len(currencies) > 1:
        priced = ", ".join(f"{line.product.sku} in {line.product.currency}" for line in lines)
        raise Conflict(f"the cart mixes currencies ({priced}) and one order is paid in one "
                       "currency: nothing was reserved; remove the lines priced differently "
                       "from the rest", code="currency_mismatch",
                       extra={"currencies": currencies})
    return currencies[0]


def check_line_quantities(lines: list[PricedLine], maximum: int) -> None:
    """422 `quantity_limit` when a line holds more units than one order may take."""
    over = [line for line in lines if line.quantity > maximum]
    if over:
        raise InvalidInput(
            f"an order takes at most {maximum} units of one product: lower "
            + ", ".join(f"{line.product.sku} from {line.quantity}" for line in over)
            + f" to {maximum} or less; nothing was reserved", code="quantity_limit",
            extra={"max_quantity": maximum,
                   "lines": [{"sku": line.product.sku, "quantity": line.quantity}
                             for line in over]})


def check_total(total: int, currency: str, expected: ExpectedTotal | None) -> None:
    """The total is what the shopper saw, and one that can be charged."""
    if expected is not None and (expected.amount != total
                                 or expected.currency not in (None, currency)):
        seen = f"{expected.amount} {expected.currency or currency}"
        raise Conflict(f"the cart's total is now {total} {currency}, not the {seen} you "
                       "expected (a price changed): nothing was reserved; review the cart "
                       "and check out again with the new expected_total",
                       code="price_changed",
                       extra={"total": money_json(total, currency),
                              "expected_total": money_json(expected.amount,
                                                           expected.currency or currency)})
    if total <= 0:
        raise InvalidInput("the cart's total is 0: an order must cost something; nothing "
                           "was reserved", code="zero_total")
    if total > MAX_AMOUNT:
        raise InvalidInput(f"the cart's total of {total} {currency} is above the "
                           f"{MAX_AMOUNT} one order may cost: split it into several orders",
                           code="total_too_large")
