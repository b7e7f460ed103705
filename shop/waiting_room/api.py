"""The waiting room of a shop over JSON: `GET` and `PUT /api/v1/shops/{slug}/waiting-room`."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, current_app

from shop.core import resources
from shop.core.errors import Forbidden, InvalidInput
from shop.core.http import bearer_token, json_body
from shop.core.openapi import BEARER, Response, api, problems
from shop.merchants import service as merchants
from shop.merchants.models import Collaborator
from shop.waiting_room.schemas import RoomChange, RoomOut
from shop.waiting_room.service import MAX_ADMIT_PER_S, MIN_ADMIT_PER_S, MODES, Line, RoomStatus

blueprint = Blueprint("waiting_room_api", __name__, url_prefix="/api/v1")

# The roles that may switch a shop's room; the one place where that is decided.
ROOM_MANAGERS = ("owner", "manager")


def require_room_manager(collaborator: Collaborator) -> None:
    """403 unless the collaborator may change the shop's waiting room."""
    if collaborator.role not in ROOM_MANAGERS:
        raise Forbidden(f"only a shop's {' or '.join(ROOM_MANAGERS)} can change its waiting "
                        f"room: your role is {collaborator.role!r}")


def parse_change(body: dict[str, Any]) -> tuple[str, float | None]:
    """The mode and rate of a PUT body; InvalidInput names what is wrong and the fix."""
    unknown = sorted(set(body) - {"mode", "admit_per_s"})
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(map(repr, unknown))}: send 'mode' "
                           "and optionally 'admit_per_s'")
    mode = body.get("mode")
    if mode not in MODES:
        raise InvalidInput(f"'mode' must be one of {', '.join(MODES)}: got {mode!r}")
    rate = body.get("admit_per_s")
    if rate is None:
        return mode, None
    if (isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate)
            or not MIN_ADMIT_PER_S <= rate <= MAX_ADMIT_PER_S):
        raise InvalidInput(f"'admit_per_s' must be a number from {MIN_ADMIT_PER_S} to "
                           f"{MAX_ADMIT_PER_S} (visitors let in per second): got {rate!r}")
    return mode, float(rate)


def room_json(slug: str, status: RoomStatus) -> dict:
    return {"shop": slug, "mode": status.mode, "admit_per_s": status.admit_per_s,
            "open": status.open, "admitting_per_s": status.admitting_per_s,
            "line_length": status.line_length, "measured_intake_per_s": status.intake_per_s}


def _line() -> Line:
    return current_app.extensions["peakshop_waiting_room"].line


@blueprint.get("/shops/<slug>/waiting-room")
@api.validate(resp=Response(HTTP_200=RoomOut, **problems(401, 403, 429)), tags=["surges"],
              security=BEARER)
def show_room(slug: str):
    """The shop's waiting room: mode, admission rate, line length."""
    token = bearer_token()
    with resources.current().database.reading() as session:
        merchants.authorize(session, token, slug)
    return room_json(slug, _line().status(slug))


@blueprint.put("/shops/<slug>/waiting-room")
@api.validate(json=RoomChange, resp=Response(HTTP_200=RoomOut, **problems(401, 403, 422, 429)),
              tags=["surges"], security=BEARER)
def change_room(slug: str):
    """Switch the shop's waiting room off, to auto or on (owner or manager)."""
    token = bearer_token()
    mode, rate = parse_change(json_body())
    with resources.current().database.reading() as session:
        merchant, collaborator = merchants.authorize(session, token, slug)
        require_room_manager(collaborator)
        name = merchant.name
    return room_json(slug, _line().set_mode(slug, name, mode, rate))
