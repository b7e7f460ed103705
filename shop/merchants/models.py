"""Merchants (companies), their collaborators, and the API tokens those collaborators hold."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    collaborators: Mapped[list[Collaborator]] = relationship(back_populates="merchant")


class Collaborator(Base):
    """A person who manages a merchant's shop; the one who signed up is its owner."""

    __tablename__ = "collaborators"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="staff")  # owner | staff
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    merchant: Mapped[Merchant] = relationship(back_populates="collaborators")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, so a database leak leaks no tokens."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    collaborator_id: Mapped[int] = mapped_column(ForeignKey("collaborators.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
