"""A request that fails its declared model, told in words that name the field and the fix.

pydantic's own messages name types and constraints ("Input should be a valid integer"); a
shopper's client or a merchant's script needs the field, what it must be and what it sent, in
one line: "'quantity' must be at most 1000: got 1001".
"""

from __future__ import annotations

from pydantic import ValidationError

from shop.core.errors import InvalidInput
from shop.core.schemas import PATTERN_HINTS

# Where the API's description is served; an unknown field's message points there.
DOCUMENT_PATH = "/api/v1/openapi.json"


def _field(location: tuple) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _got(error: dict) -> str:
    value = error.get("input")
    if isinstance(value, (dict, list)):
        return {dict: "an object", list: "a list"}[type(value)]
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(error: dict) -> str:
    """One pydantic error as a sentence: "'quantity' must be at most 1000: got 1001"."""
    field = _field(error["loc"])
    kind, ctx = error["type"], error.get("ctx") or {}
    name = f"'{field}'" if field else "the body"
    if kind == "missing":
        return f"{name} is required"
    if kind == "extra_forbidden":
        return f"{name} is not a field of this request: remove it (see {DOCUMENT_PATH})"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{name} must be a whole number: got {_got(error)}"
    if kind in ("string_type", "string_sub_type"):
        return f"{name} must be a string: got {_got(error)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"{name} must be true or false: got {_got(error)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{name} must be an object: got {_got(error)}"
    if kind == "list_type":
        return f"{name} must be a list: got {_got(error)}"
    if kind == "greater_than_equal":
        return f"{name} must be at least {ctx['ge']}: got {_got(error)}"
    if kind == "less_than_equal":
        return f"{name} must be at most {ctx['le']}: got {_got(error)}"
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return f"{name} must not be empty"
        return f"{name} must be at least {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"{name} is longer than {ctx['max_length']} characters"
    if kind in ("literal_error", "enum"):
        return f"{name} must be one of {ctx.get('expected')}: got {_got(error)}"
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(ctx.get("pattern", ""), f"must match {ctx.get('pattern')}")
        return f"{name} {hint}: got {_got(error)}"
    if kind == "money":
        return error["msg"]  # the money check's own sentence names the shape to send
    return f"{name}: {error['msg']}"


def invalid_input(error: ValidationError) -> InvalidInput:
    errors = error.errors(include_url=False)
    details = [{"field": _field(e["loc"]), "detail": describe(e)} for e in errors]
    return InvalidInput(details[0]["detail"], extra={"field": details[0]["field"],
                                                     "errors": details})
