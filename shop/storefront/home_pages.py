"""The front door: `/` leads to the only shop, or lists the shops this platform serves."""

from __future__ import annotations

from flask import redirect, url_for
from sqlalchemy import select

from shop.core import resources
from shop.merchants.models import Merchant
from shop.storefront.blueprint import blueprint, page

# A platform with thousands of shops is no directory; the list is a convenience for small ones.
LISTED_SHOPS = 100


@blueprint.get("/")
def show_home():
    """Redirect to the only shop, or list the shops."""
    with resources.current().database.reading() as session:
        shops = [(slug, name) for slug, name in session.execute(
            select(Merchant.slug, Merchant.name).order_by(Merchant.name)
            .limit(LISTED_SHOPS + 1))]
    if len(shops) == 1:
        return redirect(url_for("storefront.show_catalog", slug=shops[0][0]))
    return page("home.html", shops=shops[:LISTED_SHOPS], more=len(shops) > LISTED_SHOPS)
