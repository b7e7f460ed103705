"""Sign-up, sign-in, collaborators, and who may touch which shop."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from shop.core import validation
from shop.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from shop.merchants.models import ApiToken, Collaborator, Merchant

MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "psk_"
ROLES = ("owner", "staff")
DEFAULT_CURRENCY = "EUR"  # what a shop sells in unless sign-up names another


@dataclass(frozen=True)
class Issued:
    merchant: Merchant
    collaborator: Collaborator
    token: str  # shown once; only its hash is stored


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


def _password(data: dict[str, Any]) -> str:
    password = data.get("password")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"'password' must be a string of at least {MIN_PASSWORD_LENGTH} "
                           "characters")
    return password


def _issue_token(session: Session, collaborator: Collaborator) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=hash_token(token), collaborator_id=collaborator.id,
                         merchant_id=collaborator.merchant_id))
    return token


def _new_collaborator(session: Session, merchant: Merchant, data: dict[str, Any],
                      role: str) -> Collaborator:
    email = validation.email(data)
    password = _password(data)
    if session.scalar(select(Collaborator.id).where(Collaborator.email == email)) is not None:
        raise Conflict(f"{email} already has an account: sign in with POST /api/v1/tokens",
                       code="email_taken")
    collaborator = Collaborator(merchant=merchant, email=email, role=role,
                                password_hash=generate_password_hash(password))
    session.add(collaborator)
    session.flush()
    return collaborator


def sign_up(session: Session, data: dict[str, Any]) -> Issued:
    """Create a merchant with its owner and the owner's first API token."""
    name = validation.text(data, "name")
    currency = validation.currency_code(data, "currency", default=DEFAULT_CURRENCY)
    merchant = Merchant(name=name, slug=_unique_slug(session, name), currency=currency)
    session.add(merchant)
    owner = _new_collaborator(session, merchant, data, role="owner")
    return Issued(merchant, owner, _issue_token(session, owner))


def sign_in(session: Session, data: dict[str, Any]) -> Issued:
    """A new token for a collaborator who knows their password."""
    email = validation.email(data)
    password = data.get("password")
    collaborator = session.scalar(select(Collaborator).where(Collaborator.email == email))
    if (collaborator is None or not isinstance(password, str)
            or not check_password_hash(collaborator.password_hash, password)):
        raise Unauthorized("wrong e-mail or password")
    return Issued(collaborator.merchant, collaborator, _issue_token(session, collaborator))


def add_collaborator(session: Session, merchant: Merchant, acting: Collaborator,
                     data: dict[str, Any]) -> Issued:
    """An owner invites a collaborator to their company's shop."""
    if acting.role != "owner":
        raise Forbidden("only the shop's owner can add collaborators")
    role = data.get("role", "staff")
    if role not in ROLES:
        raise InvalidInput(f"'role' must be one of {', '.join(ROLES)}: got {role!r}")
    collaborator = _new_collaborator(session, merchant, data, role=role)
    return Issued(merchant, collaborator, _issue_token(session, collaborator))


def shop_by_slug(session: Session, slug: str) -> Merchant:
    merchant = session.scalar(select(Merchant).where(Merchant.slug == slug))
    if merchant is None:
        raise NotFound(f"there is no shop '{slug}'")
    return merchant


def authorize(session: Session, token: str, slug: str) -> tuple[Merchant, Collaborator]:
    """The shop and collaborator a token acts for; 401 for a bad token, 403 for another shop."""
    row = session.execute(
        select(ApiToken, Collaborator)
        .join(Collaborator, Collaborator.id == ApiToken.collaborator_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        raise Unauthorized("the token is not valid: sign in again with POST /api/v1/tokens")
    merchant = shop_by_slug(session, slug)
    if row.ApiToken.merchant_id != merchant.id:
        raise Forbidden(f"this token belongs to another shop and cannot act on '{slug}'")
    return merchant, row.Collaborator


def list_collaborators(session: Session, merchant: Merchant) -> list[Collaborator]:
    return list(session.scalars(select(Collaborator)
                                .where(Collaborator.merchant_id == merchant.id)
                                .order_by(Collaborator.id)))
