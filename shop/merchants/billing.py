"""The billing seam: how a plan change would be charged.

`BillingProvider` is the contract a Stripe implementation fills (create or update a Stripe
Subscription for the company and return its id); `NoChargeBilling` is what runs today: it
records the change and charges nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PlanChange:
    merchant_id: int
    slug: str
    plan: str
    billing_reference: str | None  # the provider's id from the previous change, if any


@dataclass(frozen=True)
class BillingResult:
    billing_reference: str | None  # e.g. a Stripe subscription id


class BillingProvider(Protocol):
    def change_plan(self, change: PlanChange) -> BillingResult:
        """Start, change or end the paid subscription; raise a Problem when refused."""


class NoChargeBilling:
    """Plan changes take effect at once and nobody is charged."""

    def change_plan(self, change: PlanChange) -> BillingResult:
        return BillingResult(billing_reference=change.billing_reference)


def billing_provider() -> BillingProvider:
    return NoChargeBilling()
