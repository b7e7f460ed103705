"""The merchant area's door: the role matrix, plan rate and quotas enforced on every route
under /api/v1/shops/<slug>/, and the audit entry of every change that went through.

It runs as the app's `before_request`/`after_request`, so a view cannot forget it: the view
only reads `acting()` for who is acting.
"""

from __future__ import annotations

import logging
import math
import os
import time

import redis
from flask import Flask, Response, current_app, g, redirect, request, url_for
from limits import RateLimitItemPerMinute
from limits.strategies import FixedWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from shop.core import resources
from shop.core.errors import Forbidden, Problem, Unauthorized, problem_response
from shop.core.http import bearer_token
from shop.core.redis import limits_storage
from shop.merchants import audit, plans, roles, service, tokens
from shop.merchants.roles import PAGES, PUBLIC, SHOP
from shop.merchants.throttle import HashingSlots, SignInThrottle, TooManyRequests

log = logging.getLogger(__name__)

# Creations that use up a counted quota, checked before the view runs.
QUOTAS = {
    ("POST", f"{SHOP}/products"): plans.Limit.PRODUCTS,
    ("POST", f"{SHOP}/collaborators"): plans.Limit.COLLABORATORS,
    ("POST", f"{PAGES}/team/invitations"): plans.Limit.COLLABORATORS,
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class MerchantGuards:
    """Per-app Redis counters: the sign-in throttle and each shop's API rate."""

    def __init__(self, app: Flask):
        current = app.extensions["peakshop"]
        settings = current.settings
        self.signin = SignInThrottle(current.redis, settings.signin_account_limit,
                                     settings.signin_client_limit, settings.signin_host_rate)
        self.hashing = HashingSlots(os.path.join(settings.instance_path, "signin-slots"),
                                    settings.signin_concurrency)
        storage = limits_storage(current.redis, "peakshop:api-rate")
        self._api_rate = FixedWindowRateLimiter(storage)

    def count_api_call(self, merchant_id: int, plan: plans.Plan, slug: str) -> None:
        allowed = plans.LIMITS[plan][plans.Limit.API_REQUESTS_PER_MINUTE]
        item = RateLimitItemPerMinute(allowed)
        try:
            within = self._api_rate.hit(item, str(merchant_id))
        except redis.exceptions.RedisError as problem:
            # A commercial limit is not worth refusing a merchant's stock update while Redis
            # is down (the sign-in throttle, a security limit, does refuse).
            log.warning("API rate of shop %s not counted, Redis unavailable: %s", slug,
                        problem)
            return
        if not within:
            stats = self._api_rate.get_window_stats(item, str(merchant_id))
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            raise TooManyRequests(
                f"the {plan} plan allows {allowed} API requests per minute: retry in "
                f"{retry_after} s, or upgrade with {plans.upgrade_hint(slug)}", retry_after,
                code="plan_limit",
                extra={"limit": plans.Limit.API_REQUESTS_PER_MINUTE.value,
                       "plan": plan.value, "allowed": allowed,
                       "upgrade": plans.upgrade_hint(slug)})


def guards() -> MerchantGuards:
    return current_app.extensions["peakshop_merchants"]


def acting() -> service.Acting:
    """Who the current merchant request acts as (set by the door before the view)."""
    return g.acting


def client_address() -> str:
    return request.remote_addr or "unknown"


def _enforce() -> Response | None:
    rule = request.url_rule
    if rule is not None and roles.is_page(rule.rule):
        from shop.merchants import pages

        token = pages.session_token()
        if not token:
            return redirect(url_for("merchant_pages.sign_in"), 303)
        try:
            _check(rule.rule, token)
        except Problem as problem:
            return pages.page_for_problem(problem)
        return None
    if rule is None or request.method == "OPTIONS" or not roles.is_merchant_route(rule.rule):
        return None
    if roles.action_for(request.method, rule.rule) == PUBLIC:
        return None
    _check(rule.rule, bearer_token())
    return None


def _check(rule: str, token: str) -> None:
    """Who acts, and whether their role, plan rate and quota allow this request."""
    action = roles.action_for(request.method, rule)
    if action is None:
        log.warning("route %s %s is missing from the role matrix (shop.merchants.roles); "
                    "only owners and managers may use it", request.method, rule)
    slug = (request.view_args or {}).get("slug", "")
    with resources.current().database.reading() as session:
        who = service.authenticate(session, token, slug)
        if not roles.may(who.role, action):
            allowed = ", ".join(sorted(roles.allowed_roles(action)))
            raise Forbidden(f"a {who.role} cannot do this ({action or 'unclassified'}): "
                            f"it takes one of {allowed}; ask an owner",
                            code="role_forbidden")
        plan = plans.plan_of(session, who.merchant_id)
        guards().count_api_call(who.merchant_id, plan, slug)
        quota = QUOTAS.get((request.method, rule))
        if quota is not None:
            plans.check(session, who.merchant_id, slug, quota)
    g.acting = who
    g.action = action or "unclassified"


def checked_sign_in(email: str, password: str, shop: str | None) -> service.Issued:
    """Sign in through every guard, cheapest first: the account's and the client's failure
    limits, the host's hash budget and slot, then the password; a failure is counted."""
    current = resources.current()
    throttle = guards().signin
    client = client_address()
    throttle.refuse_if_exceeded(email, client)
    throttle.take_hash_budget()
    try:
        with guards().hashing.slot(), current.database.reading() as session:
            verdict = tokens.check_password(session, email, password)
        with current.database.transaction() as session:
            issued = tokens.sign_in(session, email, verdict, current.settings.token_ttl_days,
                                    shop=shop)
            who = service.Acting(issued.merchant.id, issued.merchant.slug,
                                 issued.collaborator.id, issued.collaborator.person_id, email,
                                 issued.collaborator.role, issued.token_id)
            audit.record(session, issued.merchant.id, who, "tokens.issue",
                         f"token {issued.token_id}", {"client": client})
            return issued
    except Unauthorized:
        throttle.record_failure(email, client)
        raise


def _audit(response: Response) -> Response:
    who = g.get("acting")
    if (who is None or request.method in READ_METHODS or response.status_code >= 400
            or g.get("audited")):
        return response
    body = request.get_json(silent=True) if request.is_json else None
    details = {"method": request.method, "status": response.status_code}
    if body is not None:
        details["request"] = body
    if request.args:
        details["query"] = request.args.to_dict()
    details.update(g.get("audit_details") or {})
    try:
        with resources.current().database.transaction() as session:
            audit.record(session, who.merchant_id, who, g.action, request.path, details)
    except Exception:  # the change is committed; a lost audit line must not turn it into a 500
        log.exception("could not write the audit entry for %s %s", request.method,
                      request.path)
    return response


def _too_many(error: TooManyRequests) -> Response:
    response = problem_response(error.status, error.code, error.title, error.detail,
                                error.extra)
    response.headers["Retry-After"] = str(error.retry_after_s)
    return response


def init_app(app: Flask) -> None:
    app.extensions["peakshop_merchants"] = MerchantGuards(app)
    app.before_request(_enforce)
    app.after_request(_audit)
    app.register_error_handler(TooManyRequests, _too_many)
    hops = app.extensions["peakshop"].settings.proxy_hops
    if hops:
        # Behind a load balancer the client is in X-Forwarded-For; the sign-in throttle
        # counts per client, so it must see the real one (and only trust `hops` proxies).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
