"""docs/api.md, the reference a user reads, lists every JSON route the app serves.

The OpenAPI document is generated from the code and cannot drift; the human-readable page is
written by hand, so this test reads its route tables and compares them with the url_map.
"""

from __future__ import annotations

import re
from pathlib import Path

from shop.core.openapi import _offline_app, is_json_route

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROW = re.compile(r"^\|\s*((?:GET|POST|PUT|PATCH|DELETE)(?:,\s*(?:GET|POST|PUT|PATCH|DELETE))*)"
                 r"\s*\|([^|]*)\|")


def documented_routes(text: str) -> set[tuple[str, str]]:
    """(method, path) of every row of the route tables; a cell may name several of each."""
    routes = set()
    for line in text.splitlines():
        row = ROW.match(line)
        if row is None:
            continue
        methods = [method.strip() for method in row.group(1).split(",")]
        paths = re.findall(r"`([^`]+)`", row.group(2))
        routes.update((method, path) for method in methods for path in paths)
    return routes


def served_routes() -> set[tuple[str, str]]:
    routes = set()
    for rule in _offline_app().url_map.iter_rules():
        if not is_json_route(rule.rule):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes.update((method, path) for method in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def test_the_reference_lists_every_json_route():
    missing = served_routes() - documented_routes(REFERENCE.read_text())
    assert not missing, f"docs/api.md lacks: {sorted(missing)}"


def test_the_reader_understands_rows_naming_several_methods_and_paths():
    text = ("| GET, PATCH | `/api/v1/x/{id}` | ops | — | 200 |\n"
            "| GET | `/a`, `/b` | — | — | 200 |\n"
            "| method | path | auth |\n")
    assert documented_routes(text) == {("GET", "/api/v1/x/{id}"), ("PATCH", "/api/v1/x/{id}"),
                                       ("GET", "/a"), ("GET", "/b")}
