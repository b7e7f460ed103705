"""The JSON API's answer to a visitor in line, as plain status, headers and body: no Flask,
so that the WSGI layer in front of Flask (`gate.FastLine`) and the edge gate in front of
gunicorn (`shop.edge`) give exactly the answer Flask would.
"""

from __future__ import annotations

import json
import math

from shop.core.problem_json import PROBLEM_JSON, TYPE_BASE
from shop.waiting_room.decision import retry_after_s
from shop.waiting_room.service import Admission

ROOM_HEADER = "Peakshop-Waiting-Room"
ROOM_PARAM = "waiting_room"
ROOM_COOKIE = "peakshop_waiting_room"
POSITION_HEADER = "Peakshop-Waiting-Room-Position"   # only on answers to visitors in line


def eta_words(eta_s: float) -> str:
    """The estimated wait as a shopper reads it: rounded up, never falsely precise."""
    if not math.isfinite(eta_s):
        return "a few minutes"
    if eta_s < 60:
        return "less than a minute"
    minutes = math.ceil(eta_s / 60)
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes > 1 else ''}"
    hours = math.ceil(minutes / 60)
    return f"about {hours} hour{'s' if hours > 1 else ''}"


def waiting_body(admission: Admission, place_token: str) -> dict:
    eta = admission.eta_s if math.isfinite(admission.eta_s) else None
    return {"type": TYPE_BASE + "waiting_room", "title": "Waiting room", "status": 503,
            "detail": f"the shop is very busy and visitors are let in in turn: you are "
                      f"number {admission.position} in line; send the '{ROOM_HEADER}' header "
                      f"(or the '{ROOM_PARAM}' query parameter) with the ticket below to keep "
                      "your place",
            "code": "waiting_room", "position": admission.position,
            "eta_s": None if eta is None else math.ceil(eta), "ticket": place_token}


def waiting_headers(admission: Admission, place_token: str) -> list[tuple[str, str]]:
    return [("Retry-After", str(retry_after_s(admission.eta_s))),
            (ROOM_HEADER, place_token), (POSITION_HEADER, str(admission.position)),
            ("Cache-Control", "no-store")]


def waiting_problem(admission: Admission, place_token: str) -> tuple[str, list, bytes]:
    """The JSON API's 503 for a visitor in line as status line, headers and body."""
    body = json.dumps(waiting_body(admission, place_token)).encode()
    return ("503 SERVICE UNAVAILABLE",
            [("Content-Type", PROBLEM_JSON), ("Content-Length", str(len(body))),
             *waiting_headers(admission, place_token)], body)
