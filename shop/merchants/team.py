"""The team of a company: invitations, roles, removal, and handing over ownership.

A company always keeps at least one owner: every change that could remove the last one
takes the company's row lock first, so two owners demoting each other at once cannot both
succeed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from shop.core import validation
from shop.core.errors import Conflict, InvalidInput, NotFound, Problem, Unauthorized
from shop.core.timeutil import utcnow
from shop.merchants import audit, passwords, tokens
from shop.merchants.models import ApiToken, Collaborator, Merchant
from shop.merchants.roles import Role, parse_role
from shop.merchants.service import (
    Acting,
    Issued,
    hash_token,
    new_person,
    password_from,
    person_by_email,
)

INVITATION_PREFIX = "inv_"


@dataclass(frozen=True)
class Invited:
    collaborator: Collaborator
    invitation: str | None = None  # the single-use secret to hand to the invitee
    issued: Issued | None = None  # when the owner set the password: the member's first token


def list_team(session: Session, merchant_id: int) -> list[Collaborator]:
    return list(session.scalars(select(Collaborator)
                                .options(selectinload(Collaborator.person))
                                .where(Collaborator.merchant_id == merchant_id)
                                .order_by(Collaborator.id)))


def _role(data: dict[str, Any], default: Role | None = None) -> Role:
    if "role" not in data and default is not None:
        return default
    try:
        return parse_role(data.get("role"))
    except ValueError as problem:
        raise InvalidInput(str(problem)) from None


def _lock_company(session: Session, merchant_id: int) -> None:
    session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update())


def _member(session: Session, merchant_id: int, collaborator_id: int) -> Collaborator:
    collaborator = session.scalar(select(Collaborator).where(
        Collaborator.id == collaborator_id, Collaborator.merchant_id == merchant_id))
    if collaborator is None:
        raise NotFound(f"the shop has no collaborator {collaborator_id}",
                       code="unknown_collaborator")
    return collaborator


def invite(session: Session, merchant_id: int, data: dict[str, Any], *,
           invitation_ttl_hours: int, token_ttl_days: int,
           now: datetime | None = None) -> Invited:
    """Invite someone by e-mail with a role; they accept through the invitation link.

    With a `password`, an owner creates the account of someone new directly and gets their
    first token (the older way, kept for existing integrations).
    """
    now = now or utcnow()
    email = validation.email(data)
    role = _role(data, default=Role.STAFF)
    person = person_by_email(session, email)
    if person is not None and session.scalar(select(Collaborator.id).where(
            Collaborator.merchant_id == merchant_id,
            Collaborator.person_id == person.id)) is not None:
        raise Conflict(f"{email} is already a collaborator of this shop: change their role "
                       "with PATCH instead", code="already_collaborator")
    if "password" in data:
        if person is not None:
            raise Conflict(f"{email} already has an account: invite them without a password "
                           "and they accept with their own", code="email_taken")
        person = new_person(session, email, password_from(data))
        collaborator = Collaborator(merchant_id=merchant_id, person_id=person.id,
                                    role=role.value, status="active")
        session.add(collaborator)
        session.flush()
        return Invited(collaborator, issued=tokens.issue(session, collaborator, token_ttl_days))
    invitation = INVITATION_PREFIX + secrets.token_urlsafe(32)
    collaborator = session.scalar(select(Collaborator).where(
        Collaborator.merchant_id == merchant_id, Collaborator.invited_email == email))
    if collaborator is None:  # inviting again only renews the link and the role
        collaborator = Collaborator(merchant_id=merchant_id, invited_email=email,
                                    status="invited")
        session.add(collaborator)
    collaborator.role = role.value
    collaborator.invitation_hash = hash_token(invitation)
    collaborator.invitation_expires_at = now + timedelta(hours=invitation_ttl_hours)
    session.flush()
    return Invited(collaborator, invitation=invitation)


def open_invitation(session: Session, invitation: str, now: datetime | None = None
                    ) -> Collaborator:
    """The invited membership `invitation` opens: 404 when unknown or used, 410 expired."""
    now = now or utcnow()
    collaborator = session.scalar(select(Collaborator).where(
        Collaborator.invitation_hash == hash_token(invitation),
        Collaborator.status == "invited"))
    if collaborator is None:
        raise NotFound("this invitation does not exist or was already used: ask an owner "
                       "to invite you again", code="unknown_invitation")
    if collaborator.invitation_expires_at <= now:
        raise Problem("this invitation expired: ask an owner to invite you again",
                      code="invitation_expired", status=410)
    return collaborator


def has_account(session: Session, email: str) -> bool:
    """Whether `email` already signs in somewhere (then accepting takes that password)."""
    return person_by_email(session, email) is not None


def join(session: Session, invitation: str, data: dict[str, Any], *, token_ttl_days: int
         ) -> Issued:
    """Accept an invitation and write the arrival in the shop's audit log."""
    issued = accept(session, invitation, data, token_ttl_days=token_ttl_days)
    who = Acting(issued.merchant.id, issued.merchant.slug, issued.collaborator.id,
                 issued.collaborator.person_id, issued.collaborator.email,
                 issued.collaborator.role, issued.token_id)
    audit.record(session, issued.merchant.id, who, "team.join",
                 f"collaborator {issued.collaborator.id}", {"role": issued.collaborator.role})
    return issued


