"""The OpenAPI 3.1 description of the JSON API, from the declarations that validate requests.

Views declare their request and response models with `@api.validate(...)` (spectree over
pydantic v2): the same models check every request and write the document served at
`GET /api/v1/openapi.json`, so the two cannot drift. spectree was chosen over
flask-openapi3 and apispec because it decorates plain Flask views and blueprints as they are
(no app or blueprint subclass to adopt across every domain) and validates with pydantic v2.

A route nobody declared yet still appears, built from Flask's url_map with its path
parameters and marked `x-undeclared`, so routes added later are described (loosely) from the
first day; `undeclared_routes()` lists them so that they get their schemas.py.

Regenerate the committed copy with `python -m shop.core.openapi docs/openapi.json`.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from dataclasses import is_dataclass
from importlib import metadata
from typing import Any

from flask import Flask, current_app, request
from pydantic import BaseModel
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree
from spectree.model_adapter.pydantic_adapter import PydanticModelAdapter
from spectree.plugins.flask_plugin import FlaskPlugin

from shop.core.errors import PROBLEM_JSON
from shop.core.errors import Problem as ProblemError
from shop.core.schemas import INT64_MAX, Problem
from shop.core.validation_words import DOCUMENT_PATH, invalid_input

log = logging.getLogger(__name__)

BEARER = {"bearer": []}
OPS_BEARER = {"ops": []}  # the platform operators' token, PEAKSHOP_OPS_TOKEN
OPERATIONS = ("get", "put", "post", "delete", "patch")
__all__ = ["BEARER", "OPS_BEARER", "Response", "api", "build_document", "declare_media", "problems",
           "undeclared_routes"]


def _refuse_invalid_request(request, response, error, instance, model_adapter) -> None:
    """spectree's `before` hook: a request that fails its model becomes a 422 problem."""
    if error is not None:
        raise invalid_input(error)


def _log_invalid_response(request, response, error, instance, model_adapter) -> None:
    if error is not None:
        # The view answered something its declaration does not allow: a bug, answered 500.
        log.error("response of %s breaks its declaration: %s", request.endpoint,
                  error.errors(include_url=False, include_input=False))


class _FlaskPlugin(FlaskPlugin):
    """spectree's Flask plugin, except that outside tests a response that breaks its
    declaration is logged and sent as it is: the caller keeps the data, the log names the
    bug. Under test the declaration wins and the mismatch is a 500 the suite sees.
    In production (PEAKSHOP_VALIDATE_RESPONSES unset there, or false anywhere; never under
    test) answers are sent unchecked, as they would be sent anyway: the check then costs
    nothing and logs nothing (docs/capacity.md: up to a tenth of a rendered product's CPU
    and a fifth of a listing's)."""

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        if not (current_app.testing or _settings().checks_responses):
            return super().validate_response(resp, resp_model, True, force_resp_serialize)
        response, error = super().validate_response(resp, resp_model, skip_validation,
                                                    force_resp_serialize)
        if error is not None and not current_app.testing:
            _log_invalid_response(request, response, error, None, None)
            response, _ = super().validate_response(resp, None, True, False)
            return response, None
        return response, error


def _settings():
    return current_app.extensions["peakshop"].settings


_PLAIN_VALUES = frozenset({str, int, float, bool, type(None)})


class _ModelAdapter(PydanticModelAdapter):
    """spectree's pydantic adapter, with its `is_partial_model_instance` answered without a
    call per value. spectree asks it of every JSON answer, checked or not, walking the whole
    document (an add to cart's: about thirty calls, a tenth of the request's framework CPU);
    the plain values that make up most of a document are passed over here at the cost of a
    set lookup. Same answer for every document, in the same order of questions."""

    def is_partial_model_instance(self, value: Any) -> bool:
        plain = _PLAIN_VALUES
        pending = [value]
        while pending:
            item = pending.pop()
            if type(item) in plain or not item:
                continue
            if isinstance(item, BaseModel) or is_dataclass(item):
                return True
            if isinstance(item, dict):
                pending.extend(key for key in item if type(key) not in plain)
                pending.extend(nested for nested in item.values() if type(nested) not in plain)
            elif isinstance(item, list | tuple):
                pending.extend(nested for nested in item if type(nested) not in plain)
        return False


def _package_version() -> str:
    try:
        return metadata.version("peakshop")
    except metadata.PackageNotFoundError:
        return "0.0.0"


