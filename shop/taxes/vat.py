"""EU VAT by destination country, on gross (VAT-inclusive) or net prices.

A shop selling to consumers shows gross prices: the shopper pays exactly the price shown,
and the order records how much of it is VAT. A shop that sets `prices_include_vat` to false
shows net prices: VAT by destination is added on top, and the order's total is net plus VAT
(docs/vat.md). Under the EU's one-stop-shop rules for
distance sales, the rate is the destination country's; outside the EU no EU VAT is due (0).

Rounding: VAT is worked out per line (unit price x quantity) and for shipping, each rounded
half up to the cent, then summed (gross: amount x r / (100 + r); net: amount x r / 100).
Rounding per line is what an invoice shows line by line, so the order's tax is exactly the
sum of the taxes its lines show.

Rates are the standard rates in force on 1 January 2026 (European Commission, "VAT rates
applied in the Member States"); reduced rates (books, food) are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# Percent, by ISO 3166-1 alpha-2 code (Greece is GR here, not the EL of EU documents).
EU_STANDARD_RATES: dict[str, Decimal] = {
    "AT": Decimal("20"), "BE": Decimal("21"), "BG": Decimal("20"), "CY": Decimal("19"),
    "CZ": Decimal("21"), "DE": Decimal("19"), "DK": Decimal("25"), "EE": Decimal("24"),
    "ES": Decimal("21"), "FI": Decimal("25.5"), "FR": Decimal("20"), "GR": Decimal("24"),
    "HR": Decimal("25"), "HU": Decimal("27"), "IE": Decimal("23"), "IT": Decimal("22"),
    "LT": Decimal("21"), "LU": Decimal("17"), "LV": Decimal("21"), "MT": Decimal("18"),
    "NL": Decimal("21"), "PL": Decimal("23"), "PT": Decimal("23"), "RO": Decimal("21"),
    "SE": Decimal("25"), "SI": Decimal("22"), "SK": Decimal("23"),
}


def rate_for(country: str) -> Decimal:
    """The standard VAT rate in percent for a destination; 0 outside the EU."""
    return EU_STANDARD_RATES.get(country.upper(), Decimal(0))


def included_vat(gross_amount: int, rate_percent: Decimal) -> int:
    """The VAT inside a gross amount in minor units, rounded half up: gross * r / (100 + r)."""
    if gross_amount <= 0 or rate_percent == 0:
        return 0
    vat = Decimal(gross_amount) * rate_percent / (Decimal(100) + rate_percent)
    return int(vat.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def order_vat(line_totals: list[int], shipping_amount: int, country: str) -> int:
    """The VAT included in an order: each line's and the shipping's, rounded, then summed."""
    rate = rate_for(country)
    return sum(included_vat(amount, rate) for amount in [*line_totals, shipping_amount])


def added_vat(net_amount: int, rate_percent: Decimal) -> int:
    """The VAT due on a net amount in minor units, rounded half up: net * r / 100."""
    if net_amount <= 0 or rate_percent == 0:
        return 0
    vat = Decimal(net_amount) * rate_percent / Decimal(100)
    return int(vat.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def amount_vat(amount: int, rate_percent: Decimal, prices_include_vat: bool) -> int:
    """The VAT of one priced amount: inside it when gross, on top of it when net."""
    if prices_include_vat:
        return included_vat(amount, rate_percent)
    return added_vat(amount, rate_percent)


@dataclass(frozen=True)
class TaxedTotal:
    """What an order costs with its VAT; no side effects built it."""

    tax_amount: int    # the VAT of the order: included in the total, or added to it
    total_amount: int  # what the shopper pays


def order_total(line_totals: list[int], shipping_amount: int, country: str,
                prices_include_vat: bool) -> TaxedTotal:
    """The order's VAT (per line and for shipping, each rounded, then summed) and its total:
    lines + shipping when prices are gross, lines + shipping + VAT when they are net."""
    rate = rate_for(country)
    tax = sum(amount_vat(amount, rate, prices_include_vat)
              for amount in [*line_totals, shipping_amount])
    total = sum(line_totals) + shipping_amount
    return TaxedTotal(tax, total if prices_include_vat else total + tax)
