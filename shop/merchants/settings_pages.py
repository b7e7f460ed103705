"""The shop's settings as a back-office page: prices shown with or without VAT. Changes go
through `shop.merchants.shop_settings`, the same as PATCH /api/v1/shops/{slug}/settings."""

from __future__ import annotations

from flask import Blueprint, g
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from shop.core import resources
from shop.core.errors import Problem
from shop.merchants import roles, shop_settings
from shop.merchants import service as merchants
from shop.merchants.access import acting
from shop.merchants.page_kit import render_page, see_other, submitted

blueprint = Blueprint("settings", __name__, url_prefix="/shops/<slug>/settings")

GROSS, NET = "gross", "net"


class SettingsForm(FlaskForm):
    prices = RadioField("Prices you enter and shoppers see", validators=[InputRequired()],
                        choices=[SelectChoice(GROSS, "Include VAT (selling to consumers)"),
                                 SelectChoice(NET, "Exclude VAT: VAT by destination country is "
                                                   "added at checkout, on products and "
                                                   "shipping")])

    def service_data(self) -> dict:
        """The JSON API's PATCH body for this form."""
        return {"prices_include_vat": self.prices.data == GROSS}


@blueprint.route("", methods=["GET", "POST"])
def edit_settings(slug: str):
    """Choose whether the shop's prices include VAT."""
    who = acting()
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        stored = shop_settings.settings_json(shop)
    form = SettingsForm(data={"prices": GROSS if stored["prices_include_vat"] else NET})
    status, error = 200, None
    try:
        if submitted(form):
            data = shop_settings.parse_changes(form.service_data())
            with resources.current().database.transaction() as db:
                shop = merchants.shop_by_slug(db, slug)
                shop_settings.change_settings(db, shop, data)
            g.audit_details = {"request": data}
            return see_other("merchant_pages.settings.edit_settings", slug=slug)
    except Problem as problem:
        status, error = problem.status, problem.detail
    return render_page("merchant/settings.html", status, shop=shop, who=who, form=form,
                       error=error, may_write=roles.may(who.role, "settings.write"))
