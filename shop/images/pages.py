"""A product's images in the back-office: add one, change its alt text and its place,
remove it.

The section sits on the product's edit page (`merchant/_product_images.html`, filled by
`shop.catalog.pages`); its forms post here. Each view translates its form into the same
service call as the JSON API (`POST`, `PATCH`, `DELETE .../images`), so every rule is the
service's; the door has already checked the person's role (catalog.write) before it runs.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from shop.core import resources
from shop.core.errors import Problem
from shop.images import service
from shop.images.api import FORM_OVERHEAD_BYTES, limits, media_store
from shop.merchants import pages
from shop.merchants.access import acting
from shop.merchants.page_kit import FORM_EXPIRED, form_refusal, takes_uploads

# A section of the back-office (`shop.merchants.pages`), under /merchant/shops/<slug>.
blueprint = Blueprint("image_pages", __name__, url_prefix="/shops/<slug>")


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):
    return pages.page_for_problem(Problem(
        f"the picture is larger than {NewImageForm.size_limit()}: save it "
        "smaller (a photo of 2000 pixels across is plenty) and add it again",
        code="image_too_large", status=413))


class NewImageForm(FlaskForm):
    image = FileField("Picture (JPEG, PNG or WebP)",
                      validators=[FileRequired("choose a picture to add")])
    alt = StringField("Description (alt text)",
                      validators=[DataRequired(), Length(max=service.MAX_ALT_LENGTH)])


    @staticmethod
    def size_limit() -> str:
        """The largest upload, as a person reads it: "10 MB"."""
        return f"{round(limits().max_bytes / (1024 * 1024), 1):g} MB"


class RemoveImageForm(FlaskForm):
    """Nothing but the CSRF token: removing is a one-button POST."""


class ImageForm(FlaskForm):
    alt = StringField("Description (alt text)",
                      validators=[DataRequired(), Length(max=service.MAX_ALT_LENGTH)])
    # Counted from 1 on the page, as people count; the service counts from 0.
    place = IntegerField("Place", validators=[InputRequired(), NumberRange(min=1)])


def _back_to_images(slug: str, sku: str, **notice):
    return redirect(url_for("merchant_pages.catalog_pages.edit_product", slug=slug, sku=sku,
                            **notice, _anchor="images"), 303)


def _refuse(form: FlaskForm) -> Problem:
    detail, status = form_refusal(form)
    return Problem(detail, code="invalid_input", status=status)


@blueprint.post("/products/<sku>/images")
@takes_uploads(lambda: limits().max_bytes + FORM_OVERHEAD_BYTES)
def add_image(slug: str, sku: str):
    """Add a picture to the product (checked, resized and stripped as over the API)."""
    form = NewImageForm()
    if not form.validate_on_submit():
        raise _refuse(form)
    view = service.add_image(resources.current().database, media_store(),
                             acting().merchant_id, sku, form.image.data.read(), form.alt.data,
                             limits())
    g.audit_details = {"image_id": view.id, "sku": sku}
    return _back_to_images(slug, sku, image_added=view.id)


@blueprint.post("/products/<sku>/images/<int:image_id>/remove")
def remove_image(slug: str, sku: str, image_id: int):
    """Remove a picture of the product; the others close up."""
    form = RemoveImageForm()
    if not form.validate_on_submit():
        raise Problem(FORM_EXPIRED, code="csrf_rejected", status=400)
    service.delete_image(resources.current().database, media_store(), acting().merchant_id,
                         sku, image_id)
    g.audit_details = {"image_id": image_id, "sku": sku}
    return _back_to_images(slug, sku, image_removed=1)


@blueprint.post("/products/<sku>/images/<int:image_id>")
def update_image(slug: str, sku: str, image_id: int):
    """Save an image's alt text and place among the product's images."""
    form = ImageForm()
    if not form.validate_on_submit():
        raise _refuse(form)
    service.update_image(resources.current().database, media_store(), acting().merchant_id,
                         sku, image_id, {"alt": form.alt.data, "position": form.place.data - 1})
    g.audit_details = {"image_id": image_id, "sku": sku}
    return _back_to_images(slug, sku, image_saved=image_id)
