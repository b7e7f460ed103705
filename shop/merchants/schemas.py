"""Request and response models of the merchants API (they also write its OpenAPI entry)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shop.core.schemas import EMAIL, RequestModel, ResponseModel, optional
from shop.merchants.passwords import MIN_PASSWORD_LENGTH

Email = Field(pattern=EMAIL, max_length=254, examples=["owner@example.com"])


class SignUp(RequestModel):
    """A new company and its owner; with a Bearer token instead of e-mail and password, the
    signed-in person founds another company."""

    name: str = Field(min_length=1, max_length=200, examples=["Nordpol Geschenke"])
    email: str = optional(pattern=EMAIL, max_length=254, examples=["owner@example.com"])
    password: str = optional(min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    currency: Any = optional(description="ISO 4217 code of a currency in circulation; EUR "
                                         "when left out")


class SignIn(RequestModel):
    email: str = Email
    password: str = Field(max_length=1024)
    shop: str = optional(max_length=64, description="The company to sign in to (its slug)")


class NewCollaborator(RequestModel):
    """An invitation: the answer holds a single-use link token for the invitee."""

    email: str = Email
    role: str = Field("staff", max_length=32, description="owner, manager, staff or viewer")


class MerchantOut(ResponseModel):
    id: int
    slug: str
    name: str
    currency: str


class CollaboratorOut(ResponseModel):
    id: int
    email: str
    role: str


class Issued(ResponseModel):
    """A merchant, a collaborator and a new API token (shown once)."""

    merchant: MerchantOut
    collaborator: CollaboratorOut
    token: str
    token_id: int
    expires_at: str


class Collaborators(ResponseModel):
    items: list[CollaboratorOut]