api = SpecTree(
    "flask",
    backend=_FlaskPlugin,
    title="peakshop API",
    description=("Commerce-as-a-Service: storefront, carts, checkout and the merchant "
                 "back-office. Money is {\"amount\": <minor units>, \"currency\": \"EUR\"}; "
                 "every error is application/problem+json."),
    version=_package_version(),
    path="apidoc",  # spectree's own pages stay off; the document is served at DOCUMENT_PATH
    annotations=False,
    model_adapter=_ModelAdapter(),
    before=_refuse_invalid_request,
    after=_log_invalid_response,
    validation_error_model=Problem,
    # Components named after their models (no module hash): the names are part of the API.
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    security_schemes=[SecurityScheme(name="bearer",
                                    data=SecuritySchemeData(type="http", scheme="bearer")),
                      SecurityScheme(name="ops", data=SecuritySchemeData(
                          type="http", scheme="bearer",
                          description="The operators' token, PEAKSHOP_OPS_TOKEN"))],
)


# What each refusal means, for the declarations' `problems(...)`.
PROBLEM_DESCRIPTIONS = {
    400: "Malformed: not JSON, not UTF-8, or a value no field can hold",
    401: "No token, or a malformed, revoked, expired or wrong one",
    402: "Beyond the shop's plan: `code` plan_limit names the limit and how to upgrade",
    403: "The token reaches another shop, or its role may not do this",
    404: "No such thing (or not in this shop)",
    409: "Clashes with the current state; `code` says how",
    410: "Gone: it expired",
    413: "The body is too large",
    415: "The body is not of the declared media type",
    422: "A value is missing, of the wrong type, out of range or unknown; `field` names it",
    429: "Too many requests: wait Retry-After seconds",
}


def problems(*statuses: int) -> dict[str, tuple[None, str]]:
    """`Response(...)` entries for the problems a route answers with, described once."""
    return {f"HTTP_{status}": (None, PROBLEM_DESCRIPTIONS[status]) for status in statuses}


MEDIA_MARK = "_peakshop_media"


def declare_media(*, request: dict[str, Any] | None = None,
                  responses: dict[int, dict[str, Any]] | None = None):
    """Describe bodies that are not JSON (a CSV upload or download), which spectree cannot
    write: `request` and each of `responses` map a media type to its OpenAPI media object.
    The document builder puts them in the route's operation."""

    def mark(view):
        setattr(view, MEDIA_MARK, {"request": request, "responses": responses or {}})
        return view

    return mark


def _declared_media(view) -> dict[str, Any] | None:
    while view is not None:
        media = getattr(view, MEDIA_MARK, None)
        if media is not None:
            return media
        view = getattr(view, "__wrapped__", None)
    return None


def _apply_media(operation: dict[str, Any], media: dict[str, Any]) -> None:
    if media["request"]:
        operation["requestBody"] = {"required": True, "content": media["request"]}
    for status, content in media["responses"].items():
        response = operation["responses"].setdefault(str(status), {"description": "OK"})
        response["content"] = content


# --- the document ---------------------------------------------------------------------------

def is_json_route(path: str) -> bool:
    return path.startswith("/api/") or path in ("/healthz", "/readyz")


def _operations(app: Flask):
    """(openapi path, method, view function) of every JSON route in the url_map."""
    for rule in app.url_map.iter_rules():
        path, _ = api.backend.parse_path(rule, None)
        if not is_json_route(path):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield path, method.lower(), view


def undeclared_routes(app: Flask) -> list[str]:
    """"METHOD /path" of every JSON route without a request/response declaration."""
    missing = []
    for path, method, view in _operations(app):
        declared = api.get_function_metadata(view)
        if declared is None or declared.resp is None:
            missing.append(f"{method.upper()} {path}")
    return missing


PROBLEM_RESPONSE = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/"
                                                          "Problem"}}}}
UNDECLARED_RESPONSE = {
    "description": "Not declared yet: any JSON (see x-undeclared)",
    "content": {"application/json": {"schema": {}}},
}


CSV_RESPONSE = {"description": "Not declared yet: a CSV file (see x-undeclared)",
                "content": {"text/csv": {"schema": {"type": "string"}}}}


