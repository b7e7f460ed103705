"""How the pages say things: money, availability, order status, dates. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Symbols shoppers recognise; other currencies are written with their ISO code.
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
# ISO 4217 minor-unit exponents that differ from the usual two decimals.
MINOR_UNIT_DIGITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0,
                     "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3}
# Below this many units the page says how many are left, so shoppers know to hurry.
LOW_STOCK = 10


def format_money(amount: int, currency: str) -> str:
    """An amount in minor units as shoppers read it: 1250, "EUR" -> "€12.50"."""
    digits = MINOR_UNIT_DIGITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    number = f"{major:,}" + (f".{minor:0{digits}d}" if digits else "")
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol is None:
        return f"{sign}{number} {currency}"
    return f"{sign}{symbol}{number}"


def availability_text(available: int) -> str:
    """What the shelf looks like: "Sold out", "3 left" or "In stock"."""
    if available <= 0:
        return "Sold out"
    if available <= LOW_STOCK:
        return f"{available} left"
    return "In stock"


@dataclass(frozen=True)
class StatusWords:
    title: str
    explanation: str
    final: bool  # no further change is coming, so the page stops refreshing


ORDER_STATUS_WORDS = {
    "pending_payment": StatusWords("Waiting for payment",
                                   "Your order is reserved while the payment goes through.",
                                   final=False),
    "paid": StatusWords("Paid", "Thank you! Your payment went through and we are confirming "
                        "your order with the warehouse.", final=False),
    "confirmed": StatusWords("Confirmed", "Your order is confirmed and will be packed soon.",
                             final=True),
    "payment_failed": StatusWords("Payment failed", "The payment did not go through, so "
                                  "nothing was charged and nothing is reserved.", final=True),
    "cancelled": StatusWords("Cancelled", "This order was cancelled and nothing was charged.",
                             final=True),
}

FAILURE_REASONS = {
    "card_declined": "The card was declined.",
    "reservation_expired": "The payment did not arrive before the reservation ran out.",
}


def status_words(status: str) -> StatusWords:
    """The words for an order status; an unknown one is shown as is and keeps refreshing."""
    return ORDER_STATUS_WORDS.get(status, StatusWords(status.replace("_", " ").capitalize(),
                                                      "", final=False))


def failure_text(reason: str | None) -> str | None:
    """Why an order failed, in a sentence."""
    if not reason:
        return None
    return FAILURE_REASONS.get(reason, f"Reason given: {reason.replace('_', ' ')}.")


def format_date(day: date | str | None) -> str | None:
    """A date as "Tuesday 22 December 2026"; ISO strings are accepted."""
    if day is None:
        return None
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return f"{day:%A} {day.day} {day:%B %Y}"


def christmas_text(arrives_before_christmas: bool | None) -> str | None:
    """The promise shoppers care about in December, or None when no date is known yet."""
    if arrives_before_christmas is None:
        return None
    if arrives_before_christmas:
        return "Arrives before Christmas."
    return "Arrives after Christmas Eve."
