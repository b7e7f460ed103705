"""Response model of the payment webhooks (it also writes their OpenAPI entry)."""

from __future__ import annotations

from shop.core.schemas import ResponseModel


class WebhookReceived(ResponseModel):
    """The event was verified; `outcome` says what it changed (a replay changes nothing)."""

    received: bool
    event_id: str | None
    outcome: str
    detail: str | None = None
