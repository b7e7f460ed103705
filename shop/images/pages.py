"""A product's images in the back-office: change their alt text and their order.

The section sits on the product's edit page (`merchant/_product_images.html`, filled by
`shop.catalog.pages`); its forms post here. The view translates the form into the same
service call as `PATCH .../images/{id}`, so every rule is the service's; the door has
already checked the person's role (catalog.write) before it runs.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, url_for
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from shop.core import resources
from shop.core.errors import Problem
from shop.images import service
from shop.images.api import media_store
from shop.merchants import section_kit
from shop.merchants.access import acting

blueprint = Blueprint("image_pages", __name__, url_prefix="/merchant/shops/<slug>")
section_kit.install(blueprint)


class ImageForm(FlaskForm):
    alt = StringField("Description (alt text)",
                      validators=[DataRequired(), Length(max=service.MAX_ALT_LENGTH)])
    # Counted from 1 on the page, as people count; the service counts from 0.
    place = IntegerField("Place", validators=[InputRequired(), NumberRange(min=1)])


@blueprint.post("/products/<sku>/images/<int:image_id>")
def update_image(slug: str, sku: str, image_id: int):
    """Save an image's alt text and place among the product's images."""
    form = ImageForm()
    if not form.validate_on_submit():
        detail, status = section_kit.form_refusal(form)
        raise Problem(detail, code="invalid_input", status=status)
    service.update_image(resources.current().database, media_store(), acting().merchant_id,
                         sku, image_id, {"alt": form.alt.data, "position": form.place.data - 1})
    g.audit_details = {"image_id": image_id, "sku": sku}
    return redirect(url_for("catalog_pages.edit_product", slug=slug, sku=sku,
                            image_saved=image_id, _anchor="images"), 303)
