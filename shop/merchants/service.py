"""Companies and who acts for them: sign-up, shop look-up, and token authentication.

Tokens are in `tokens`, the team in `team`, who-may-do-what in `roles`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.core import validation
from shop.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from shop.core.timeutil import utcnow
from shop.merchants import passwords
from shop.merchants.models import ApiToken, Collaborator, Merchant, Person
from shop.merchants.roles import Role

TOKEN_PREFIX = "psk_"

DEFAULT_CURRENCY = "EUR"  # what a shop sells in unless sign-up names another
DEFAULT_TOKEN_TTL_DAYS = 30


@dataclass(frozen=True)
class Issued:
    merchant: Merchant
    collaborator: Collaborator
    token: str  # shown once; only its hash is stored
    token_id: int
    expires_at: datetime


@dataclass(frozen=True)
class Acting:
    """Who a request acts as: one person's membership of one company, through one token."""

    merchant_id: int
    slug: str
    collaborator_id: int
    person_id: int
    email: str
    role: str
    token_id: int


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:48] or "shop"


def _unique_slug(session: Session, name: str) -> str:
    base = slugify(name)
    slug, suffix = base, 1
    while session.scalar(select(Merchant.id).where(Merchant.slug == slug)) is not None:
        suffix += 1
        slug = f"{base}-{suffix}"
    return slug


def password_from(data: dict[str, Any]) -> str:
    try:
        return passwords.check_strength(data.get("password"))
    except ValueError as problem:
        raise InvalidInput(str(problem)) from None


def person_by_email(session: Session, email: str) -> Person | None:
    return session.scalar(select(Person).where(Person.email == email))


def new_person(session: Session, email: str, password: str) -> Person:
    if person_by_email(session, email) is not None:
        raise Conflict(f"{email} already has an account: sign in with POST /api/v1/tokens",
                       code="email_taken")
    person = Person(email=email, password_hash=passwords.hash_password(password))
    session.add(person)
    session.flush()
    return person


def sign_up(session: Session, data: dict[str, Any],
            token_ttl_days: int = DEFAULT_TOKEN_TTL_DAYS) -> Issued:
    """Create a company, its owner's account and the owner's first API token."""
    from shop.merchants import tokens

    name = validation.text(data, "name")
    email = validation.email(data)
    password = password_from(data)
    currency = validation.currency_code(data, "currency", default=DEFAULT_CURRENCY)
    person = new_person(session, email, password)
    merchant = Merchant(name=name, slug=_unique_slug(session, name), currency=currency)
    session.add(merchant)
    owner = Collaborator(merchant=merchant, person=person, role=Role.OWNER.value,
                         status="active")
    session.add(owner)
    session.flush()
    return tokens.issue(session, owner, token_ttl_days)


def add_company(session: Session, token: str, data: dict[str, Any],
                token_ttl_days: int = DEFAULT_TOKEN_TTL_DAYS) -> Issued:
    """A signed-in person founds another company and owns it; no password goes by again."""
    from shop.merchants import tokens

    row = session.execute(_TOKEN_OWNER.where(ApiToken.token_hash == hash_token(token))).first()
    if row is None:
        raise Unauthorized("the token is not valid: sign in again with POST /api/v1/tokens")
    _, _, expires_at, revoked_at, _, _, status, person_id, _ = row
    if revoked_at is not None or expires_at <= utcnow() or status != "active":
        raise Unauthorized("the token was revoked or expired: sign in again with "
                           "POST /api/v1/tokens")
    name = validation.text(data, "name")
    currency = validation.currency_code(data, "currency", default=DEFAULT_CURRENCY)
    merchant = Merchant(name=name, slug=_unique_slug(session, name), currency=currency)
    session.add(merchant)
    owner = Collaborator(merchant=merchant, person_id=person_id, role=Role.OWNER.value,
                         status="active")
    session.add(owner)
    session.flush()
    session.refresh(owner)
    return tokens.issue(session, owner, token_ttl_days)


def shop_by_slug(session: Session, slug: str) -> Merchant:
    merchant = session.scalar(select(Merchant).where(Merchant.slug == slug))
    if merchant is None:
        raise NotFound(f"there is no shop '{slug}'")
    return merchant


_TOKEN_OWNER = (
    select(ApiToken.id, ApiToken.merchant_id, ApiToken.expires_at, ApiToken.revoked_at,
           Collaborator.id, Collaborator.role, Collaborator.status, Person.id, Person.email)
    .join(Collaborator, Collaborator.id == ApiToken.collaborator_id)
    .join(Person, Person.id == Collaborator.person_id)
)


def authenticate(session: Session, token: str, slug: str,
                 now: datetime | None = None) -> Acting:
    """Who `token` acts as in shop `slug`: 401 unless live, 404 without the shop, 403 for
    another shop's token."""
    now = now or utcnow()
    row = session.execute(_TOKEN_OWNER.where(ApiToken.token_hash == hash_token(token))).first()
    if row is None:
        raise Unauthorized("the token is not valid: sign in again with POST /api/v1/tokens")
    (token_id, merchant_id, expires_at, revoked_at, collaborator_id, role, status,
     person_id, email) = row
    if revoked_at is not None:
        raise Unauthorized("the token was revoked: sign in again with POST /api/v1/tokens",
                           code="token_revoked")
    if expires_at <= now:
        raise Unauthorized("the token expired: sign in again with POST /api/v1/tokens",
                           code="token_expired")
    if status != "active":
        raise Unauthorized("the membership this token belongs to is not active")
    merchant_id_of_slug = session.scalar(select(Merchant.id).where(Merchant.slug == slug))
    if merchant_id_of_slug is None:
        raise NotFound(f"there is no shop '{slug}'")
    if merchant_id_of_slug != merchant_id:
        raise Forbidden(f"this token belongs to another shop and cannot act on '{slug}'")
    return Acting(merchant_id, slug, collaborator_id, person_id, email, role, token_id)


def authorize(session: Session, token: str, slug: str) -> tuple[Merchant, Collaborator]:
    """The shop and membership a token acts for (the role was checked before the view ran)."""
    acting = authenticate(session, token, slug)
    return session.get(Merchant, acting.merchant_id), session.get(Collaborator,
                                                                  acting.collaborator_id)
