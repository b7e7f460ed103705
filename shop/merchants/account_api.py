"""A shop's tokens, plan and audit log over JSON."""

from __future__ import annotations

from flask import Blueprint, request

from shop.catalog.service import parse_limit
from shop.core import resources
from shop.core.http import json_body
from shop.core.openapi import BEARER, Response, api, problems
from shop.merchants import audit, plans, tokens
from shop.merchants.access import acting
from shop.merchants.billing import billing_provider
from shop.merchants.presenters import audit_json, token_json
from shop.merchants.schemas import AuditPage, AuditQuery, PlanChoice, PlanOut, Tokens

blueprint = Blueprint("merchant_account_api", __name__, url_prefix="/api/v1/shops/<slug>")


@blueprint.get("/tokens")
@api.validate(resp=Response(HTTP_200=Tokens, **problems(401, 403, 429)), tags=["merchants"],
              security=BEARER)
def list_tokens(slug: str):
    """Live tokens: all of the shop's for an owner, one's own for everybody else."""
    with resources.current().database.reading() as session:
        return {"items": [token_json(view) for view in tokens.list_tokens(session, acting())]}


@blueprint.delete("/tokens/<int:token_id>")
@api.validate(resp=Response(HTTP_204=None, **problems(401, 403, 404, 429)), tags=["merchants"],
              security=BEARER)
def revoke_token(slug: str, token_id: int):
    """Revoke a token at once (owners may revoke anyone's)."""
    with resources.current().database.transaction() as session:
        tokens.revoke(session, acting(), token_id)
    return "", 204


def _plan_json(session, merchant_id: int) -> dict:
    plan = plans.plan_of(session, merchant_id)
    return {"plan": plan.value, "limits": dict(plans.LIMITS[plan]),
            "usage": plans.usage(session, merchant_id),
            "plans": {name.value: dict(limits) for name, limits in plans.LIMITS.items()}}


@blueprint.get("/plan")
@api.validate(resp=Response(HTTP_200=PlanOut, **problems(401, 403, 429)), tags=["merchants"],
              security=BEARER)
def show_plan(slug: str):
    """The shop's plan, its limits and what the shop uses of them."""
    with resources.current().database.reading() as session:
        return _plan_json(session, acting().merchant_id)


@blueprint.put("/plan")
@api.validate(json=PlanChoice, resp=Response(HTTP_200=PlanOut, **problems(401, 403, 422, 429)),
              tags=["merchants"], security=BEARER)
def change_plan(slug: str):
    """Move the shop to another plan (owners); billing goes through the billing provider."""
    data = json_body()
    with resources.current().database.transaction() as session:
        plans.change_plan(session, acting().merchant_id, data, billing_provider())
        session.flush()
        return _plan_json(session, acting().merchant_id)


@blueprint.get("/audit")
@api.validate(query=AuditQuery, resp=Response(HTTP_200=AuditPage, **problems(401, 403, 422, 429)),
              tags=["merchants"], security=BEARER)
def list_audit(slug: str):
    """Who changed what, newest first; follow `next_cursor` for older entries."""
    limit = parse_limit(request.args.get("limit"))
    with resources.current().database.reading() as session:
        found = audit.page(session, acting().merchant_id, limit=limit,
                           cursor=request.args.get("cursor"))
        return {"items": [audit_json(entry) for entry in found.items],
                "next_cursor": found.next_cursor}
