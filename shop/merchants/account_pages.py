"""The shop's tokens (list, revoke), its plan (limits, usage, the upgrade) and its audit log,
as pages; the rules are those of `tokens`, `plans` and `audit`, shared with the JSON API."""

from __future__ import annotations

from flask import Blueprint, g, request
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from shop.catalog.service import parse_limit
from shop.core import resources
from shop.core.errors import Problem
from shop.merchants import audit, plans, roles, tokens
from shop.merchants import service as merchants
from shop.merchants.access import acting
from shop.merchants.billing import billing_provider
from shop.merchants.page_kit import ButtonForm, render_page, see_other, submitted

blueprint = Blueprint("account", __name__, url_prefix="/shops/<slug>")

LIMIT_WORDS = {
    plans.Limit.PRODUCTS: "Products",
    plans.Limit.COLLABORATORS: "Collaborators and open invitations",
    plans.Limit.EVENTS_PER_MONTH: "Events starting this month",
    plans.Limit.API_REQUESTS_PER_MINUTE: "API requests per minute",
}


class PlanForm(FlaskForm):
    plan = SelectField("Plan", choices=[SelectChoice(plan.value, plan.value.capitalize())
                                        for plan in plans.Plan])


def _tokens_page(slug: str, status: int = 200, error: str | None = None):
    who = acting()
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        live = tokens.list_tokens(db, who)
        return render_page("merchant/tokens.html", status, shop=shop, who=who, tokens=live,
                           button=ButtonForm(), error=error,
                           may_revoke=roles.may(who.role, "tokens.revoke"))


@blueprint.get("/tokens")
def show_tokens(slug: str):
    """Live API tokens: everyone's for an owner, one's own for everybody else."""
    return _tokens_page(slug)


@blueprint.post("/tokens/<int:token_id>/revoke")
def revoke_token(slug: str, token_id: int):
    """Revoke a token at once; revoking this session's own token signs you out."""
    try:
        submitted(ButtonForm())
        with resources.current().database.transaction() as db:
            tokens.revoke(db, acting(), token_id)
    except Problem as problem:
        return _tokens_page(slug, problem.status, problem.detail)
    return see_other("merchant_pages.account.show_tokens", slug=slug)


def _plan_page(slug: str, status: int = 200, form: PlanForm | None = None,
               error: str | None = None):
    who = acting()
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        current = plans.plan_of(db, who.merchant_id)
        used = plans.usage(db, who.merchant_id)
        form = form or PlanForm(formdata=None, plan=current.value)
        rows = [(LIMIT_WORDS[limit], used.get(limit.value),
                 {plan: plans.LIMITS[plan][limit] for plan in plans.Plan})
                for limit in plans.Limit]
        return render_page("merchant/plan.html", status, shop=shop, who=who, plan=current,
                           plans=list(plans.Plan), rows=rows, form=form, error=error,
                           may_change=roles.may(who.role, "plan.write"))


@blueprint.get("/plan")
def show_plan(slug: str):
    """The plan, its limits side by side with the other plan's, and what the shop uses."""
    return _plan_page(slug)


@blueprint.post("/plan")
def change_plan(slug: str):
    """Move the shop to another plan (owners), through the billing provider."""
    form = PlanForm()
    try:
        submitted(form)
        with resources.current().database.transaction() as db:
            plans.change_plan(db, acting().merchant_id, {"plan": form.plan.data},
                              billing_provider())
        g.audit_details = {"plan": form.plan.data}
    except Problem as problem:
        return _plan_page(slug, problem.status, form, problem.detail)
    return see_other("merchant_pages.account.show_plan", slug=slug)


@blueprint.get("/audit")
def show_audit(slug: str):
    """Who changed what, newest first, a page at a time (owners)."""
    limit = parse_limit(request.args.get("limit"))
    cursor = request.args.get("cursor") or None
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        found = audit.page(db, acting().merchant_id, limit=limit, cursor=cursor)
        return render_page("merchant/audit.html", shop=shop, who=acting(), entries=found.items,
                           next_cursor=found.next_cursor, limit=limit, first_page=not cursor)
