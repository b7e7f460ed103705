"""Errors as RFC 9457 problem details (`application/problem+json`).

Services raise `Problem` subclasses that say what went wrong and how to fix it; the app turns
them, and every HTTP error Flask raises itself, into the same JSON shape. A 500 is a bug.
"""

from __future__ import annotations

import logging

import redis
import sqlalchemy.exc
from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from shop.core.problem_json import (  # noqa: F401
    PROBLEM_JSON,
    RETRY_AFTER_S,
    STATUS_PAGE,
    TYPE_BASE,
    problem_body,
    problem_headers,
)

log = logging.getLogger(__name__)



class Problem(Exception):
    """A failure the caller can understand; `code` becomes the problem type."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None,
                 extra: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra or {}


class InvalidInput(Problem):
    status, code, title = 422, "invalid_input", "Invalid input"


class NotFound(Problem):
    status, code, title = 404, "not_found", "Not found"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Conflict"


class Unauthorized(Problem):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Forbidden"


class DependencyDown(Problem):
    status, code, title = 503, "dependency_unavailable", "Service temporarily unavailable"


def problem_response(status: int, code: str, title: str, detail: str,
                     extra: dict | None = None) -> Response:
    response = Response(json.dumps(problem_body(status, code, title, detail, extra)),
                        status=status, mimetype=PROBLEM_JSON)
    response.headers.extend(problem_headers(status))
    return response


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return not request.path.startswith("/api/") and best == "text/html"


def init_app(app: Flask) -> None:
    @app.errorhandler(Problem)
    def handle_problem(error: Problem):
        return problem_response(error.status, error.code, error.title, error.detail, error.extra)

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        if _wants_html():
            return error
        code = (error.name or "error").lower().replace(" ", "_")
        detail = error.description or error.name
        if error.code == 413:
            # A route may allow more than the app does (a CSV import): name its own limit.
            limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
            detail = f"the body is larger than {limit} bytes: send less"
        response = problem_response(error.code or 500, code, error.name, detail)
        for name, value in error.get_headers():
            if name.lower() != "content-type":  # e.g. Allow on a 405
                response.headers[name] = value
        return response

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    @app.errorhandler(redis.exceptions.BusyLoadingError)
    def handle_redis_down(error: Exception):
        log.warning("redis unavailable: %s", error)
        return problem_response(503, "dependency_unavailable", "Service temporarily unavailable",
                                "the cart and order queue store (Redis) is unreachable; "
                                f"retry in {RETRY_AFTER_S} seconds",
                                {"status_page": STATUS_PAGE})

    @app.errorhandler(sqlalchemy.exc.OperationalError)
    @app.errorhandler(sqlalchemy.exc.DisconnectionError)
    def handle_database_down(error: Exception):
        log.warning("database unavailable: %s", error)
        return problem_response(503, "dependency_unavailable", "Service temporarily unavailable",
                                "the database is unreachable or busy; "
                                f"retry in {RETRY_AFTER_S} seconds",
                                {"status_page": STATUS_PAGE})

    @app.errorhandler(sqlalchemy.exc.DataError)
    def handle_unusable_value(error: Exception):
        log.info("value refused by the database: %s", error)
        return problem_response(400, "invalid_value", "Bad request",
                                "a value in the request cannot be stored or searched "
                                "(for example a NUL character or a number out of range): "
                                "remove it")

    @app.errorhandler(sqlalchemy.exc.IntegrityError)
    def handle_race(error: Exception):
        # Two requests raced for the same unique row; the loser may simply retry.
        log.info("integrity conflict: %s", error)
        return problem_response(409, "conflict", "Conflict",
                                "another request changed the same record at the same time; "
                                "retry the request")

    @app.errorhandler(Exception)
    def handle_bug(error: Exception):
        log.exception("unhandled error")
        return problem_response(500, "internal_error", "Internal server error",
                                "this is a bug in peakshop; it has been logged")
