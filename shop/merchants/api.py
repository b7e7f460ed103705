"""Merchant accounts over JSON: sign-up, tokens, collaborators."""

from __future__ import annotations

from flask import Blueprint

from shop.core import resources
from shop.core.http import bearer_token, json_body
from shop.core.openapi import BEARER, Response, api
from shop.merchants import service
from shop.merchants.models import Collaborator
from shop.merchants.schemas import Collaborators, Issued, NewCollaborator, SignIn, SignUp

blueprint = Blueprint("merchants_api", __name__, url_prefix="/api/v1")


def _issued_json(issued: service.Issued) -> dict:
    return {"merchant": {"id": issued.merchant.id, "slug": issued.merchant.slug,
                         "name": issued.merchant.name},
            "collaborator": _collaborator_json(issued.collaborator),
            "token": issued.token}


def _collaborator_json(collaborator: Collaborator) -> dict:
    return {"id": collaborator.id, "email": collaborator.email, "role": collaborator.role}


@blueprint.post("/merchants")
@api.validate(json=SignUp, resp=Response(HTTP_201=Issued), tags=["merchants"])
def sign_up():
    """Create a merchant and return its owner's API token."""
    data = json_body()
    with resources.current().database.transaction() as session:
        issued = service.sign_up(session, data)
        return _issued_json(issued), 201


@blueprint.post("/tokens")
@api.validate(json=SignIn, resp=Response(HTTP_201=Issued), tags=["merchants"])
def sign_in():
    """Exchange a collaborator's e-mail and password for a new API token."""
    data = json_body()
    with resources.current().database.transaction() as session:
        return _issued_json(service.sign_in(session, data)), 201


@blueprint.post("/shops/<slug>/collaborators")
@api.validate(json=NewCollaborator, resp=Response(HTTP_201=Issued), tags=["merchants"],
              security=BEARER)
def add_collaborator(slug: str):
    """Invite a collaborator to the shop (owners only)."""
    token = bearer_token()
    data = json_body()
    with resources.current().database.transaction() as session:
        merchant, acting = service.authorize(session, token, slug)
        return _issued_json(service.add_collaborator(session, merchant, acting, data)), 201


@blueprint.get("/shops/<slug>/collaborators")
@api.validate(resp=Response(HTTP_200=Collaborators), tags=["merchants"], security=BEARER)
def list_collaborators(slug: str):
    """List the people who manage the shop."""
    token = bearer_token()
    with resources.current().database.transaction() as session:
        merchant, _ = service.authorize(session, token, slug)
        return {"items": [_collaborator_json(c)
                          for c in service.list_collaborators(session, merchant)]}
