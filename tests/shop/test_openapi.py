"""The OpenAPI 3.1 document: valid, complete, generated from the validating declarations."""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

from shop.core.openapi import _offline_app, api, build_document, document_json, undeclared_routes

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = "python -m shop.core.openapi docs/openapi.json"


@pytest.fixture(scope="module")
def offline_app():
    return _offline_app()


def json_rules(app) -> set[tuple[str, str]]:
    """(METHOD, openapi path) of every rule under /api/ plus the probes, from Flask itself."""
    found = set()
    for rule in app.url_map.iter_rules():
        path, _ = api.backend.parse_path(rule, None)
        if rule.rule.startswith("/api/") or rule.rule in ("/healthz", "/readyz"):
            found |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def documented(document) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, operations in document["paths"].items()
            for method in operations}


def test_served_document_is_valid_openapi_31(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_json_route_is_described(offline_app):
    document = build_document(offline_app)
    assert json_rules(offline_app) == documented(document)
    assert not any(path.startswith(("/shops/", "/static", "/metrics"))
                   for _, path in documented(document)), "HTML pages are not JSON routes"


def test_every_query_parameter_a_view_reads_is_declared(offline_app):
    """A parameter the code reads but the document leaves out is one no client can find
    (the orders list's `cursor` was): each `request.args.get("name")` in a JSON view is in
    its operation's parameters."""
    document = build_document(offline_app)
    missing = []
    for rule in offline_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = inspect.unwrap(offline_app.view_functions[rule.endpoint])
        read = set(re.findall(r"request\.args\.get\(\"([a-z_]+)\"", inspect.getsource(view)))
        path, _ = api.backend.parse_path(rule, None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = document["paths"][path][method.lower()]
            declared = {parameter["name"] for parameter in operation.get("parameters", [])
                        if parameter["in"] == "query"}
            missing += [f"{method} {path} ?{name}" for name in read - declared]
    assert not missing


def test_a_route_nobody_declared_still_appears_with_its_parameters():
    """A route added without a declaration is described from the url_map until it is."""
    app = _offline_app()

    def gift_wrap(slug: str, wrap_id: int):
        """Wrap a gift."""
        return {}

    app.add_url_rule("/api/v1/shops/<slug>/wraps/<int:wrap_id>", "gift_wrap", gift_wrap,
                     methods=["PUT"])
    operation = build_document(app)["paths"]["/api/v1/shops/{slug}/wraps/{wrap_id}"]["put"]
    assert operation["x-undeclared"] is True
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["slug"]["type"] == "string"
    assert parameters["wrap_id"] == {"type": "integer", "format": "int64", "minimum": 0,
                                     "maximum": 2**63 - 1}
    assert "default" in operation["responses"]
    assert "PUT /api/v1/shops/{slug}/wraps/{wrap_id}" in undeclared_routes(app)
    validate(build_document(app), cls=OpenAPIV31SpecValidator)


# Routes that appear in the document from the URL map only (path parameters, no body or
# answer schema): they validate by hand in their services. Declaring one removes it from
# here; a new route must be declared (or consciously listed here) or this fails.
UNDECLARED_BACKLOG: set[str] = set()


def test_routes_lacking_a_request_or_response_declaration(offline_app):
    """New JSON routes come with `@api.validate(...)`; the backlog only shrinks."""
    missing = set(undeclared_routes(offline_app))
    assert missing - UNDECLARED_BACKLOG == set(), (
        "declare these routes with @api.validate(json=..., resp=Response(...)) in their "
        "domain's schemas.py:\n  " + "\n  ".join(sorted(missing - UNDECLARED_BACKLOG)))
    assert UNDECLARED_BACKLOG - missing == set(), "declared now: drop them from the backlog"


def test_bodies_and_errors_are_declared(offline_app):
    document = build_document(offline_app)
    checkout = document["paths"]["/api/v1/carts/{cart_id}/checkout"]["post"]
    body = checkout["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/CheckoutBody")
    assert "Idempotency-Key" in {p["name"] for p in checkout["parameters"]}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("4") or status.startswith("5"):
                    assert list(response["content"]) == ["application/problem+json"], (
                        method, path, status)
    product = document["paths"]["/api/v1/shops/{slug}/products"]["post"]
    assert product["security"] == [{"bearer": []}]
    schemas = document["components"]["schemas"]
    assert schemas["SetQuantity"]["properties"]["quantity"]["minimum"] == 0
    assert schemas["SetQuantity"]["additionalProperties"] is False


def test_every_operation_is_declared_with_its_answers(offline_app):
    """No route is described from the URL map alone: each names its answers and problems."""
    document = build_document(offline_app)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "x-undeclared" not in operation, (method, path)
            answers = {status for status in operation["responses"] if status[0] in "23"}
            assert answers, (method, path, "declares no success answer")


def test_bodies_that_are_not_json_are_described_with_their_media_type(offline_app):
    """spectree writes only JSON bodies; the CSV ones are described by the builder."""
    paths = build_document(offline_app)["paths"]
    upload = paths["/api/v1/shops/{slug}/products/import"]["post"]
    assert list(upload["requestBody"]["content"]) == ["text/csv"]
    assert upload["requestBody"]["content"]["text/csv"]["example"].startswith(
        "sku,name,description,category,price_amount,currency,stock")
    assert "application/json" in upload["responses"]["200"]["content"]
    download = paths["/api/v1/shops/{slug}/products/export"]["get"]
    assert list(download["responses"]["200"]["content"]) == ["text/csv"]
    register = paths["/api/v1/ops/breaches/export"]["get"]
    assert set(register["responses"]["200"]["content"]) == {"text/csv", "application/json"}
    assert {p["name"] for p in register["parameters"]} == {"format"}


def test_routes_say_which_token_they_take(offline_app):
    """Merchant routes a merchant's token, the operations API the operators' own."""
    document = build_document(offline_app)
    schemes = document["components"]["securitySchemes"]
    assert schemes["ops"]["scheme"] == schemes["bearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/v1/ops/"):
                assert operation["security"] == [{"ops": []}], (method, path)
            elif path.startswith("/api/v1/shops/{slug}/") and path.endswith(
                    ("/collaborators", "/webhooks", "/events", "/plan", "/audit", "/tokens")):
                assert operation["security"] == [{"bearer": []}], (method, path)


def test_committed_copy_is_current(offline_app):
    current = document_json(offline_app)
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    assert json.loads(committed or "{}") == json.loads(current), (
        f"docs/openapi.json is stale: run `{REGENERATE}` and commit it")


@contextlib.contextmanager
def openapi_log():
    """The records the OpenAPI module logs inside the block (shop's loggers do not
    propagate, so caplog does not see them)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("shop.core.openapi")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize("testing, status", [(True, 500), (False, 200)])
def test_a_response_that_breaks_its_declaration(testing, status):
    """Under test the declaration wins (a 500 the suite sees); in production the caller keeps
    the data and the log names the bug."""
    from shop.cart.schemas import NewCart
    from shop.core.openapi import Response

    app = _offline_app()
    app.config["TESTING"] = testing

    @api.validate(resp=Response(HTTP_200=NewCart))
    def drifted():
        return {"cart": 1}

    app.add_url_rule("/api/v1/drifted", "drifted", drifted)
    with openapi_log() as records:
        response = app.test_client().get("/api/v1/drifted")
    assert response.status_code == status
    assert any("drifted breaks its declaration" in r.getMessage() for r in records)


@pytest.mark.parametrize("env, validate, testing, status, logged", [
    ("production", None, True, 500, True),     # the suite always checks
    ("production", False, True, 500, True),
    ("production", None, False, 200, False),   # production: sent unchecked, nothing logged
    ("production", True, False, 200, True),    # asked for: checked and logged
    ("development", None, False, 200, True),   # development: checked and logged
    ("development", False, False, 200, False),
])
def test_response_checks_follow_the_setting_but_never_leave_the_suite(env, validate, testing,
                                                                      status, logged):
    import dataclasses

    from shop.cart.schemas import NewCart
    from shop.core.openapi import Response

    app = _offline_app()
    app.config["TESTING"] = testing
    resources = app.extensions["peakshop"]
    resources.settings = dataclasses.replace(resources.settings, env=env,
                                             validate_responses=validate)

    @api.validate(resp=Response(HTTP_200=NewCart))
    def drifted_again():
        return {"cart": 1}

    app.add_url_rule("/api/v1/drifted-again", "drifted_again", drifted_again)
    with openapi_log() as records:
        response = app.test_client().get("/api/v1/drifted-again")
    assert response.status_code == status
    if status == 200:
        assert response.get_json() == {"cart": 1}      # sent as the view made it
    else:  # under test the drift fails the request, naming the field it broke
        assert "cart_id" in response.get_data(as_text=True)
    assert any("breaks its declaration" in r.getMessage() for r in records) is logged


def test_the_response_check_setting_is_read_from_the_environment():
    from shop.core.settings import ConfigError, load_settings

    assert load_settings({"PEAKSHOP_VALIDATE_RESPONSES": "false"}).checks_responses is False
    assert load_settings({"PEAKSHOP_VALIDATE_RESPONSES": "true", "PEAKSHOP_ENV": "production",
                          "PEAKSHOP_SECRET_KEY": "s" * 40}).checks_responses is True
    with pytest.raises(ConfigError, match="PEAKSHOP_VALIDATE_RESPONSES"):
        load_settings({"PEAKSHOP_VALIDATE_RESPONSES": "sometimes"})
