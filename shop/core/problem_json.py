"""The shape of an error answer (RFC 9457 problem details), without Flask: the app's error
handlers (`shop.core.errors`) and the edge gate (`shop.edge`) answer in the same words."""

from __future__ import annotations

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://peakshop.dev/problems/"
RETRY_AFTER_S = 5
STATUS_PAGE = "/status"  # where customers read what we know about an outage


def problem_body(status: int, code: str, title: str, detail: str,
                 extra: dict | None = None) -> dict:
    return {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail,
            "code": code, **(extra or {})}


def problem_headers(status: int) -> list[tuple[str, str]]:
    """The headers a problem of `status` carries besides its content type: when to retry a
    503, how to authenticate after a 401."""
    if status == 503:
        return [("Retry-After", str(RETRY_AFTER_S))]
    if status == 401:
        return [("WWW-Authenticate", 'Bearer realm="peakshop"')]
    return []
