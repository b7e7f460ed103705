"""Request and response models of the erasure API (they also write its OpenAPI entry)."""

from __future__ import annotations

from pydantic import Field

from shop.core.schemas import EMAIL, RequestModel, ResponseModel


class ErasureRequest(RequestModel):
    # validation.email trims and checks it, in the words every e-mail field uses.
    email: str = Field(json_schema_extra={"pattern": EMAIL, "maxLength": 254},
                       examples=["shopper@example.com"])


class Erased(ResponseModel):
    orders: int
    mails: int
    fields: list[str]


class ErasureOut(ResponseModel):
    id: int
    email_sha256: str = Field(description="Kept to prove the erasure without the address")
    erased: Erased
    orders_kept_open: int = Field(description="Orders still open keep their data until closed")
    erased_at: str