def accept(session: Session, invitation: str, data: dict[str, Any], *, token_ttl_days: int,
           now: datetime | None = None) -> Issued:
    """The invitee joins: someone new sets a password, someone with an account gives theirs."""
    collaborator = open_invitation(session, invitation, now)
    email = collaborator.invited_email
    person = person_by_email(session, email)
    if person is None:
        person = new_person(session, email, password_from(data))
    else:
        password = data.get("password")
        verdict = (passwords.verify(person.password_hash, password)
                   if isinstance(password, str) else passwords.Verdict(False))
        if not verdict.matches:
            raise Unauthorized(f"{email} already has an account: accept with its password",
                               code="wrong_credentials")
        if session.scalar(select(Collaborator.id).where(
                Collaborator.merchant_id == collaborator.merchant_id,
                Collaborator.person_id == person.id)) is not None:
            raise Conflict("you are already a collaborator of this shop",
                           code="already_collaborator")
    collaborator.person_id = person.id
    collaborator.status = "active"
    collaborator.invited_email = None
    collaborator.invitation_hash = None
    collaborator.invitation_expires_at = None
    session.flush()
    session.refresh(collaborator)
    return tokens.issue(session, collaborator, token_ttl_days, now)


def _owner_count(session: Session, merchant_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Collaborator).where(
        Collaborator.merchant_id == merchant_id, Collaborator.role == Role.OWNER.value,
        Collaborator.status == "active"))


def _keep_an_owner(session: Session, collaborator: Collaborator) -> None:
    if (collaborator.role == Role.OWNER and collaborator.status == "active"
            and _owner_count(session, collaborator.merchant_id) <= 1):
        raise Conflict("the shop must keep at least one owner: make someone else owner "
                       "first (POST .../ownership)", code="last_owner")


def change_role(session: Session, merchant_id: int, collaborator_id: int,
                data: dict[str, Any]) -> Collaborator:
    unknown = sorted(set(data) - {"role"})
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(unknown)}: only 'role' can change")
    role = _role(data)
    _lock_company(session, merchant_id)
    collaborator = _member(session, merchant_id, collaborator_id)
    if role != Role.OWNER:
        _keep_an_owner(session, collaborator)
    collaborator.role = role.value
    return collaborator


def remove(session: Session, merchant_id: int, collaborator_id: int) -> Collaborator:
    """Take someone off the team (or cancel their invitation); their tokens stop working."""
    _lock_company(session, merchant_id)
    collaborator = _member(session, merchant_id, collaborator_id)
    _keep_an_owner(session, collaborator)
    session.execute(delete(ApiToken).where(ApiToken.collaborator_id == collaborator.id))
    session.delete(collaborator)
    session.flush()
    return collaborator


def transfer_ownership(session: Session, acting: Acting, data: dict[str, Any]
                       ) -> Collaborator:
    """Make another member owner and the acting owner a manager, in one step."""
    target_id = validation.integer(data, "collaborator_id", minimum=1)
    _lock_company(session, acting.merchant_id)
    target = _member(session, acting.merchant_id, target_id)
    if target.status != "active":
        raise Conflict("only a collaborator who accepted their invitation can become owner",
                       code="not_active")
    target.role = Role.OWNER.value
    if target.id != acting.collaborator_id:
        _member(session, acting.merchant_id, acting.collaborator_id).role = Role.MANAGER.value
    return target
