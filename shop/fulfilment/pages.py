"""Carriers as back-office pages: the list with today's bookings, and an edit form for the
rates, the cut-off hour, capacity, where it ships from (country and region, whose public
holidays close it) and whether a carrier is down. Changes go through
`shop.fulfilment.service.update_carrier`, the same as PATCH .../carriers/{id}."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, g
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, StringField
from wtforms.validators import InputRequired, Optional, ValidationError

from shop.core import resources
from shop.core.errors import InvalidInput, Problem
from shop.core.timeutil import utcnow
from shop.fulfilment import service
from shop.fulfilment.booking import calendar_of
from shop.fulfilment.working_days import upcoming_holidays
from shop.merchants import roles
from shop.merchants import service as merchants
from shop.merchants.access import acting
from shop.merchants.page_kit import render_page, see_other, submitted
from shop.storefront.formatting import MINOR_UNIT_DIGITS

blueprint = Blueprint("carriers", __name__, url_prefix="/shops/<slug>/carriers")

MONEY_FIELDS = ("domestic_rate", "eu_rate", "world_rate", "free_shipping_over")


def _finite(form, field) -> None:
    if field.data is not None and not field.data.is_finite():
        raise ValidationError("type an amount like 4.90")


class CarrierForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired()])
    daily_capacity = IntegerField("Parcels per day", validators=[InputRequired()])
    transit_days = IntegerField("Days in transit", validators=[InputRequired()])
    priority = IntegerField("Priority", validators=[InputRequired()],
                            description="0 is offered first")
    origin_country = StringField("Ships from (country code)", validators=[InputRequired()],
                                 description="ISO 3166-1 alpha-2, like DE")
    domestic_rate = DecimalField("Domestic rate", validators=[InputRequired(), _finite])
    eu_rate = DecimalField("EU rate", validators=[InputRequired(), _finite])
    world_rate = DecimalField("Rest of the world rate", validators=[InputRequired(), _finite])
    free_shipping_over = DecimalField("Free shipping from", validators=[Optional(), _finite],
                                      description="Order value; leave empty to keep as is")
    cutoff_hour = IntegerField("Cut-off hour (UTC)", validators=[InputRequired()],
                               description="Orders from this hour on leave the next day; "
                                           "24 means any time today")
    is_down = BooleanField("Down today (its orders are rebooked on other carriers)")
    origin_subdivision = StringField("Ships from (region)", validators=[Optional()],
                                     description="ISO 3166-2, like DE-BY, for the region's own "
                                                 "holidays; empty: the country's only")
    # Unticked by default, so a form sent without it keeps the public holidays.
    works_on_public_holidays = BooleanField("Works on public holidays and over Christmas "
                                            "(only its own days off close it)")

    def service_data(self, currency: str) -> dict:
        """The JSON API's PATCH body for this form, money in minor units."""
        data = {name: getattr(self, name).data for name in (
            "name", "daily_capacity", "transit_days", "priority", "cutoff_hour", "is_down")}
        data["origin_country"] = self.origin_country.data.strip().upper()
        data["origin_subdivision"] = (self.origin_subdivision.data or "").strip() or None
        data["public_holidays"] = not self.works_on_public_holidays.data
        for name in MONEY_FIELDS:
            amount = getattr(self, name).data
            if amount is not None:
                data[name] = minor_units(amount, currency, getattr(self, name).label.text)
        return data


def minor_units(amount: Decimal, currency: str, label: str) -> int:
    """4.90 EUR -> 490; more decimals than the currency has is refused, not rounded."""
    scaled = amount.scaleb(MINOR_UNIT_DIGITS.get(currency, 2))
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"'{label}' has more decimals than {currency} has: got {amount}")
    return int(scaled)


def major_units(amount: int | None, currency: str) -> Decimal | None:
    if amount is None:
        return None
    return Decimal(amount).scaleb(-MINOR_UNIT_DIGITS.get(currency, 2))


@blueprint.get("")
def list_carriers(slug: str):
    """The shop's carriers, preferred first, with their rates and today's bookings."""
    who = acting()
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        views = service.list_carriers(db, who.merchant_id, utcnow().date())
        return render_page("merchant/carriers.html", shop=shop, who=who, carriers=views,
                           may_write=roles.may(who.role, "carriers.write"))


@blueprint.route("/<int:carrier_id>/edit", methods=["GET", "POST"])
def edit(slug: str, carrier_id: int):
    """Change a carrier's rates, cut-off, capacity, or mark it down for the day."""
    who = acting()
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        carrier = service.get_carrier(db, who.merchant_id, carrier_id)
        stored = {name: getattr(carrier, name) for name in (
            "name", "daily_capacity", "transit_days", "priority", "origin_country",
            "cutoff_hour", "is_down", "origin_subdivision")}
        stored["works_on_public_holidays"] = carrier.public_holidays is False
        stored.update({name: major_units(getattr(carrier, name), shop.currency)
                       for name in MONEY_FIELDS})
        closed = upcoming_holidays(calendar_of(carrier), utcnow().date())
    form = CarrierForm(data=stored)
    status, error = 200, None
    try:
        if submitted(form):
            data = form.service_data(shop.currency)
            with resources.current().database.transaction() as db:
                service.update_carrier(db, who.merchant_id, carrier_id, data)
            g.audit_details = {"request": data}
            return see_other("merchant_pages.carriers.list_carriers", slug=slug)
    except Problem as problem:
        status, error = problem.status, problem.detail
    return render_page("merchant/carrier_form.html", status, shop=shop, who=who, form=form,
                       carrier_id=carrier_id, error=error, upcoming_holidays=closed)
