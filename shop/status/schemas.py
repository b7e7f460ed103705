"""Request and response models of the status and incident APIs (they also write its OpenAPI
entry). The incident service reads bodies itself and names the choices when it refuses one,
so the models check types and the document lists the choices."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shop.core.schemas import (
    RFC3339_OR_NULL_SCHEMA,
    RequestModel,
    ResponseModel,
    checked_by_service,
    one_of,
    optional,
    service_text,
)
from shop.status.components import Component, ComponentStatus, IncidentStatus
from shop.status.service import MAX_MESSAGE

IMPACTS = [ComponentStatus.DEGRADED.value, ComponentStatus.OUTAGE.value]
EtaInput = checked_by_service({**RFC3339_OR_NULL_SCHEMA,
                               "description": "When it should be fixed (RFC 3339 with an "
                                              "offset, to come); null clears it"})
ImpactInput = one_of(IMPACTS)


class NewIncident(RequestModel):
    title: str = service_text()
    components: checked_by_service({
        "type": "array", "minItems": 1,
        "items": {"type": "string", "enum": [c.value for c in Component]}}) = Field()
    message: str = service_text(MAX_MESSAGE, description="What customers read first: the "
                                                         "words are composed around it unless "
                                                         "`verbatim`")
    impact: ImpactInput = optional(description="degraded when left out")
    eta: EtaInput = optional()
    shop: str | None = service_text(64, required=False, description="A shop's slug, for an "
                                                                    "incident of one shop")
    verbatim: bool = optional(description="Post `message` exactly as written")


class NewUpdate(RequestModel):
    message: str = service_text(MAX_MESSAGE)
    status: one_of(IncidentStatus, nullable=True) = optional(
        description="resolved closes the incident")
    eta: EtaInput = optional()
    impact: one_of(IMPACTS, nullable=True) = optional()
    verbatim: bool = optional()


class UpdateOut(ResponseModel):
    at: str
    status: str
    message: str


class IncidentOut(ResponseModel):
    id: int
    title: str
    status: IncidentStatus
    impact: str
    components: list[str]
    started_at: str
    eta: str | None
    next_update_at: str | None
    resolved_at: str | None
    scope: Literal["platform", "shop"]
    updates: list[UpdateOut] = Field(description="Newest first")


class Incidents(ResponseModel):
    items: list[IncidentOut]


class PostedUpdate(ResponseModel):
    incident_id: int
    at: str
    status: IncidentStatus
    message: str
    incident: IncidentOut


class ComponentOut(ResponseModel):
    name: str
    status: ComponentStatus


class ShopOut(ResponseModel):
    slug: str
    name: str


class StatusOut(ResponseModel):
    status: ComponentStatus
    components: list[ComponentOut]
    incidents: list[IncidentOut] = Field(description="Open incidents")
    recent: list[IncidentOut] = Field(description="Resolved in the last three days")
    updated_at: str
    shop: ShopOut | None = Field(None, description="On a shop's status only")
