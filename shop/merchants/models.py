"""Companies (merchants), the people who run them, their memberships, tokens, plan and audit.

A person has one account (e-mail and password) and may belong to several companies; each
membership (`Collaborator`) carries the person's role in that company. A token acts for one
membership, so it only ever reaches one shop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.core.db import Base
from shop.core.timeutil import utcnow


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The shop sells in this one currency (ISO 4217); every product is priced in it.
    currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")
    # Gross prices (VAT included, for consumers) or net prices with VAT added at checkout by
    # destination (docs/vat.md).
    prices_include_vat: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    collaborators: Mapped[list[Collaborator]] = relationship(back_populates="merchant")


class Person(Base):
    """Someone who signs in; `password_hash` is argon2id (older werkzeug hashes are upgraded on
    the next successful sign-in)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Collaborator(Base):
    """A person's membership of one company, with their role there.

    An invited collaborator has no person yet (or one who has not accepted): `status` is
    `invited` and only the SHA-256 of the single-use invitation token is kept.
    """

    __tablename__ = "collaborators"
    __table_args__ = (
        UniqueConstraint("merchant_id", "person_id", name="uq_collaborators_merchant_person"),
        UniqueConstraint("merchant_id", "invited_email",
                         name="uq_collaborators_merchant_invited_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True,
                                                  index=True)
    role: Mapped[str] = mapped_column(String(16), default="staff")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | invited
    invited_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    invitation_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    invitation_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    merchant: Mapped[Merchant] = relationship(back_populates="collaborators")
    person: Mapped[Person | None] = relationship()

    @property
    def email(self) -> str:
        return self.person.email if self.person is not None else self.invited_email or ""


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, so a database leak leaks no tokens."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    collaborator_id: Mapped[int] = mapped_column(ForeignKey("collaborators.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Subscription(Base):
    """The plan a company is on; a company without a row is on the free plan."""

    __tablename__ = "subscriptions"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    plan: Mapped[str] = mapped_column(String(16), default="free")
    billing_reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """Who changed what in a company, in the order it happened."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_merchant_id_id", "merchant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # Kept as text too: the entry must outlive the membership of whoever acted.
    actor_person_id: Mapped[int | None] = mapped_column(nullable=True)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
