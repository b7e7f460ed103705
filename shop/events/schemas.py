"""Request and response models of the events APIs (they also write their OpenAPI entry).

The events service reads times itself (it names a missing UTC offset or an impossible date)
and refuses unknown fields listing the ones an event has; the models check the types."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shop.core.schemas import (
    RFC3339_SCHEMA,
    RequestModel,
    ResponseModel,
    Rfc3339Input,
    ServiceCheckedBody,
    checked_by_service,
    optional,
    service_text,
)
from shop.events.service import MAX_DURATION_MIN, MAX_PEAK_RPS, MAX_WEB_REPLICAS


class NewEvent(ServiceCheckedBody):
    """A launch, an e-mail blast or a sale the shop expects a crowd for."""

    name: str = service_text(examples=["Winter sale"])
    starts_at: Rfc3339Input = Field(examples=["2026-12-24T18:00:00+01:00"])
    duration_min: int = Field(ge=1, le=MAX_DURATION_MIN)
    expected_peak_rps: int = Field(ge=1, le=MAX_PEAK_RPS,
                                   description="Storefront requests per second at the peak")


class EventChanges(ServiceCheckedBody):
    """Any of an event's fields; a new time or size drops the scaler's plan."""

    name: str = service_text(required=False)
    starts_at: Rfc3339Input = optional()
    duration_min: int = optional(ge=1, le=MAX_DURATION_MIN)
    expected_peak_rps: int = optional(ge=1, le=MAX_PEAK_RPS)


class PlannedCapacity(ResponseModel):
    web_replicas: int
    ready_by: str | None
    source: str = Field(description="scaler once the scaler recorded its plan, else estimate")
    peak_rps: float
    recorded_at: str | None = None
    per_replica_rps: float | None = None


class EventOut(ResponseModel):
    id: int
    name: str
    starts_at: str
    ends_at: str
    duration_min: int
    expected_peak_rps: int
    planned_capacity: PlannedCapacity
    created_at: str | None
    updated_at: str | None


class Events(ResponseModel):
    items: list[EventOut]


class ShopEventOut(EventOut):
    shop: str = Field(description="The shop's slug")


class ShopEvents(ResponseModel):
    items: list[ShopEventOut]


# Left empty (`?to=`) it means the same as left out.
QueryTime = checked_by_service({"anyOf": [RFC3339_SCHEMA, {"type": "string", "maxLength": 0}],
                                "description": "RFC 3339 with an offset; in a URL write '+' "
                                               "as %2B"})


class EventWindow(RequestModel):
    model_config = ConfigDict(extra="ignore")  # unknown query parameters are harmless

    from_: QueryTime = optional(alias="from", description="Now when left out")
    to: QueryTime = optional(description="Seven days after `from` when left out")


class RecordedPlan(ServiceCheckedBody):
    web_replicas: int = Field(ge=0, le=MAX_WEB_REPLICAS)
    ready_by: Rfc3339Input = Field()
