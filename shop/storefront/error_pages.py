"""Failures on the shopper's pages, shown as HTML pages rather than problem+json.

These mirror the app-wide handlers in `shop.core.errors` (same statuses, same Retry-After),
registered on the blueprint so that they win for its pages.
"""

from __future__ import annotations

import logging

import redis
import sqlalchemy.exc
from flask import Blueprint, Response, g, make_response, render_template
from werkzeug.exceptions import HTTPException

from shop.core.errors import RETRY_AFTER_S, Problem
from shop.storefront import cart_session
from shop.storefront.messages import with_labels

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
              redis.exceptions.BusyLoadingError)
DATABASE_DOWN = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.DisconnectionError)
UNAVAILABLE_MESSAGE = ("We are briefly unable to reach our {store}. Nothing was lost: please "
                       f"try again in {RETRY_AFTER_S} seconds.")


def error_page(status: int, title: str, message: str,
               headers: list[tuple[str, str]] | None = None) -> Response:
    """The HTML error page with a way back to the shop last browsed."""
    # The shop of the failed page when it was found, else the one browsed last.
    shop = g.get("storefront_shop")
    response = make_response(render_template("storefront/error.html", status=status,
                                             title=title, message=message, shop=shop,
                                             shop_slug=shop.slug if shop else
                                             cart_session.last_shop()), status)
    for name, value in headers or []:
        response.headers[name] = value
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def show_problem(problem: Problem) -> Response:
    """A refusal from a domain service as a page with its status and message."""
    # Pages have no HTTP authentication scheme to offer, so a wrong order token is a 403.
    status = 403 if problem.status == 401 else problem.status
    return error_page(status, problem.title, with_labels(problem.detail))


def show_redis_down(error: Exception) -> Response:
    """503 page: the cart store is unreachable."""
    log.warning("redis unavailable: %s", error)
    return error_page(503, "Back in a moment", UNAVAILABLE_MESSAGE.format(store="cart store"))


def show_database_down(error: Exception) -> Response:
    """503 page: the database is unreachable or busy."""
    log.warning("database unavailable: %s", error)
    return error_page(503, "Back in a moment", UNAVAILABLE_MESSAGE.format(store="database"))


def show_race(error: Exception) -> Response:
    """409 page: another request changed the same record at the same moment."""
    log.info("integrity conflict: %s", error)
    return error_page(409, "Please try again", "Someone changed the same thing at the same "
                      "moment. Please go back and try again.")


def show_http_error(error: HTTPException) -> Response:
    """Errors werkzeug raises (405, 413, ...) as pages, keeping headers such as Allow."""
    headers = [(name, value) for name, value in error.get_headers()
               if name.lower() != "content-type"]
    return error_page(error.code or 500, error.name, error.description or error.name, headers)


def show_bug(error: Exception) -> Response:
    """500 page for a bug: logged with its traceback, apologised for on the page."""
    log.exception("unhandled error on a storefront page")
    return error_page(500, "Something went wrong", "This is a fault on our side and it has "
                      "been logged. Please try again in a moment.")


def register(blueprint: Blueprint) -> None:
    """Install the page handlers; the blueprint's own win over the app's JSON ones."""
    blueprint.register_error_handler(Problem, show_problem)
    for error in REDIS_DOWN:
        blueprint.register_error_handler(error, show_redis_down)
    for error in DATABASE_DOWN:
        blueprint.register_error_handler(error, show_database_down)
    blueprint.register_error_handler(sqlalchemy.exc.IntegrityError, show_race)
    blueprint.register_error_handler(HTTPException, show_http_error)
    # Flask picks the handler of the nearest class in the error's MRO, so this one only
    # takes what none of the above names.
    blueprint.register_error_handler(Exception, show_bug)
