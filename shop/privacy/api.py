"""Erasure requests over JSON: a merchant erases one shopper's data on their request."""

from __future__ import annotations

from flask import Blueprint

from shop.core import resources
from shop.core.errors import Forbidden
from shop.core.http import bearer_token, json_body
from shop.core.openapi import BEARER, Response, api, problems
from shop.core.validation import email as email_field
from shop.merchants import service as merchants
from shop.privacy import service
from shop.privacy.schemas import ErasureOut, ErasureRequest

blueprint = Blueprint("privacy_api", __name__, url_prefix="/api/v1")

# Erasing is irreversible: not for every collaborator.
ERASING_ROLES = ("owner", "manager")


@blueprint.post("/shops/<slug>/erasures")
@api.validate(json=ErasureRequest,
              resp=Response(HTTP_200=ErasureOut, **problems(401, 403, 422, 429)),
              tags=["merchants"], security=BEARER)
def erase_shopper(slug: str):
    """Erase a shopper's e-mail and addresses from the shop's closed orders."""
    token = bearer_token()
    data = json_body()
    email = email_field(data)
    with resources.current().database.transaction() as session:
        merchant, acting = merchants.authorize(session, token, slug)
        if acting.role not in ERASING_ROLES:
            raise Forbidden("only the shop's owner or a manager can erase a shopper's data")
        erasure = service.erase_shopper(session, merchant.id, email, acting.id)
        return {"id": erasure.id, "email_sha256": erasure.subject_sha256,
                "erased": {"orders": erasure.orders_anonymised, "mails": erasure.mails_erased,
                           "fields": ["email", "shipping_address"]},
                "orders_kept_open": erasure.orders_kept_open,
                "erased_at": erasure.created_at.isoformat() + "Z"}, 200
