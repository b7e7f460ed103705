"""The app with the operations API open and webhooks allowed to reach loopback receivers."""

from __future__ import annotations

from urllib.parse import quote

import pytest

OPS_TOKEN = "ops-test-token-3f1c"
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


@pytest.fixture
def app(make_app, redis_client):
    application = make_app(ops_token=OPS_TOKEN, webhook_allow_private=True)
    # Every read sees the latest incident; the cache has its own test.
    application.config["STATUS_FRESH_S"] = 0
    return application


def open_incident(client, **fields):
    body = {"title": "Checkout is slow", "components": ["checkout"],
            "message": "Card payments time out for some customers.", **fields}
    response = client.post("/api/v1/ops/incidents", json=body, headers=OPS)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def not_plain(number: int) -> list[str]:
    """`number` as path segments Python's int() reads as it but a path never means: in
    Arabic-Indic and in full-width digits, signed, padded with spaces, with a digit
    separator."""
    digits = str(number)
    return [quote("".join(chr(0x660 + int(d)) for d in digits)),
            quote("".join(chr(0xFF10 + int(d)) for d in digits)),
            "+" + digits, "%20" + digits, digits + "%20",
            digits[:1] + "_" + digits[1:] if len(digits) > 1 else "0_" + digits]
