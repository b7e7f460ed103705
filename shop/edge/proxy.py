"""Forwarding to gunicorn: what goes through, what is added, and the answers when it fails.

Bodies stream both ways (a CSV import or an image upload is never held whole in the gate),
the method, headers, status and every Set-Cookie pass unchanged, and gunicorn learns the
client's address from X-Forwarded-For: the gate appends the address it saw, and keeps what
came before only when PEAKSHOP_PROXY_HOPS says that proxies in front are trusted (else a
client could name any address it likes). gunicorn behind the gate trusts one more hop.
"""

from __future__ import annotations

import json

from multidict import CIMultiDict, CIMultiDictProxy

from shop.core.problem_json import PROBLEM_JSON, RETRY_AFTER_S, STATUS_PAGE, problem_body

# Headers about one connection, never forwarded (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "transfer-encoding",
                        "upgrade"})
SHED_RETRY_AFTER_S = 10   # as the in-app shedder's


def _connection_tokens(headers: CIMultiDictProxy) -> set[str]:
    return {token.strip().lower() for value in headers.getall("Connection", [])
            for token in value.split(",")}


def upstream_headers(headers: CIMultiDictProxy, client: str | None, proxy_hops: int,
                     scheme: str) -> CIMultiDict:
    """The request headers gunicorn gets: the client's, minus hop-by-hop ones, with the
    client's address appended to X-Forwarded-For (see the module docstring)."""
    dropped = HOP_BY_HOP | _connection_tokens(headers)
    if proxy_hops == 0:
        dropped |= {"x-forwarded-for", "x-forwarded-proto"}
    forwarded = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in dropped:
            forwarded.add(name, value)
    chain = [value for value in forwarded.popall("X-Forwarded-For", []) if value.strip()]
    chain.append(client or "unknown")
    forwarded["X-Forwarded-For"] = ", ".join(chain)
    if proxy_hops == 0:
        forwarded["X-Forwarded-Proto"] = scheme
    return forwarded


def downstream_headers(headers: CIMultiDictProxy) -> CIMultiDict:
    """The response headers the client gets: gunicorn's, minus hop-by-hop ones."""
    dropped = HOP_BY_HOP | _connection_tokens(headers)
    kept = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in dropped:
            kept.add(name, value)
    return kept


def keep_private(headers: CIMultiDict) -> None:
    """A response that carries a visitor's pass is theirs alone: a shared cache must never
    hand it to someone else (as `shop.core.http_cache.keep_personal_private` does in-app)."""
    stated = headers.get("Cache-Control", "")
    if not stated or "public" in stated.lower() or "s-maxage" in stated.lower():
        headers["Cache-Control"] = "private, no-store"


def problem(status: int, code: str, title: str, detail: str, retry_after_s: int,
            extra: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    """A problem+json answer of the gate's own, with Retry-After and the status page."""
    body = json.dumps(problem_body(status, code, title, detail,
                                   {"status_page": STATUS_PAGE, **(extra or {})})).encode()
    return status, {"Content-Type": PROBLEM_JSON, "Retry-After": str(retry_after_s),
                    "Cache-Control": "no-store",
                    "Link": f'<{STATUS_PAGE}>; rel="status"'}, body


def storefront_unavailable(why: str) -> tuple[int, dict[str, str], bytes]:
    return problem(503, "dependency_unavailable", "Service temporarily unavailable",
                   f"the storefront {why}; we are on it, see {STATUS_PAGE}, and retry in "
                   f"{RETRY_AFTER_S} seconds", RETRY_AFTER_S)


def gate_full(request_class: str) -> tuple[int, dict[str, str], bytes]:
    return problem(503, "overloaded", "Service temporarily overloaded",
                   "the shop is overloaded and is serving checkouts and carts first; retry in "
                   f"{SHED_RETRY_AFTER_S} seconds", SHED_RETRY_AFTER_S,
                   {"request_class": request_class})


UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{retry_s}">
<title>Back in a moment</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto">
<h1>We are sorry: the shop is not answering right now</h1>
<p>Our team is on it. This page tries again by itself in {retry_s} seconds; your cart is kept.</p>
<p>What we know, and when it will be back: <a href="{status}">the status page</a>.</p>
</body></html>
"""


def storefront_unavailable_page() -> tuple[int, dict[str, str], bytes]:
    """The same answer for a browser: an apology that retries by itself (no JavaScript)."""
    body = UNAVAILABLE_PAGE.format(retry_s=RETRY_AFTER_S, status=STATUS_PAGE).encode()
    return 503, {"Content-Type": "text/html; charset=utf-8",
                 "Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store",
                 "Link": f'<{STATUS_PAGE}>; rel="status"'}, body


def wants_page(path: str, accept: str) -> bool:
    """A browser asking for a page (as the app's own error handlers decide)."""
    return not path.startswith("/api/") and "text/html" in accept
