"""Small, hot JSON writes answered before Flask: plain requests only, the rest to Flask.

An add to cart is a peak's hottest write, and before this most of its CPU was Flask's and
spectree's: the request context, URL matching, a dozen hooks, the request model, the
response object and its walk (docs/capacity.md). `EarlyWrites` answers the plain form of a
declared write itself and hands everything else to Flask untouched:

- plain: the method and path of a registered endpoint by Flask's own URL map; no query, no
  cookie, no chunked body; a printable ASCII path; `Content-Type: application/json` (UTF-8);
  a body within the write's `max_body` (and the app's MAX_CONTENT_LENGTH) that
  `loads_strict` reads (the hostile-input guard's own parser) and the view's own request
  model accepts; the write's own `plain` check (its headers); and `may_answer` agrees (the
  waiting room's shedder, wired by the app);
- answered: the write's `answer(resources, view_args, body, environ)`, a plain function of
  the domain (the view calls the same one), as JSON, with what the hooks add to such an
  answer: a request id, the security headers (HSTS over TLS), the request metrics, and
  `answered` (the SLO count and the load signal, wired by the app). `PrivateWhenPersonal`
  and the middleware outside this one still see every answer.
- A `Problem` the answer raises is answered as the app's error handler answers it. Any
  other exception goes, for a write that is safe to run twice (`rerun`, setting a
  quantity), to Flask from the start, whose handlers answer it (503, a logged 500); for one
  that is not (checkout), to the app's own error handlers here, once.

Malformed, hostile or unusual requests thus meet exactly the code they met before, which
answers them with the problems the contract promises; only a request that would pass every
check is answered here.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import RequestRedirect

from shop.core.edge import RefusedBody, loads_strict
from shop.core.errors import Problem
from shop.core.http_metrics import http_metrics
from shop.core.logging import REQUEST_ID_HEADER, request_id_for
from shop.core.problem_json import PROBLEM_JSON, problem_body, problem_headers
from shop.core.security import HSTS, SECURITY_HEADERS

log = logging.getLogger(__name__)

EXTENSION = "peakshop_early_writes"
# A body this size holds any plain form of the writes answered here; a larger one goes to
# Flask, whose limits and messages apply.
MAX_EARLY_BODY = 1024
_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8",
                         "application/json;charset=utf-8"})
_REQUEST_ID_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")
_FIXED_HEADERS = tuple(SECURITY_HEADERS.items())
_STATUS_LINES = {200: "200 OK", 201: "201 CREATED"}


@dataclass(frozen=True)
class EarlyWrite:
    """A write answered before Flask.

    `answer(resources, view_args, body, environ)` gives the JSON document of a `status`
    answer, or (document, extra headers), or raises a `Problem`: `body` is the request's
    JSON as parsed, which `body_model` accepted, and from `environ` it reads only the
    headers the view reads. `body_model` is the view's request model and
    `response_model` its declared answer. `plain(environ)`, when given, must also agree
    (the write's own headers are well-formed). `rerun` says whether a failure other than
    a `Problem` may hand the request to Flask from the start (the write is safe to run
    twice); otherwise the app's own error handlers answer that failure here.
    """

    answer: Callable[[Any, Mapping[str, str], Any, dict], dict | tuple[dict, dict]]
    body_model: type[BaseModel]
    response_model: type[BaseModel] | None = None
    status: int = 200
    max_body: int = MAX_EARLY_BODY
    plain: Callable[[dict], bool] | None = None
    rerun: bool = True


class EarlyWrites:
    """WSGI, inside the waiting room's FastLine and outside Flask: see the module's text."""

    def __init__(self, app: Flask, wsgi_app, writes: Mapping[str, EarlyWrite],
                 may_answer: Callable[[dict, str], bool],
                 answered: Callable[[dict, str, int, float], None]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.writes = dict(writes)
        self.may_answer = may_answer
        self.answered = answered
        self.resources = app.extensions["peakshop"]
        self.prefixes = tuple({rule.rule.split("<", 1)[0] for rule in app.url_map.iter_rules()
                               if rule.endpoint in self.writes})
        # Never past the app's own limit (MAX_CONTENT_LENGTH): Flask answers those with 413.
        limit = app.config.get("MAX_CONTENT_LENGTH") or MAX_EARLY_BODY * 64
        self.max_body = min(limit, max((write.max_body for write in self.writes.values()),
                                       default=0))
        # Without host or subdomain matching Flask's URL map answers from the method and the
        # path alone: one adapter, bound once, matches every request (a cart's paths are
        # new with every cart, so remembering answers per path would not help).
        self._adapter = (None if app.url_map.host_matching or app.subdomain_matching
                         else app.url_map.bind("localhost"))

    def __call__(self, environ, start_response):
        plain = self._plain(environ)
        if plain is None:
            return self.wsgi_app(environ, start_response)
        rule, view_args, write, raw = plain
        try:
            body = loads_strict(raw)
            write.body_model.model_validate(body)
        except (ValidationError, RefusedBody, Problem, ValueError, TypeError):
            return self._to_flask(environ, start_response, raw)
        if not self.may_answer(environ, rule.endpoint):
            return self._to_flask(environ, start_response, raw)
        started = time.perf_counter()
        metrics = http_metrics()
        metrics.in_flight.inc()
        try:
            try:
                answer = write.answer(self.resources, view_args, body, environ)
            except Problem as problem:
                status, headers, payload = _problem(problem.status, problem.code,
                                                    problem.title, problem.detail,
                                                    problem.extra)
            except Exception as error:  # noqa: BLE001 (answered as the app answers it)
                if write.rerun:
                    return self._to_flask(environ, start_response, raw)
                status, headers, payload = self._handled(environ, error)
            else:
                document, extra = answer if isinstance(answer, tuple) else (answer, {})
                status = write.status
                if (write.response_model is not None and self._checks_responses()
                        and not self._fits(write, document)):
                    if write.rerun:
                        return self._to_flask(environ, start_response, raw)
                    if self.app.testing:  # under test the declaration wins, as in Flask
                        status, headers, payload = _problem(
                            500, "internal_error", "Internal server error",
                            "this is a bug in peakshop; it has been logged")
                        extra = {}
                if status == write.status:
                    payload = (self.app.json.dumps(document, separators=(",", ":")).encode()
                               + b"\n")
                    headers = [("Content-Type", "application/json")]
                headers.extend(extra.items())
            headers.append(("Content-Length", str(len(payload))))
            headers.extend(_FIXED_HEADERS)
            headers.append((REQUEST_ID_HEADER,
                            request_id_for(environ.get(_REQUEST_ID_KEY, ""))))
            if environ.get("wsgi.url_scheme") == "https":
                headers.append(("Strict-Transport-Security", HSTS))
            start_response(_STATUS_LINES.get(status) or f"{status} {_reason(status)}", headers)
            seconds = time.perf_counter() - started
            metrics.answered(environ["REQUEST_METHOD"], rule.rule, str(status), seconds)
            self.answered(environ, rule.rule, status, seconds)
            return [payload]
        finally:
            metrics.in_flight.dec()

    def _handled(self, environ: dict, error: Exception) -> tuple[int, list, bytes]:
        """The answer of the app's own error handler for `error` (503 for a dependency
        down, a logged 500 for a bug, ...), as Flask would give it."""
        with self.app.request_context(environ):
            response = self.app.make_response(self.app.handle_user_exception(error))
        headers = [(name, value) for name, value in response.headers.items()
                   if name.lower() != "content-length"]
        return response.status_code, headers, response.get_data()

    @staticmethod
    def _fits(write: EarlyWrite, document: dict) -> bool:
        try:
            write.response_model.model_validate(document)
        except ValidationError as error:
            log.error("early answer breaks its declaration %s: %s",
                      write.response_model.__name__,
                      error.errors(include_url=False, include_input=False))
            return False
        return True

    def _plain(self, environ: dict) -> tuple | None:
        """(rule, view args, write, body bytes) of a plain request for an early write."""
        if (environ.get("REQUEST_METHOD") not in _METHODS
                or environ.get("QUERY_STRING") or environ.get("HTTP_COOKIE")
                or environ.get("HTTP_TRANSFER_ENCODING")
                or (environ.get("CONTENT_TYPE") or "").lower() not in _JSON_TYPES):
            return None
        path = environ.get("PATH_INFO", "")
        if not path.startswith(self.prefixes) or not (path.isascii() and path.isprintable()):
            return None
        length = environ.get("CONTENT_LENGTH") or ""
        if not (length.isdigit() and 0 < int(length) <= self.max_body):
            return None
        matched = self._route(environ)
        if matched is None:
            return None
        rule, view_args = matched
        write = self.writes.get(rule.endpoint)
        if (write is None or int(length) > min(write.max_body, self.max_body)
                or (write.plain is not None and not write.plain(environ))):
            return None
        raw = environ["wsgi.input"].read(int(length))
        if len(raw) != int(length):  # the client sent less: Flask says so
            environ["wsgi.input"] = io.BytesIO(raw)
            return None
        return rule, view_args, write, raw

    def _to_flask(self, environ: dict, start_response, raw: bytes):
        environ["wsgi.input"] = io.BytesIO(raw)
        return self.wsgi_app(environ, start_response)

    def _checks_responses(self) -> bool:
        return self.app.testing or self.resources.settings.checks_responses

    def _route(self, environ: dict) -> tuple | None:
        """(rule, view args) by Flask's URL map, or None (no route, or a redirect: Flask
        answers those)."""
        try:
            if self._adapter is None:
                return self.app.url_map.bind_to_environ(environ).match(return_rule=True)
            return self._adapter.match(environ["PATH_INFO"], environ["REQUEST_METHOD"],
                                       return_rule=True)
        except (HTTPException, RequestRedirect):
            return None


def _problem(status: int, code: str, title: str, detail: str,
             extra: dict | None = None) -> tuple[int, list, bytes]:
    """As the app's `problem_response` answers (`shop.core.errors`), without Flask."""
    payload = json.dumps(problem_body(status, code, title, detail, extra),
                         sort_keys=True).encode()
    return status, [("Content-Type", PROBLEM_JSON), *problem_headers(status)], payload


def _reason(status: int) -> str:
    return HTTP_STATUS_CODES.get(status, "Unknown").upper()


def answer_writes_early(app: Flask, writes: Mapping[str, EarlyWrite],
                        may_answer: Callable[[dict, str], bool] = lambda environ, endpoint: True,
                        answered: Callable[[dict, str, int, float], None] = (
                            lambda environ, rule, status, seconds: None)) -> None:
    """Put EarlyWrites in front of `app`'s Flask handling for `writes` (by endpoint)."""
    early = EarlyWrites(app, app.wsgi_app, writes, may_answer, answered)
    app.extensions[EXTENSION] = early
    app.wsgi_app = early
