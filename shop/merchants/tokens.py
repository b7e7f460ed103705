"""API tokens: issued at sign-in, expiring, listed and revoked per shop."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from shop.core.errors import Forbidden, NotFound, Unauthorized
from shop.core.timeutil import utcnow
from shop.merchants import passwords
from shop.merchants.models import ApiToken, Collaborator, Merchant, Person
from shop.merchants.roles import Role
from shop.merchants.service import (
    TOKEN_PREFIX,
    Acting,
    Issued,
    hash_token,
    person_by_email,
)

# One message for an unknown e-mail and a wrong password, so neither reveals an account.
WRONG_CREDENTIALS = "wrong e-mail or password"


@dataclass(frozen=True)
class TokenView:
    token: ApiToken
    email: str
    role: str


def issue(session: Session, collaborator: Collaborator, ttl_days: int,
          now: datetime | None = None) -> Issued:
    """A new token for one membership, valid for `ttl_days`."""
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=hash_token(token), collaborator_id=collaborator.id,
                   merchant_id=collaborator.merchant_id, created_at=now,
                   expires_at=now + timedelta(days=ttl_days))
    session.add(row)
    session.flush()
    return Issued(collaborator.merchant, collaborator, token, row.id, row.expires_at)


def check_password(session: Session, email: str, password: str) -> passwords.Verdict:
    """Whether `password` is the account's; the same work for an e-mail nobody has.

    Runs in a read session: the expensive hash must not hold a write lock.
    """
    stored = session.scalar(select(Person.password_hash).where(Person.email == email))
    if stored is None:
        return passwords.verify_nobody(password)
    return passwords.verify(stored, password)


def sign_in(session: Session, email: str, verdict: passwords.Verdict, ttl_days: int,
            shop: str | None = None) -> Issued:
    """A new token for a person whose password `verdict` matched (else 401).

    Without `shop`, the token acts in the first company the person joined.
    """
    person = person_by_email(session, email)
    if person is None or not verdict.matches:
        raise Unauthorized(WRONG_CREDENTIALS, code="wrong_credentials")
    if verdict.new_hash:
        person.password_hash = verdict.new_hash
    statement = (select(Collaborator).join(Merchant, Merchant.id == Collaborator.merchant_id)
                 .options(joinedload(Collaborator.person), joinedload(Collaborator.merchant))
                 .where(Collaborator.person_id == person.id, Collaborator.status == "active")
                 .order_by(Collaborator.id).limit(1))
    if shop is not None:
        statement = statement.where(Merchant.slug == shop)
    membership = session.scalar(statement)
    if membership is None:
        where = f"shop '{shop}'" if shop else "any shop"
        raise Forbidden(f"your account is not a collaborator of {where}: ask an owner to "
                        "invite you", code="no_membership")
    return issue(session, membership, ttl_days)


def list_tokens(session: Session, acting: Acting, now: datetime | None = None
                ) -> list[TokenView]:
    """Live tokens of the shop: every one for an owner, one's own for everybody else."""
    now = now or utcnow()
    statement = (select(ApiToken, Person.email, Collaborator.role)
                 .join(Collaborator, Collaborator.id == ApiToken.collaborator_id)
                 .join(Person, Person.id == Collaborator.person_id)
                 .where(ApiToken.merchant_id == acting.merchant_id,
                        ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
                 .order_by(ApiToken.id))
    if acting.role != Role.OWNER:
        statement = statement.where(ApiToken.collaborator_id == acting.collaborator_id)
    return [TokenView(token, email, role) for token, email, role in session.execute(statement)]


def revoke(session: Session, acting: Acting, token_id: int,
           now: datetime | None = None) -> ApiToken:
    """Revoke a token of the shop; only owners revoke other people's tokens. Idempotent."""
    token = session.scalar(select(ApiToken).where(ApiToken.id == token_id,
                                                  ApiToken.merchant_id == acting.merchant_id))
    if token is None:
        raise NotFound(f"the shop has no token {token_id}", code="unknown_token")
    if token.collaborator_id != acting.collaborator_id and acting.role != Role.OWNER:
        raise Forbidden("only owners revoke other people's tokens: revoke your own, or ask "
                        "an owner")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
    return token

