"""Request and response models of the breach register (they also write its OpenAPI entry).

The register's service reads bodies itself: it refuses unknown fields listing the ones a
breach has, reads times and names the GDPR rule a combination breaks; the models check the
types."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shop.breaches.service import MAX_TEXT, BreachDecision
from shop.core.schemas import (
    RFC3339_OR_NULL_SCHEMA,
    RequestModel,
    ResponseModel,
    Rfc3339Input,
    ServiceCheckedBody,
    checked_by_service,
    one_of,
    optional,
    service_text,
)

DecisionInput = one_of(BreachDecision)
NotifiedAt = checked_by_service({**RFC3339_OR_NULL_SCHEMA,
                                 "description": "When the supervisory authority was told"})
SUBJECTS_MAX = 10**10


class BreachChanges(ServiceCheckedBody):
    """What was learnt or decided about a breach."""

    title: str = service_text(required=False)
    description: str | None = service_text(MAX_TEXT, required=False)
    detected_at: Rfc3339Input = optional(description="When we became aware of it")
    data_concerned: str = service_text(MAX_TEXT, required=False)
    subjects_affected: int | None = Field(None, ge=0, le=SUBJECTS_MAX)
    decision: DecisionInput = optional(description="not_required needs `decision_reason`")
    decision_reason: str | None = service_text(MAX_TEXT, required=False)
    measures: str | None = service_text(MAX_TEXT, required=False)
    notified_at: NotifiedAt = optional()
    delay_reason: str | None = service_text(MAX_TEXT, required=False, description="Required "
                                            "when the notice came more than 72 hours late")


class NewBreach(BreachChanges):
    """A breach for the register; its 72-hour clock starts at `detected_at`."""

    title: str = service_text()
    detected_at: Rfc3339Input = Field(description="When we became aware of it")
    data_concerned: str = service_text(MAX_TEXT)


class BreachOut(ResponseModel):
    id: int
    title: str
    description: str
    detected_at: str
    deadline_at: str = Field(description="72 hours after detected_at (GDPR art. 33(1))")
    data_concerned: str
    subjects_affected: int | None
    decision: BreachDecision
    decision_reason: str
    measures: str
    notified_at: str | None
    delay_reason: str
    overdue: bool
    notified_late: bool
    hours_left: float | None
    created_at: str
    updated_at: str


class Breaches(ResponseModel):
    items: list[BreachOut]
    overdue: int


class ExportQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")  # unknown query parameters are harmless

    format: one_of(["csv", "json"]) = optional(
        description="csv when left out")


EXPORT_MEDIA = {
    "text/csv": {"schema": {"type": "string"},
                 "example": "id,title,detected_at,deadline_at,notified_at,overdue,...\r\n"},
    "application/json": {"schema": {
        "type": "object", "required": ["exported_at", "items"],
        "properties": {"exported_at": {"type": "string"},
                       "items": {"type": "array",
                                 "items": {"$ref": "#/components/schemas/BreachOut"}}}}},
}
