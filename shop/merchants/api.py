"""Merchant accounts over JSON: sign-up, sign-in, the team and invitations."""

from __future__ import annotations

from flask import Blueprint, g, request, url_for

from shop.core import resources, validation
from shop.core.errors import InvalidInput
from shop.core.http import bearer_token, json_body
from shop.core.openapi import BEARER, Response, api, problems
from shop.merchants import service as merchants
from shop.merchants import team
from shop.merchants.access import acting, checked_sign_in
from shop.merchants.presenters import collaborator_json, issued_json
from shop.merchants.schemas import (
    Acceptance,
    CollaboratorOut,
    Collaborators,
    Invited,
    Issued,
    NewCollaborator,
    OwnershipTransfer,
    RoleChange,
    SignIn,
    SignUp,
)

blueprint = Blueprint("merchants_api", __name__, url_prefix="/api/v1")


@blueprint.post("/merchants")
@api.validate(json=SignUp, resp=Response(HTTP_201=Issued), tags=["merchants"])
def sign_up():
    """Create a company and its owner's account, and return the owner's API token; with a
    Bearer token instead of e-mail and password, the signed-in person founds another one."""
    data = json_body()
    current = resources.current()
    with current.database.transaction() as session:
        if request.headers.get("Authorization"):
            issued = merchants.add_company(session, bearer_token(), data,
                                           current.settings.token_ttl_days)
        else:
            issued = merchants.sign_up(session, data, current.settings.token_ttl_days)
        return issued_json(issued), 201


@blueprint.post("/tokens")
@api.validate(json=SignIn, resp=Response(HTTP_201=Issued), tags=["merchants"])
def sign_in():
    """Exchange an e-mail and password for a new API token (throttled on failures)."""
    data = json_body()
    email = validation.email(data)
    password = data.get("password")
    if not isinstance(password, str):
        raise InvalidInput("'password' is required, as a string")
    shop = validation.text(data, "shop", max_length=64, required=False)
    return issued_json(checked_sign_in(email, password, shop)), 201


@blueprint.post("/invitations/<invitation>/accept")
@api.validate(json=Acceptance, resp=Response(HTTP_201=Issued, **problems(401, 404, 409, 410, 422)),
              tags=["merchants"])
def accept_invitation(invitation: str):
    """Join a shop with an invitation: set a password (or give yours) and get a token."""
    data = json_body()
    current = resources.current()
    with current.database.transaction() as session:
        issued = team.join(session, invitation[:200], data,
                           token_ttl_days=current.settings.token_ttl_days)
        return issued_json(issued), 201


@blueprint.get("/shops/<slug>/collaborators")
@api.validate(resp=Response(HTTP_200=Collaborators), tags=["merchants"], security=BEARER)
def list_collaborators(slug: str):
    """The people who run the shop and the invitations still open."""
    with resources.current().database.reading() as session:
        return {"items": [collaborator_json(c)
                          for c in team.list_team(session, acting().merchant_id)]}


@blueprint.post("/shops/<slug>/collaborators")
@api.validate(json=NewCollaborator,
              resp=Response(HTTP_201=Invited, **problems(401, 402, 403, 409, 422, 429)),
              tags=["merchants"], security=BEARER)
def add_collaborator(slug: str):
    """Invite someone with a role; the answer holds the single-use invitation token."""
    data = json_body()
    current = resources.current()
    with current.database.transaction() as session:
        invited = team.invite(session, acting().merchant_id, data,
                              invitation_ttl_hours=current.settings.invitation_ttl_hours,
                              token_ttl_days=current.settings.token_ttl_days)
        body = {**collaborator_json(invited.collaborator),
                "collaborator": collaborator_json(invited.collaborator)}
        if invited.invitation:
            body["invitation"] = {
                "token": invited.invitation,
                "accept_url": f"{request.host_url}api/v1/invitations/{invited.invitation}"
                              "/accept",
                "accept_page_url": url_for("merchant_pages.team.accept_invitation",
                                           invitation=invited.invitation, _external=True),
                "expires_at": body["invitation_expires_at"]}
        if invited.issued:
            body.update({key: value for key, value in issued_json(invited.issued).items()
                         if key != "collaborator"})
        return body, 201


@blueprint.patch("/shops/<slug>/collaborators/<int:collaborator_id>")
@api.validate(json=RoleChange,
              resp=Response(HTTP_200=CollaboratorOut, **problems(401, 403, 404, 409, 422, 429)),
              tags=["merchants"], security=BEARER)
def change_role(slug: str, collaborator_id: int):
    """Give a collaborator another role (the shop keeps at least one owner)."""
    data = json_body()
    with resources.current().database.transaction() as session:
        collaborator = team.change_role(session, acting().merchant_id, collaborator_id, data)
        return collaborator_json(collaborator)


@blueprint.delete("/shops/<slug>/collaborators/<int:collaborator_id>")
@api.validate(resp=Response(HTTP_204=None, **problems(401, 403, 404, 409, 429)),
              tags=["merchants"], security=BEARER)
def remove_collaborator(slug: str, collaborator_id: int):
    """Take someone off the team, or cancel their invitation; their tokens stop working."""
    with resources.current().database.transaction() as session:
        team.remove(session, acting().merchant_id, collaborator_id)
    return "", 204


@blueprint.post("/shops/<slug>/ownership")
@api.validate(json=OwnershipTransfer,
              resp=Response(HTTP_200=CollaboratorOut, **problems(401, 403, 404, 409, 422, 429)),
              tags=["merchants"], security=BEARER)
def transfer_ownership(slug: str):
    """Make another collaborator owner; the acting owner becomes a manager."""
    data = json_body()
    with resources.current().database.transaction() as session:
        target = team.transfer_ownership(session, acting(), data)
        g.action = "team.transfer_ownership"
        return collaborator_json(target)
