"""Request and response models of the waiting room API (they also write its OpenAPI entry).

The room's own check names the modes and the rate range when it refuses a body, and lists
the fields it takes when one is unknown; the model checks the shape."""

from __future__ import annotations

from pydantic import Field

from shop.core.schemas import (
    ResponseModel,
    ServiceCheckedBody,
    checked_by_service,
    one_of,
    optional,
)
from shop.waiting_room.service import MAX_ADMIT_PER_S, MIN_ADMIT_PER_S, MODES


class RoomChange(ServiceCheckedBody):
    mode: one_of(MODES) = Field(
        description="off: everyone in; auto: a line forms when the shop is overloaded; "
                    "on: a line at `admit_per_s`")
    admit_per_s: checked_by_service({"anyOf": [{"type": "number", "minimum": MIN_ADMIT_PER_S,
                                                "maximum": MAX_ADMIT_PER_S},
                                               {"type": "null"}]}) = optional(
        description="Visitors let in per second in mode `on`")


class RoomOut(ResponseModel):
    shop: str
    mode: str
    admit_per_s: float | None
    open: bool
    admitting_per_s: float | None = Field(description="The rate the line moves at now; null "
                                                      "while closed")
    line_length: int
    measured_intake_per_s: float
