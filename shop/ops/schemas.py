"""Response models of the probes (they also write their OpenAPI entry)."""

from __future__ import annotations

from typing import Literal

from shop.core.schemas import ResponseModel


class Alive(ResponseModel):
    status: Literal["ok"]


class Ready(ResponseModel):
    status: Literal["ready"]
    database: str
    redis: str
