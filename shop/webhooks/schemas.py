"""Request and response models of the outage webhooks API (they also write its OpenAPI entry).

The webhooks service checks the target itself (its `invalid_webhook_url` answer says why a
URL is refused, SSRF included) and names the events there are; the models check the shape."""

from __future__ import annotations

from pydantic import Field

from shop.core.schemas import RequestModel, ResponseModel, checked_by_service, optional
from shop.webhooks.outbox import EVENTS
from shop.webhooks.ssrf import MAX_URL_LENGTH


class NewWebhook(RequestModel):
    url: checked_by_service({"type": "string", "format": "uri", "maxLength": MAX_URL_LENGTH,
                             "description": "https:// or http:// on the public internet"}) = Field(
        examples=["https://hooks.example.com/peakshop"])
    events: checked_by_service({"anyOf": [{"type": "array", "minItems": 1,
                                           "items": {"type": "string", "enum": list(EVENTS)}},
                                          {"type": "null"}]}) = optional(
        description="Every event when left out")


class WebhookOut(ResponseModel):
    id: int
    url: str
    events: list[str]
    created_at: str


class RegisteredWebhook(WebhookOut):
    secret: str = Field(description="Signs every delivery (Peakshop-Signature); shown only here")


class Webhooks(ResponseModel):
    items: list[WebhookOut]


class DeliveryOut(ResponseModel):
    id: int
    event_id: str
    event: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    next_attempt_at: str | None


class Deliveries(ResponseModel):
    items: list[DeliveryOut] = Field(description="Newest first")
