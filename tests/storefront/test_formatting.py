"""The pure wording helpers: money, availability, statuses, dates and refusals."""

from datetime import date

import pytest

from shop.core.errors import Conflict, InvalidInput
from shop.storefront import formatting, forms
from shop.storefront.messages import problem_text, with_labels


@pytest.mark.parametrize(("amount", "currency", "shown"), [
    (1250, "EUR", "€12.50"),
    (0, "EUR", "€0.00"),
    (5, "EUR", "€0.05"),
    (123456789, "EUR", "€1,234,567.89"),
    (-500, "EUR", "-€5.00"),
    (1999, "USD", "$19.99"),
    (100, "GBP", "£1.00"),
    (1250, "JPY", "¥1,250"),
    (12345, "KWD", "12.345 KWD"),
    (1999, "CHF", "19.99 CHF"),
    (99, "SEK", "0.99 SEK"),
])
def test_money_is_written_from_minor_units(amount, currency, shown):
    assert formatting.format_money(amount, currency) == shown


@pytest.mark.parametrize(("available", "shown"), [
    (-1, "Sold out"), (0, "Sold out"), (1, "1 left"), (3, "3 left"),
    (formatting.LOW_STOCK, f"{formatting.LOW_STOCK} left"),
    (formatting.LOW_STOCK + 1, "In stock"), (5000, "In stock"),
])
def test_availability_says_how_many_are_left_when_few(available, shown):
    assert formatting.availability_text(available) == shown


@pytest.mark.parametrize(("status", "title", "final"), [
    ("pending_payment", "Waiting for payment", False),
    ("paid", "Paid", False),
    ("confirmed", "Confirmed", True),
    ("payment_failed", "Payment failed", True),
    ("cancelled", "Cancelled", True),
    ("on_hold", "On hold", False),
])
def test_order_statuses_in_words(status, title, final):
    words = formatting.status_words(status)
    assert (words.title, words.final) == (title, final)


@pytest.mark.parametrize(("reason", "shown"), [
    (None, None),
    ("card_declined", "The card was declined."),
    ("reservation_expired", "The payment did not arrive before the reservation ran out."),
    ("fraud_suspected", "Reason given: fraud suspected."),
])
def test_failure_reasons_in_words(reason, shown):
    assert formatting.failure_text(reason) == shown


@pytest.mark.parametrize(("day", "shown"), [
    (None, None),
    (date(2026, 12, 22), "Tuesday 22 December 2026"),
    ("2026-12-05", "Saturday 5 December 2026"),
])
def test_dates_are_written_out(day, shown):
    assert formatting.format_date(day) == shown


@pytest.mark.parametrize(("before", "shown"), [
    (None, None), (True, "Arrives before Christmas."), (False, "Arrives after Christmas Eve."),
])
def test_christmas_promise(before, shown):
    assert formatting.christmas_text(before) == shown


@pytest.mark.parametrize(("problem", "kwargs", "shown"), [
    (Conflict("only 3 of 'MUG' available", code="insufficient_stock",
              extra={"sku": "MUG", "available": 3}), {"requested": 5},
     "Only 3 of Mug left (you asked for 5)."),
    (Conflict("only 3 of 'MUG' available", code="insufficient_stock",
              extra={"sku": "MUG", "available": 3}), {"requested": 2, "in_cart": 2},
     "Only 3 of Mug left, and your cart already holds 2."),
    (Conflict("only 0 of 'MUG' available", code="insufficient_stock",
              extra={"sku": "MUG", "available": 0}), {"requested": 1},
     "Mug is sold out."),
    (Conflict("not enough stock", code="insufficient_stock",
              extra={"lines": [{"sku": "MUG", "requested": 4, "available": 1},
                               {"sku": "HAT", "requested": 1, "available": 0}]}), {},
     "Only 1 of Mug left (you asked for 4). HAT is sold out. Nothing was reserved: lower "
     "the quantities in your cart and try again."),
    (InvalidInput("'shipping_address.country' must be a two-letter ISO code like DE: "
                  "got 'Germany'"), {},
     "“Country” must be a two-letter ISO code like DE: got 'Germany'"),
    (InvalidInput("'email' is not an e-mail address: got 'ada'"), {},
     "“E-mail” is not an e-mail address: got 'ada'"),
])
def test_refusals_are_reworded_for_shoppers(problem, kwargs, shown):
    assert problem_text(problem, {"MUG": "Mug"}, **kwargs) == shown


def test_unknown_fields_keep_their_names():
    assert with_labels("'colour' is odd") == "'colour' is odd"


@pytest.mark.parametrize(("typed", "minimum", "expected"), [
    ("1", 1, 1), (" 7 ", 1, 7), ("0", 0, 0), ("1000", 1, 1000),
])
def test_form_quantities_that_are_accepted(typed, minimum, expected):
    assert forms.quantity(typed, minimum=minimum) == expected


@pytest.mark.parametrize(("typed", "minimum", "message"), [
    ("", 1, "whole number"), ("two", 1, "whole number"), ("-1", 0, "whole number"),
    ("1.5", 1, "whole number"), ("0", 1, "at least 1"), ("1000000001", 1, "from 0"),
    ("9" * 5000, 1, "from 0"), (None, 1, "whole number"),
])
def test_form_quantities_that_are_refused(typed, minimum, message):
    with pytest.raises(InvalidInput, match=message):
        forms.quantity(typed, minimum=minimum)


def test_dummy_gateway_offers_labelled_test_cards():
    assert forms.card_choices("dummy") == [("tok_ok", "Test card that pays (tok_ok)"),
                                           ("tok_declined",
                                            "Test card that is declined (tok_declined)")]
    assert forms.card_choices("stripe") == []
