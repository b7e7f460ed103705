"""Plans (free and premium), their limits, a company's usage, and the quota checks."""

from __future__ import annotations

from datetime import MAXYEAR, datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.core.errors import InvalidInput, Problem
from shop.core.timeutil import utcnow
from shop.events.models import ShopEvent
from shop.merchants.billing import BillingProvider, PlanChange
from shop.merchants.models import Collaborator, Merchant, Subscription


class Plan(StrEnum):
    FREE = "free"
    PREMIUM = "premium"


class Limit(StrEnum):
    PRODUCTS = "products"
    COLLABORATORS = "collaborators"  # members and pending invitations
    EVENTS_PER_MONTH = "events_per_month"  # events starting in one calendar month (UTC)
    API_REQUESTS_PER_MINUTE = "api_requests_per_minute"  # authenticated merchant calls


LIMITS: dict[Plan, dict[Limit, int]] = {
    Plan.FREE: {Limit.PRODUCTS: 1000, Limit.COLLABORATORS: 10, Limit.EVENTS_PER_MONTH: 10,
                Limit.API_REQUESTS_PER_MINUTE: 3000},
    Plan.PREMIUM: {Limit.PRODUCTS: 100_000, Limit.COLLABORATORS: 100,
                   Limit.EVENTS_PER_MONTH: 200, Limit.API_REQUESTS_PER_MINUTE: 30_000},
}


def upgrade_hint(slug: str) -> str:
    return f'PUT /api/v1/shops/{slug}/plan {{"plan": "premium"}} (owners)'


class PlanLimit(Problem):
    status, code, title = 402, "plan_limit", "Plan limit reached"

    def __init__(self, plan: Plan, limit: Limit, allowed: int, used: int, slug: str):
        super().__init__(
            f"the {plan} plan allows {allowed} {limit.replace('_', ' ')} and this shop uses "
            f"{used}: upgrade with {upgrade_hint(slug)}",
            extra={"limit": limit.value, "plan": plan.value, "allowed": allowed, "used": used,
                   "upgrade": upgrade_hint(slug)})


def plan_of(session: Session, merchant_id: int) -> Plan:
    plan = session.scalar(select(Subscription.plan).where(
        Subscription.merchant_id == merchant_id))
    return Plan(plan) if plan else Plan.FREE


def _month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month < 12:
        end = start.replace(month=start.month + 1)
    else:  # December of the year 9999 has no next month to end at
        end = start.replace(year=start.year + 1, month=1) if start.year < MAXYEAR else datetime.max
    return start, end


def _count(session: Session, merchant_id: int, limit: Limit, month_of: datetime) -> int:
    if limit == Limit.PRODUCTS:
        statement = select(func.count()).select_from(Product).where(
            Product.merchant_id == merchant_id)
    elif limit == Limit.COLLABORATORS:
        statement = select(func.count()).select_from(Collaborator).where(
            Collaborator.merchant_id == merchant_id)
    elif limit == Limit.EVENTS_PER_MONTH:
        start, end = _month_bounds(month_of)
        statement = select(func.count()).select_from(ShopEvent).where(
            ShopEvent.merchant_id == merchant_id, ShopEvent.starts_at >= start,
            ShopEvent.starts_at < end)
    else:
        raise ValueError(f"{limit} is a rate, not a count")
    return session.scalar(statement)


def usage(session: Session, merchant_id: int, now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    return {limit.value: _count(session, merchant_id, limit, now)
            for limit in (Limit.PRODUCTS, Limit.COLLABORATORS, Limit.EVENTS_PER_MONTH)}


def check(session: Session, merchant_id: int, slug: str, limit: Limit, *, adding: int = 1,
          month_of: datetime | None = None) -> None:
    """Raise PlanLimit (402) when adding `adding` more would go beyond the plan.

    Two requests racing for the last unit can both pass; a quota is a commercial limit, so
    one over is tolerated rather than serialising every creation.
    """
    plan = plan_of(session, merchant_id)
    allowed = LIMITS[plan][limit]
    used = _count(session, merchant_id, limit, month_of or utcnow())
    if used + adding > allowed:
        raise PlanLimit(plan, limit, allowed, used, slug)


def change_plan(session: Session, merchant_id: int, data: dict, billing: BillingProvider
                ) -> Plan:
    raw = data.get("plan")
    try:
        plan = Plan(raw)
    except ValueError:
        raise InvalidInput(f"'plan' must be one of {', '.join(Plan)}: got {raw!r}") from None
    subscription = session.get(Subscription, merchant_id)
    if subscription is None:
        subscription = Subscription(merchant_id=merchant_id, plan=Plan.FREE.value)
        session.add(subscription)
    slug = session.scalar(select(Merchant.slug).where(Merchant.id == merchant_id))
    result = billing.change_plan(PlanChange(merchant_id, slug, plan.value,
                                            subscription.billing_reference))
    subscription.plan = plan.value
    subscription.billing_reference = result.billing_reference
    return plan
