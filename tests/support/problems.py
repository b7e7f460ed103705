"""How a test checks that bad input was refused: a 4xx problem+json that says why."""

from __future__ import annotations

PROBLEM = "application/problem+json"


def assert_refused(response, *statuses: int) -> dict:
    """A 4xx problem (one of `statuses` when given) with a detail that says something."""
    text = response.get_data(as_text=True)
    assert 400 <= response.status_code < 500, (response.status_code, text[:500])
    if statuses:
        assert response.status_code in statuses, (response.status_code, text[:500])
    assert response.mimetype == PROBLEM, text[:500]
    body = response.get_json()
    assert body["status"] == response.status_code and body["detail"]
    return body
