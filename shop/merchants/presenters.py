"""JSON shapes of companies, people, tokens and audit entries (shared by the API views)."""

from __future__ import annotations

from shop.core.timeutil import rfc3339
from shop.merchants.models import AuditEntry, Collaborator
from shop.merchants.service import Issued
from shop.merchants.tokens import TokenView


def collaborator_json(collaborator: Collaborator) -> dict:
    return {"id": collaborator.id, "email": collaborator.email, "role": collaborator.role,
            "status": collaborator.status,
            "invitation_expires_at": rfc3339(collaborator.invitation_expires_at)}


def issued_json(issued: Issued) -> dict:
    merchant = issued.merchant
    return {"merchant": {"id": merchant.id, "slug": merchant.slug, "name": merchant.name,
                         "currency": merchant.currency},
            "collaborator": collaborator_json(issued.collaborator),
            "token": issued.token, "token_id": issued.token_id,
            "expires_at": rfc3339(issued.expires_at)}


def token_json(view: TokenView) -> dict:
    token = view.token
    return {"token_id": token.id, "id": token.id, "collaborator_id": token.collaborator_id,
            "email": view.email, "role": view.role, "created_at": rfc3339(token.created_at),
            "expires_at": rfc3339(token.expires_at)}


def audit_json(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": rfc3339(entry.at), "actor": entry.actor,
            "action": entry.action, "target": entry.target, "details": entry.details}
