"""Who may do what in a company: the one role matrix every merchant route is checked against.

`ACTIONS` maps an action to the roles allowed to perform it; `ROUTES` maps every route under
`/api/v1/shops/<slug>/` (method and URL rule, as Flask spells it) to its action, or to
`PUBLIC` for the shopper's routes. `shop.merchants.access` enforces it before any view runs;
a test walks the app's URL map and fails on any route missing here. Pure data and pure
functions: no Flask, no database.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    STAFF = "staff"
    VIEWER = "viewer"


ROLES = tuple(Role)
PUBLIC = "public"

_EVERYONE = frozenset(Role)
_OPERATORS = frozenset({Role.OWNER, Role.MANAGER, Role.STAFF})
_MANAGERS = frozenset({Role.OWNER, Role.MANAGER})
_OWNERS = frozenset({Role.OWNER})

# action -> roles allowed. A viewer reads everything but the audit log, and writes nothing.
ACTIONS: dict[str, frozenset[Role]] = {
    "catalog.read": _EVERYONE,
    "catalog.write": _OPERATORS,          # create and edit products, prices, stock
    "catalog.import": _MANAGERS,          # bulk changes from a CSV file
    "orders.read": _EVERYONE,
    "carriers.read": _EVERYONE,
    "carriers.write": _MANAGERS,
    "events.read": _EVERYONE,
    "events.write": _MANAGERS,
    "team.read": _EVERYONE,
    "team.write": _OWNERS,                # invite, change roles, remove, transfer ownership
    "tokens.read": _EVERYONE,             # owners see every token, others their own
    "tokens.revoke": _OPERATORS,          # owners revoke any token, others their own
    "plan.read": _EVERYONE,
    "plan.write": _OWNERS,
    "audit.read": _OWNERS,
    "surges.read": _EVERYONE,
    "surges.write": _MANAGERS,            # waiting room
    "webhooks.read": _EVERYONE,           # outage webhooks and their delivery log
    "webhooks.write": _MANAGERS,
    "privacy.erase": _MANAGERS,           # erase one shopper's personal data on request
    "settings.read": _EVERYONE,           # the shop's settings (prices with or without VAT)
    "settings.write": _MANAGERS,
}

SHOP = "/api/v1/shops/<slug>"
PAGES = "/merchant/shops/<slug>"  # the HTML back-office

# (method, URL rule) -> action or PUBLIC.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", f"{SHOP}/products"): PUBLIC,
    ("GET", f"{SHOP}/products/<sku>"): PUBLIC,
    ("POST", f"{SHOP}/carts"): PUBLIC,
    ("POST", f"{SHOP}/products"): "catalog.write",
    ("PATCH", f"{SHOP}/products/<sku>"): "catalog.write",
    ("POST", f"{SHOP}/products/import"): "catalog.import",
    ("GET", f"{SHOP}/products/export"): "catalog.read",
    ("GET", f"{SHOP}/orders"): "orders.read",
    ("GET", f"{SHOP}/carriers"): "carriers.read",
    ("POST", f"{SHOP}/carriers"): "carriers.write",
    ("PATCH", f"{SHOP}/carriers/<int:carrier_id>"): "carriers.write",
    ("GET", f"{SHOP}/events"): "events.read",
    ("POST", f"{SHOP}/events"): "events.write",
    ("GET", f"{SHOP}/events/<int:event_id>"): "events.read",
    ("PATCH", f"{SHOP}/events/<int:event_id>"): "events.write",
    ("DELETE", f"{SHOP}/events/<int:event_id>"): "events.write",
    ("GET", f"{SHOP}/collaborators"): "team.read",
    ("POST", f"{SHOP}/collaborators"): "team.write",
    ("PATCH", f"{SHOP}/collaborators/<int:collaborator_id>"): "team.write",
    ("DELETE", f"{SHOP}/collaborators/<int:collaborator_id>"): "team.write",
    ("POST", f"{SHOP}/ownership"): "team.write",
    ("GET", f"{SHOP}/tokens"): "tokens.read",
    ("DELETE", f"{SHOP}/tokens/<int:token_id>"): "tokens.revoke",
    ("GET", f"{SHOP}/plan"): "plan.read",
    ("PUT", f"{SHOP}/plan"): "plan.write",
    ("GET", f"{SHOP}/audit"): "audit.read",
    ("GET", f"{SHOP}/status"): PUBLIC,
    ("GET", f"{SHOP}/waiting-room"): "surges.read",
    ("PUT", f"{SHOP}/waiting-room"): "surges.write",
    ("GET", f"{SHOP}/webhooks"): "webhooks.read",
    ("POST", f"{SHOP}/webhooks"): "webhooks.write",
    ("DELETE", f"{SHOP}/webhooks/<endpoint_id>"): "webhooks.write",
    ("GET", f"{SHOP}/webhooks/<endpoint_id>/deliveries"): "webhooks.read",
    ("POST", f"{SHOP}/erasures"): "privacy.erase",
    ("GET", f"{PAGES}/"): "events.read",
    # The back-office's catalog and orders pages: forms are read, their POSTs write.
    ("GET", f"{PAGES}/products"): "catalog.read",
    ("GET", f"{PAGES}/products/new"): "catalog.read",
    ("POST", f"{PAGES}/products/new"): "catalog.write",
    ("GET", f"{PAGES}/products/<sku>/edit"): "catalog.read",
    ("POST", f"{PAGES}/products/<sku>/edit"): "catalog.write",
    ("POST", f"{PAGES}/products/<sku>/archive"): "catalog.write",
    ("POST", f"{PAGES}/products/<sku>/restore"): "catalog.write",
    ("GET", f"{PAGES}/products/import"): "catalog.read",
    ("POST", f"{PAGES}/products/import"): "catalog.import",
    ("POST", f"{PAGES}/products/import/apply"): "catalog.import",
    ("GET", f"{PAGES}/products/export"): "catalog.read",
    ("GET", f"{PAGES}/orders"): "orders.read",
    ("GET", f"{PAGES}/orders/<order_id>"): "orders.read",
    ("GET", f"{PAGES}/team"): "team.read",
    ("POST", f"{PAGES}/team/invitations"): "team.write",
    ("POST", f"{PAGES}/team/<int:collaborator_id>/role"): "team.write",
    ("POST", f"{PAGES}/team/<int:collaborator_id>/remove"): "team.write",
    ("POST", f"{PAGES}/team/ownership"): "team.write",
    ("GET", f"{PAGES}/tokens"): "tokens.read",
    ("POST", f"{PAGES}/tokens/<int:token_id>/revoke"): "tokens.revoke",
    ("GET", f"{PAGES}/plan"): "plan.read",
    ("POST", f"{PAGES}/plan"): "plan.write",
    ("GET", f"{PAGES}/audit"): "audit.read",
    ("GET", f"{PAGES}/events"): "events.read",
    ("GET", f"{PAGES}/events/new"): "events.read",  # the form; sending it is the write
    ("POST", f"{PAGES}/events/new"): "events.write",
    ("GET", f"{PAGES}/events/<int:event_id>/edit"): "events.read",
    ("POST", f"{PAGES}/events/<int:event_id>/edit"): "events.write",
    ("POST", f"{PAGES}/events/<int:event_id>/delete"): "events.write",
    ("GET", f"{PAGES}/carriers"): "carriers.read",
    ("GET", f"{PAGES}/carriers/<int:carrier_id>/edit"): "carriers.read",
    ("POST", f"{PAGES}/carriers/<int:carrier_id>/edit"): "carriers.write",
    ("POST", f"{SHOP}/products/<sku>/images"): "catalog.write",
    ("DELETE", f"{SHOP}/products/<sku>/images/<int:image_id>"): "catalog.write",
    ("PATCH", f"{SHOP}/products/<sku>/images/<int:image_id>"): "catalog.write",
    ("POST", f"{PAGES}/products/<sku>/images/<int:image_id>"): "catalog.write",
    ("POST", f"{PAGES}/products/<sku>/images"): "catalog.write",
    ("POST", f"{PAGES}/products/<sku>/images/<int:image_id>/remove"): "catalog.write",
    ("GET", f"{SHOP}/settings"): "settings.read",
    ("PATCH", f"{SHOP}/settings"): "settings.write",
    ("GET", f"{PAGES}/settings"): "settings.read",
    ("POST", f"{PAGES}/settings"): "settings.write",
}

# A route someone adds without a line above: only owners and managers get through, and the
# URL-map test fails until the route is classified.
UNCLASSIFIED = frozenset({Role.OWNER, Role.MANAGER})


def is_merchant_route(rule: str) -> bool:
    return any(rule == prefix or rule.startswith(prefix + "/") for prefix in (SHOP, PAGES))


def is_page(rule: str) -> bool:
    return rule == PAGES or rule.startswith(PAGES + "/")


def action_for(method: str, rule: str) -> str | None:
    """The action a request performs, PUBLIC, or None when the route is not classified."""
    return ROUTES.get(("GET" if method == "HEAD" else method, rule))


def allowed_roles(action: str | None) -> frozenset[Role]:
    if action is None:
        return UNCLASSIFIED
    return ACTIONS[action]


def may(role: str, action: str | None) -> bool:
    """Whether `role` may perform `action` (no side effects)."""
    return role in allowed_roles(action)


def parse_role(value: object) -> Role:
    """A role from caller input; ValueError names the roles there are."""
    try:
        return Role(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(f"'role' must be one of {', '.join(ROLES)}: got {value!r}") from None
