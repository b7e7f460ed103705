"""VAT included in consumer prices: by destination, rounded per line, adding up to the cent."""

from decimal import Decimal

import pytest

from shop.fulfilment import countries
from shop.taxes.vat import EU_STANDARD_RATES, included_vat, order_vat, rate_for


@pytest.mark.parametrize("gross, rate, vat", [
    (1190, "19", 190),        # 10.00 + 1.90
    (1, "19", 0),             # 0.16 of a cent
    (3, "19", 0),             # 0.479 -> 0
    (4, "25.5", 1),           # 0.8127 -> 1
    (1999, "20", 333),        # 333.17
    (1997, "25.5", 406),      # 405.76 -> 406
    (2521, "21", 438),        # 437.53 -> 438
    (105, "5", 5),            # exactly 5.0
    (63, "5", 3),             # exactly 3.0
    (21, "5", 1),             # exactly 1.0
    (0, "20", 0),
    (999_999_999_999, "27", 212_598_425_197),
])
def test_vat_inside_a_gross_amount(gross, rate, vat):
    assert included_vat(gross, Decimal(rate)) == vat


def test_half_a_cent_rounds_up():
    assert included_vat(3, Decimal(20)) == 1       # 0.5
    assert included_vat(999, Decimal(20)) == 167   # 166.5
    assert included_vat(1, Decimal(100)) == 1      # 0.5


def test_order_vat_is_the_sum_of_rounded_lines_and_shipping():
    lines = [3 * 333, 7 * 1, 1999]   # 999, 7, 1999
    shipping = 495
    per_line = [included_vat(amount, Decimal(20)) for amount in [*lines, shipping]]
    assert per_line == [167, 1, 333, 83]  # 166.5 -> 167, 1.17, 333.17, 82.5 -> 83
    assert order_vat(lines, shipping, "FR") == sum(per_line) == 584


def test_outside_the_eu_no_vat_and_every_member_has_a_rate():
    assert rate_for("CH") == 0 and rate_for("US") == 0 and rate_for("GB") == 0
    assert order_vat([1999], 990, "NO") == 0
    assert len(EU_STANDARD_RATES) == 27
    assert set(EU_STANDARD_RATES) <= set(countries.country_names())


def test_the_country_list_is_iso_3166_1():
    names = countries.country_names()
    assert len(names) == 249
    assert names["FI"] == "Finland" and "XX" not in names and "EU" not in names
    assert countries.parse_country(" fr ") == "FR"
    for bad in ("XX", "ZZ", "EU", "UK", "FRA", "", None, 12, "é", "F"):
        with pytest.raises(Exception) as refused:
            countries.parse_country(bad, "shipping_address.country")
        assert refused.value.status == 422
        assert "'shipping_address.country'" in refused.value.detail
