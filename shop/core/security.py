"""Response hardening, the trusted proxy, and per-client limits on anonymous writes.

- Every response says `nosniff`, may not be framed, and leaks no full URL as a referrer.
- Behind PEAKSHOP_PROXY_HOPS trusted proxies, X-Forwarded-For/-Proto are believed
  (werkzeug's ProxyFix); a request that reached the edge over TLS then gets HSTS and every
  cookie it sets is `Secure`. Without trusted proxies the headers are ignored: anyone
  can send them.
- Views marked `@limited_per_client` (anonymous creations, like opening a cart) allow each
  client PEAKSHOP_CART_RATE_LIMIT calls, counted in Redis so that every gunicorn worker and
  pod shares the count (Flask-Limiter); beyond it, a 429 problem with Retry-After.
  In development, loopback clients are exempt, so `peakshop up` and local load tests
  (thousands of shoppers from 127.0.0.1) run unhindered.
  Flask-Limiter's own request hooks (before, after, teardown) run for the marked views only:
  peakshop sets no app-wide, default or blueprint limits, which is all they check besides the
  marked views' headers, and on a cached read they were about a tenth of the CPU.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import AfterRequestCallable, BeforeRequestCallable, TeardownCallable
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from shop.core.errors import problem_response
from shop.core.redis import limits_storage_uri

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
_SECURITY_HEADERS_LOWER = tuple((name.lower(), name, value)
                                 for name, value in SECURITY_HEADERS.items())
HSTS = "max-age=31536000; includeSubDomains"
LIMITED_MARK = "_peakshop_limited_per_client"


def limited_per_client(view: Callable) -> Callable:
    """Mark an anonymous, state-creating view: each client may call it only so often."""
    setattr(view, LIMITED_MARK, True)
    return view


def client_address() -> str:
    # After ProxyFix this is the address the trusted proxy saw, not the proxy's own.
    return request.remote_addr or "unknown"


def _harden(response: Response) -> Response:
    if response.status_code == 204:
        # No content, so no content type: Flask would label the empty body text/html.
        response.headers.pop("Content-Type", None)
    # What `headers.setdefault` would do for each, in one pass over the headers (each
    # setdefault is a scan of them all, and every response pays for four).
    present = {name.lower() for name in response.headers.keys()}
    for lowered, name, value in _SECURITY_HEADERS_LOWER:
        if lowered not in present:
            response.headers.add(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
        cookies = response.headers.getlist("Set-Cookie")
        if cookies:
            response.headers.setlist("Set-Cookie", [
                cookie if "; secure" in cookie.lower() else cookie + "; Secure"
                for cookie in cookies])
    return response


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked Secure whenever the request came over TLS.

    Flask writes the session cookie after every after_request hook, so `_harden` never sees
    it: the interface itself has to know."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)

    def open_session(self, app: Flask, incoming: Request) -> SecureCookieSession | None:
        # No cookie at all (every API call, every first visit): the empty session Flask would
        # open, without building the signer and parsing the absent cookies first.
        if app.secret_key and not incoming.environ.get("HTTP_COOKIE"):
            return self.session_class()
        return super().open_session(app, incoming)


def _limit_marked_views(app: Flask, limiter: Limiter, rate: str, development: bool) -> None:
    def exempt() -> bool:
        return development and _is_loopback(client_address())

    for endpoint, view in list(app.view_functions.items()):
        if getattr(view, LIMITED_MARK, False):
            app.view_functions[endpoint] = limiter.limit(rate, key_func=client_address,
                                                         exempt_when=exempt)(view)


def _hooks_for_marked_views_only(app: Flask, limiter: Limiter) -> None:
    """Flask-Limiter registers a before-request, an after-request and a teardown hook for
    every request; keep each in its place but let it run only for the views it limits (the
    marked views check their limits in their own decorator; the hooks add their headers)."""
    limited = frozenset(endpoint for endpoint, view in app.view_functions.items()
                        if getattr(view, LIMITED_MARK, False))

    def its_own(hook) -> bool:
        bound_to = getattr(hook, "__self__", None)
        if bound_to is None:  # the after-request hook is a partial of the limiter
            bound_to = (getattr(hook, "args", None) or (None,))[0]
        return bound_to is limiter

    def before(hook: BeforeRequestCallable) -> BeforeRequestCallable:
        def only_when_limited():
            return hook() if request.endpoint in limited else None
        return only_when_limited

    def after(hook: AfterRequestCallable) -> AfterRequestCallable:
        def only_when_limited(response):
            return hook(response) if request.endpoint in limited else response
        return only_when_limited

    def teardown(hook: TeardownCallable) -> TeardownCallable:
        def only_when_limited(error):
            return hook(error) if request.endpoint in limited else None
        return only_when_limited

    for registry, wrap in ((app.before_request_funcs, before), (app.after_request_funcs, after),
                           (app.teardown_request_funcs, teardown)):
        hooks = registry.get(None, [])
        hooks[:] = [wrap(hook) if its_own(hook) else hook for hook in hooks]


def _rate_limited(error: RateLimitExceeded):
    response = problem_response(429, "rate_limited", "Too many requests",
                                f"this client may do this at most {error.limit.limit} "
                                "times: retry after the seconds in Retry-After")
    return response


def init_app(app: Flask) -> None:
    """Call after the blueprints are registered (the limits wrap their views)."""
    resources = app.extensions["peakshop"]
    settings = resources.settings
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops)
    app.after_request(_harden)
    app.session_interface = TlsAwareSessionInterface()
    # The app's own Redis connections: the embedded server too, no second URL to set.
    storage_uri, storage_options = limits_storage_uri(resources.redis)
    limiter = Limiter(
        key_func=client_address, app=app, headers_enabled=True, strategy="moving-window",
        key_prefix="peakshop:limits", storage_uri=storage_uri, storage_options=storage_options)
    app.extensions["peakshop_limiter"] = limiter
    _limit_marked_views(app, limiter, settings.cart_rate_limit,
                        development=settings.env == "development")
    _hooks_for_marked_views_only(app, limiter)
    app.register_error_handler(RateLimitExceeded, _rate_limited)
