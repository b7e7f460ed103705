"""Carriers over JSON (merchant back-office)."""

from __future__ import annotations

from flask import Blueprint

from shop.core import resources
from shop.core.http import bearer_token, json_body
from shop.core.openapi import BEARER, Response, api
from shop.core.timeutil import utcnow
from shop.fulfilment import service
from shop.fulfilment.booking import calendar_of
from shop.fulfilment.models import Carrier
from shop.fulfilment.schemas import CarrierChanges, CarrierOut, Carriers, NewCarrier
from shop.fulfilment.working_days import upcoming_holidays
from shop.merchants import service as merchants
from shop.orders.links import OrderLinks

blueprint = Blueprint("fulfilment_api", __name__, url_prefix="/api/v1")


def carrier_json(carrier: Carrier, booked_today: int) -> dict:
    return {"id": carrier.id, "name": carrier.name, "daily_capacity": carrier.daily_capacity,
            "transit_days": carrier.transit_days, "priority": carrier.priority,
            "is_down": carrier.is_down, "booked_today": booked_today,
            "origin_country": carrier.origin_country, "domestic_rate": carrier.domestic_rate,
            "eu_rate": carrier.eu_rate, "world_rate": carrier.world_rate,
            "free_shipping_over": carrier.free_shipping_over,
            "cutoff_hour": carrier.cutoff_hour,
            "holidays": list(carrier.holidays or []),
            "own_holidays": carrier.holidays is not None,
            "origin_subdivision": carrier.origin_subdivision,
            "public_holidays": carrier.public_holidays is not False,
            "upcoming_holidays": [{"date": day.isoformat(), "name": name} for day, name in
                                  upcoming_holidays(calendar_of(carrier), utcnow().date())]}


@blueprint.post("/shops/<slug>/carriers")
@api.validate(json=NewCarrier, resp=Response(HTTP_201=CarrierOut), tags=["fulfilment"],
              security=BEARER)
def create_carrier(slug: str):
    """Add a carrier with its daily capacity, transit time and preference."""
    token = bearer_token()
    data = json_body()
    with resources.current().database.transaction() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        carrier = service.create_carrier(session, merchant.id, data)
        return carrier_json(carrier, 0), 201


@blueprint.get("/shops/<slug>/carriers")
@api.validate(resp=Response(HTTP_200=Carriers), tags=["fulfilment"], security=BEARER)
def list_carriers(slug: str):
    """The shop's carriers, preferred first, with today's bookings."""
    token = bearer_token()
    with resources.current().database.transaction() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        views = service.list_carriers(session, merchant.id, utcnow().date())
        return {"items": [carrier_json(view.carrier, view.booked_today) for view in views]}


@blueprint.patch("/shops/<slug>/carriers/<int:carrier_id>")
@api.validate(json=CarrierChanges, resp=Response(HTTP_200=CarrierOut), tags=["fulfilment"],
              security=BEARER)
def update_carrier(slug: str, carrier_id: int):
    """Change a carrier: capacity, transit days, priority, name, or mark it down."""
    token = bearer_token()
    data = json_body()
    current = resources.current()
    with current.database.transaction() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        carrier = service.update_carrier(session, merchant.id, carrier_id, data,
                                         OrderLinks.from_settings(current.settings))
        return carrier_json(carrier, service.booked_today(session, carrier, utcnow().date()))
