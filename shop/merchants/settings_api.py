"""A shop's settings over JSON: `GET` and `PATCH /api/v1/shops/{slug}/settings`.

Who may read and change them is the role matrix's (`settings.read`, `settings.write`).
"""

from __future__ import annotations

from flask import Blueprint

from shop.core import resources
from shop.core.http import bearer_token, json_body
from shop.core.openapi import BEARER, Response, api, problems
from shop.merchants import service as merchants
from shop.merchants import shop_settings
from shop.merchants.schemas import ShopSettingsChange, ShopSettingsOut

blueprint = Blueprint("shop_settings_api", __name__, url_prefix="/api/v1")


@blueprint.get("/shops/<slug>/settings")
@api.validate(resp=Response(HTTP_200=ShopSettingsOut, **problems(401, 403, 429)),
              tags=["merchants"], security=BEARER)
def show_settings(slug: str):
    """The shop's settings: whether its prices include VAT."""
    token = bearer_token()
    with resources.current().database.reading() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        return shop_settings.settings_json(merchant)


@blueprint.patch("/shops/<slug>/settings")
@api.validate(json=ShopSettingsChange,
              resp=Response(HTTP_200=ShopSettingsOut, **problems(401, 403, 415, 422, 429)),
              tags=["merchants"], security=BEARER)
def change_settings(slug: str):
    """Change the shop's settings (owner or manager): prices with or without VAT."""
    token = bearer_token()
    changes = shop_settings.parse_changes(json_body())
    with resources.current().database.transaction() as session:
        merchant, _ = merchants.authorize(session, token, slug)
        shop_settings.change_settings(session, merchant, changes)
        return shop_settings.settings_json(merchant)