def _complete(operation: dict[str, Any], declared: bool, method: str = "get") -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema") or {}
        if parameter["in"] == "path" and schema.get("type") == "integer":
            # `<int:...>` takes ASCII digits up to a BIGINT's maximum (shop.core.edge).
            parameter["schema"] = {"type": "integer", "format": "int64", "minimum": 0,
                                   "maximum": INT64_MAX}
        elif parameter["in"] == "path":
            parameter["schema"] = {"type": "string", "minLength": 1}
        if not parameter.get("description"):
            parameter.pop("description", None)
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            response["content"] = PROBLEM_RESPONSE["content"]
    responses.setdefault("4XX", {"description": "The caller's mistake, as a problem",
                                 **PROBLEM_RESPONSE})
    responses.setdefault("503", {"description": "A dependency is down; retry after "
                                                "Retry-After seconds", **PROBLEM_RESPONSE})
    if not declared:
        operation["x-undeclared"] = True
        if method == "delete":
            responses.setdefault("204", {"description": "Done; no body"})
        responses.setdefault("default", CSV_RESPONSE if operation.get("operationId", "")
                             .endswith("export") else UNDECLARED_RESPONSE)
    if not operation.get("tags"):
        operation.pop("tags", None)
    if not operation.get("description"):
        operation.pop("description", None)


REQUEST_BODY_MARK = "_peakshop_openapi_request_body"


def request_body(body: dict[str, Any]):
    """Describe a body spectree cannot validate (an upload: multipart or raw bytes) with an
    OpenAPI `requestBody`; the view checks it itself. Put it above `@api.validate`."""
    def mark(view):
        setattr(view, REQUEST_BODY_MARK, body)
        return view
    return mark


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every JSON route of `app`."""
    with app.app_context():
        # spectree builds `.spec` once per SpecTree and consumes its models' $defs doing so;
        # each app gets a fresh build from an untouched copy instead.
        models = copy.deepcopy(api.models)
        try:
            spec = api._generate_spec()
        finally:
            api.models = models
        api.models.setdefault("Problem", Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"))
        spec["components"]["schemas"].setdefault("Problem", api.models["Problem"])
    declared = {(path, method) for path, method, view in _operations(app)
                if api.get_function_metadata(view) is not None}
    media = {(path, method): _declared_media(view) for path, method, view in _operations(app)}
    bodies = {(path, method): getattr(view, REQUEST_BODY_MARK)
              for path, method, view in _operations(app) if hasattr(view, REQUEST_BODY_MARK)}
    paths = {}
    for path, operations in spec["paths"].items():
        if not is_json_route(path):
            continue
        for method, operation in operations.items():
            if media.get((path, method)):
                _apply_media(operation, media[(path, method)])
            _complete(operation, (path, method) in declared, method)
            if (path, method) in bodies:
                operation["requestBody"] = bodies[(path, method)]
        paths[path] = operations
    spec["paths"] = paths
    spec.pop("tags", None) if not spec.get("tags") else None
    if not spec.get("security"):
        spec.pop("security", None)
    return spec


def document_json(app: Flask) -> str:
    return json.dumps(build_document(app), indent=2, ensure_ascii=False) + "\n"


def require_declared_media_type() -> None:
    """A route that declares a JSON body gets JSON or a 415, before its model is checked."""
    if request.method not in ("POST", "PUT", "PATCH") or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    declared = api.get_function_metadata(view) if view else None
    if declared is not None and declared.json is not None and not request.is_json:
        raise ProblemError(f"send the body as application/json: got "
                      f"{request.mimetype or 'no Content-Type'!r}",
                      code="unsupported_media_type", status=415)


def init_app(app: Flask) -> None:
    """Serve the document; call after every blueprint is registered."""
    app.before_request(require_declared_media_type)

    @api.validate(resp=Response(HTTP_200=None), tags=["operations"])
    def api_description():
        """This OpenAPI 3.1 document."""
        document = current_app.extensions.get("peakshop_openapi")
        if document is None:
            document = current_app.extensions["peakshop_openapi"] = build_document(
                current_app)
        return current_app.response_class(json.dumps(document), mimetype="application/json")

    app.add_url_rule(DOCUMENT_PATH, "api_description", api_description, methods=["GET"])


def _offline_app() -> Flask:
    """An app that is only described, never served: nothing connects."""
    from shop.app import create_app

    return create_app({"database_url": "sqlite://", "redis_url": "redis://127.0.0.1:9/0",
                       "log_json": False})


def main(argv: list[str]) -> int:
    """`python -m shop.core.openapi [FILE]`: write the document (stdout without FILE)."""
    text = document_json(_offline_app())
    if len(argv) > 1:
        with open(argv[1], "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    # Run as a script this file is `__main__`, a second copy whose `api` no view used.
    from shop.core.openapi import main as imported_main

    sys.exit(imported_main(sys.argv))
