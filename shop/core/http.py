"""HTTP plumbing shared by the JSON blueprints: reading bodies and bearer tokens."""

from __future__ import annotations

from typing import Any

from flask import request

from shop.core.errors import Problem, Unauthorized


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or a 415/400 problem naming what is wrong."""
    if not request.is_json:
        raise Problem(f"send the body as application/json: got "
                      f"{request.mimetype or 'no Content-Type'!r}",
                      code="unsupported_media_type", status=415)
    body = request.get_json(silent=True)
    if body is None:
        raise Problem("the body is not valid JSON: check quotes, commas and brackets",
                      code="malformed_json", status=400)
    if not isinstance(body, dict):
        raise Problem(f"the body must be a JSON object: got {type(body).__name__}",
                      code="invalid_input", status=422)
    return body


def bearer_token() -> str:
    """The token of an `Authorization: Bearer <token>` header, or a 401 problem."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>' with the token you were given")
    return token.strip()
