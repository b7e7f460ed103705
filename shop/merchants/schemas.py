"""Request and response models of the merchants API (they also write its OpenAPI entry)."""

from __future__ import annotations

from pydantic import Field

from shop.core.schemas import EMAIL, RequestModel, ResponseModel
from shop.merchants.service import MIN_PASSWORD_LENGTH

Email = Field(pattern=EMAIL, max_length=254, examples=["owner@example.com"])


class SignUp(RequestModel):
    name: str = Field(min_length=1, max_length=200, examples=["Nordpol Geschenke"])
    email: str = Email
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)


class SignIn(RequestModel):
    email: str = Email
    password: str = Field(max_length=1024)


class NewCollaborator(RequestModel):
    email: str = Email
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    role: str = Field("staff", max_length=32, description="The collaborator's role.")


class MerchantOut(ResponseModel):
    id: int
    slug: str
    name: str


class CollaboratorOut(ResponseModel):
    id: int
    email: str
    role: str


class Issued(ResponseModel):
    """A merchant, a collaborator and a new API token (shown once)."""

    merchant: MerchantOut
    collaborator: CollaboratorOut
    token: str


class Collaborators(ResponseModel):
    items: list[CollaboratorOut]
