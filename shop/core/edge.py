"""The edge guard: hostile input is refused once, before any view or service sees it.

Rather than teaching every field of every route about lone surrogates, NUL bytes, 10^100 or
100,000 nested brackets, each class of bad input is refused here for the whole API:

- JSON bodies are parsed strictly (UTF-8 only, no NaN/Infinity, bounded nesting) and every
  string, key and number in them is checked: no lone UTF-16 surrogates (they cannot be
  stored or rendered, so an order holding one would break its page forever), no NUL
  characters (PostgreSQL refuses them), integers within 64 bits, finite numbers;
- URLs of the JSON API may not carry NUL or other control characters, nor run past
  MAX_URL_LENGTH (the HTML pages answer those with a page of their own);
- `<int:...>` path parameters match only ASCII digits within a signed 64-bit column;
- a body of unknown length (chunked) that runs past its route's limit is a 413, as one with a
  Content-Length over it is, never read cut down to the limit and processed.

Every refusal is a 4xx problem that names the field and the fix.
"""

from __future__ import annotations

import json
import math
import re
from typing import IO, Any

from flask import Flask, Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

from shop.core.errors import Problem

MAX_DEPTH = 32
MAX_URL_LENGTH = 4096
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNUSABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RefusedBody(ValueError):
    """A JSON body refused by the strict loader; carries the problem to answer with."""

    def __init__(self, problem: Problem):
        super().__init__(problem.detail)
        self.problem = problem


def _malformed(detail: str) -> RefusedBody:
    return RefusedBody(Problem(detail, code="malformed_json", status=400))


def _invalid(field: str, detail: str) -> RefusedBody:
    return RefusedBody(Problem(f"'{field}' {detail}", code="invalid_input", status=422,
                               extra={"field": field}))


def _refuse_constant(name: str) -> float:
    raise _malformed(f"the body holds {name}, which JSON does not allow: send a finite number")


# Made once: `json.loads` with any option builds a decoder per call, which cost three times
# the parse of a checkout's body.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def loads_strict(data: bytes | str) -> Any:
    """Parse a JSON body, refusing anything a service could not store or answer safely."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as problem:
            raise _malformed(f"the body is not valid UTF-8 (byte {problem.start}): send "
                             "UTF-8 encoded JSON") from None
    try:
        value = _DECODER.decode(data)
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError as problem:
        raise _malformed(f"the body is not valid JSON ({problem.msg} at line {problem.lineno}"
                         f" column {problem.colno}): check quotes, commas and brackets"
                         ) from None
    except RefusedBody:
        raise
    except ValueError:  # e.g. an integer of more than 4300 digits
        raise _malformed("the body is not valid JSON or holds a number too long to read: "
                         "check quotes, commas and brackets") from None
    if _may_hold_unusable_values(data):
        check_values(value)
    return value


# Lone surrogates and NULs can only arrive as \u escapes (strict UTF-8 and JSON forbid them
# raw), a number past 64 bits needs 19 digits or an exponent, and nesting past MAX_DEPTH
# needs that many brackets: a body with none of these is clean without a walk.
_SUSPECT = re.compile(r"\\u|[0-9]{19}|[0-9][eE]")


def _may_hold_unusable_values(text: str) -> bool:
    return (text.count("{") + text.count("[") > MAX_DEPTH
            or _SUSPECT.search(text) is not None)


def _too_deep() -> RefusedBody:
    return RefusedBody(Problem(f"the body is nested deeper than {MAX_DEPTH} levels: send a "
                               "flatter document", code="too_deeply_nested", status=400))


def check_values(document: Any) -> None:
    """Walk a parsed document without recursion and refuse the first unusable value.

    Paths are kept as (parent, key) links and spelled out only for the value refused: the
    walk of a 64 KiB body stays a small fraction of parsing it.
    """
    stack: list[tuple[Any, int, tuple | None]] = [(document, 0, None)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth, path = pop()
        kind = type(value)
        if kind is str:
            if _UNUSABLE_TEXT.search(value):
                _refuse_text(path, value)
        elif kind is dict:
            if depth >= MAX_DEPTH:
                raise _too_deep()
            for key, item in value.items():
                if _UNUSABLE_TEXT.search(key):
                    _refuse_text((path, key), key, what="a key")
                push((item, depth + 1, (path, key)))
        elif kind is list:
            if depth >= MAX_DEPTH:
                raise _too_deep()
            for index, item in enumerate(value):
                push((item, depth + 1, (path, index)))
        elif kind is int:
            if not INT64_MIN <= value <= INT64_MAX:
                raise _invalid(_spell(path), "is out of range: whole numbers must lie between "
                               "-2^63 and 2^63-1")
        elif kind is float and not math.isfinite(value):
            raise _invalid(_spell(path), "is too large to be a number: send a finite number")


def _spell(path: tuple | None) -> str:
    """(((None, 'a'), 0), 'b') -> 'a[0].b'; the body itself is 'body'."""
    parts: list[str | int] = []
    while path is not None:
        path, key = path
        parts.append(key)
    spelled = ""
    for part in reversed(parts):
        if isinstance(part, str) and _UNUSABLE_TEXT.search(part):
            part = part.encode("unicode_escape").decode("ascii")  # never echo the bad text
        if isinstance(part, int):
            spelled += f"[{part}]"
        else:
            spelled += f".{part}" if spelled else part
    return spelled or "body"


def _refuse_text(path: tuple | None, text: str, what: str = "text") -> None:
    field = _spell(path)
    if _SURROGATE.search(text):
        raise _invalid(field, f"holds {what} with a lone UTF-16 surrogate (like \\ud800), "
                       "which is not a character: send valid Unicode")
    raise _invalid(field, f"holds {what} with a NUL character (\\u0000): remove it")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that request bodies are read with `loads_strict`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_strict(s)


class BodyWithinLimit(LimitedStream):
    """werkzeug's stream for a body of unknown length read up to `max_content_length`, except
    that reaching the limit is checked. werkzeug's `readall` (behind `get_data`, JSON and
    forms) stops at the limit and returns the body cut short: a 9 MB CSV file sent chunked
    was imported up to its 8 MiB-th byte. One byte more than the limit is a 413; a body that
    ends right at the limit is whole, as it is with a Content-Length."""

    def __init__(self, body: IO[bytes], limit: int):
        super().__init__(body, limit, is_max=True)
        self._body = body

    def on_exhausted(self) -> None:
        if self._body.read(1):
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class ShopRequest(Request):
    """Flask's request, whose JSON refusals become problems naming the fix, and whose body of
    unknown length is refused past the route's limit rather than cut down to it."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        # Only a server that ends the body itself (gunicorn, for chunked bodies) sets
        # wsgi.input_terminated; without it werkzeug reads no unknown-length body at all.
        if (self.content_length is None and limit is not None and not self.shallow
                and "wsgi.input_terminated" in self.environ):
            return BodyWithinLimit(self.environ["wsgi.input"], limit)
        return super().stream

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, RefusedBody):
            raise e.problem
        if e is None:
            raise Problem(f"send the body as application/json: got "
                          f"{self.mimetype or 'no Content-Type'!r}",
                          code="unsupported_media_type", status=415)
        raise Problem("the body is not valid JSON: check quotes, commas and brackets",
                      code="malformed_json", status=400)


