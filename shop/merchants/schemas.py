"""Request and response models of the merchants API (they also write its OpenAPI entry)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from shop.catalog.service import MAX_PAGE
from shop.core.schemas import (
    EMAIL,
    Page,
    QueryInt,
    RequestModel,
    ResponseModel,
    ServiceCheckedBody,
    checked_by_service,
    one_of,
    optional,
)
from shop.merchants.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from shop.merchants.plans import Limit, Plan
from shop.merchants.roles import ROLES

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


# The team service names the roles there are when it refuses one.
RoleInput = one_of(ROLES)
# A password the account service checks (its rule, and a 401 for a wrong one, are the API).
PasswordInput = checked_by_service({"type": "string", "minLength": MIN_PASSWORD_LENGTH,
                                    "maxLength": MAX_PASSWORD_LENGTH})


class NewCollaborator(RequestModel):
    """An invitation: the answer holds a single-use link token for the invitee. With a
    `password`, the owner creates the account directly and the answer holds its token."""

    email: str = Field(max_length=254, json_schema_extra={"pattern": EMAIL},
                       examples=["staff@example.com"])
    role: RoleInput = optional(description="staff when left out")
    password: PasswordInput = optional()


class RoleChange(ServiceCheckedBody):
    role: RoleInput = Field()


class OwnershipTransfer(RequestModel):
    collaborator_id: int = Field(ge=1, description="An active collaborator's id")


class Acceptance(RequestModel):
    """Someone new sets a password; someone with an account gives theirs."""

    password: PasswordInput = optional()


class PlanChoice(RequestModel):
    # The plans service names the plans there are when it refuses one.
    plan: one_of(Plan) = Field()


class AuditQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")  # unknown query parameters are harmless

    limit: QueryInt = optional(ge=1, le=MAX_PAGE)
    cursor: str = optional(max_length=64, description="The next_cursor of the previous page.")


class MerchantOut(ResponseModel):
    id: int
    slug: str
    name: str
    currency: str


class CollaboratorOut(ResponseModel):
    id: int
    email: str
    role: str
    status: str | None = Field(None, description="active, or invited until the invitation "
                                                 "is accepted")
    invitation_expires_at: str | None = None


class Issued(ResponseModel):
    """A merchant, a collaborator and a new API token (shown once)."""

    merchant: MerchantOut
    collaborator: CollaboratorOut
    token: str
    token_id: int
    expires_at: str


class Collaborators(ResponseModel):
    items: list[CollaboratorOut]


class InvitationOut(ResponseModel):
    token: str = Field(description="Single-use; shown only here")
    accept_url: str
    accept_page_url: str = Field(description="The same invitation as a back-office page")
    expires_at: str


class Invited(CollaboratorOut):
    """The new collaborator (also under `collaborator`), with the invitation to hand over,
    or, when the owner set a password, the member's first token."""

    collaborator: CollaboratorOut
    invitation: InvitationOut | None = None
    merchant: MerchantOut | None = None
    token: str | None = None
    token_id: int | None = None
    expires_at: str | None = None


class TokenOut(ResponseModel):
    token_id: int
    id: int
    collaborator_id: int
    email: str
    role: str
    created_at: str
    expires_at: str


class Tokens(ResponseModel):
    items: list[TokenOut]


Quotas = dict[Limit, int]


class PlanOut(ResponseModel):
    plan: Plan
    limits: Quotas
    usage: dict[str, int] = Field(description="What the shop uses of each counted limit")
    plans: dict[Plan, Quotas] = Field(description="Every plan's limits, to compare")


class AuditEntryOut(ResponseModel):
    id: int
    at: str
    actor: str | None
    action: str
    target: str | None
    details: dict[str, Any] | None


class AuditPage(Page):
    items: list[AuditEntryOut]


class ShopSettingsChange(ServiceCheckedBody):
    # The service names the fix for a non-boolean or an unknown field (422).
    prices_include_vat: checked_by_service({"type": "boolean"}) = optional(
        description="true: prices include VAT (consumers); false: net prices, VAT by "
                    "destination added at checkout")


class ShopSettingsOut(ResponseModel):
    shop: str
    currency: str
    prices_include_vat: bool