class Int64Converter(IntegerConverter):
    """`<int:...>`: ASCII digits of a value a BIGINT column can hold; anything else is 404."""

    regex = r"[0-9]{1,19}"

    def __init__(self, map, *args, **kwargs):  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)


def is_json_surface(path: str) -> bool:
    return path.startswith("/api/") or path in ("/healthz", "/readyz", "/metrics")


def guard_url() -> None:
    """Refuse URLs no route could mean: overlong, or with control characters."""
    raw_length = len(request.environ.get("PATH_INFO", "")) + len(
        request.environ.get("QUERY_STRING", ""))
    if raw_length > MAX_URL_LENGTH:
        raise Problem(f"the URL is longer than {MAX_URL_LENGTH} characters: send less in the "
                      "query", code="uri_too_long", status=414)
    if _CONTROL.search(request.path):
        raise Problem("the path holds a NUL or other control character (like %00): remove it",
                      code="invalid_url", status=400)
    if not request.environ.get("QUERY_STRING"):
        return  # no query, no parameters to parse
    for name, value in request.args.items(multi=True):
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise Problem(f"the query parameter {name!r} holds a NUL or other control "
                          "character (like %00): remove it", code="invalid_url", status=400, extra={
                              "field": name})


RAW_BODY_MARK = "_peakshop_takes_raw_body"


def takes_raw_body(view):
    """Mark a view that verifies its body's bytes itself (a signed webhook): the guard leaves
    its body unread, so that a bad signature is answered as such, whatever the bytes."""
    setattr(view, RAW_BODY_MARK, True)
    return view


def guard_body() -> None:
    """Parse any JSON body now, so every route sees only bodies that passed the checks."""
    environ = request.environ
    if not environ.get("CONTENT_LENGTH") and not environ.get("HTTP_TRANSFER_ENCODING"):
        return  # no body (every GET): nothing to parse, and no view to look up
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, RAW_BODY_MARK, False):
        return
    if request.is_json and (request.content_length or request.headers.get(
            "Transfer-Encoding", "").lower() == "chunked"):
        request.get_json()


def init_app(app: Flask) -> None:
    """Install the guard; call before the blueprints are registered (for `<int:...>`)."""
    app.json = StrictJSONProvider(app)
    app.request_class = ShopRequest
    app.url_map.converters["int"] = Int64Converter

    @app.before_request
    def refuse_hostile_input() -> None:
        if is_json_surface(request.path):  # the HTML pages answer such URLs with a page
            guard_url()
        guard_body()
