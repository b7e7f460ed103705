"""The back-office's product and CSV forms (Flask-WTF: each carries its CSRF token), and
their translation into the dictionaries the catalog services take.

The forms check only what a browser can get wrong in its own terms (a required field left
empty, text too long, not a number); every product rule stays in `shop.catalog.service`.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from shop.catalog.service import MAX_STOCK
from shop.merchants.page_kit import minor_units


class ProductForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    category = StringField("Category", validators=[Optional(), Length(max=100)])
    price = StringField("Price", validators=[DataRequired(), Length(max=20)])
    stock = IntegerField("Stock on hand", validators=[InputRequired(),
                                                      NumberRange(min=0, max=MAX_STOCK)])


class NewProductForm(ProductForm):
    sku = StringField("SKU", validators=[DataRequired(), Length(max=64)])


class EditProductForm(ProductForm):
    # A product with variants holds no stock of its own: the view makes the field optional.
    stock = IntegerField("Stock on hand", validators=[Optional(),
                                                      NumberRange(min=0, max=MAX_STOCK)])
    # The stock the form showed: a change is applied as a difference to it, so units sold
    # while the merchant was typing are not written back onto the shelf.
    shown_stock = HiddenField()


class ArchiveForm(FlaskForm):
    """Nothing but the CSRF token: archiving and restoring are one-button POSTs."""


class ImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired("choose a CSV file to import")])


class ApplyImportForm(FlaskForm):
    staged = HiddenField(validators=[DataRequired(), Length(max=64)])


def new_product_data(form: NewProductForm, currency: str) -> dict[str, Any]:
    """The JSON API's body for `create_product`, from the form."""
    return {"sku": form.sku.data.strip(), **_details(form, currency),
            "stock": form.stock.data}


def product_changes(form: EditProductForm, currency: str, *,
                    has_variants: bool) -> dict[str, Any]:
    """The changes for `update_product`: the details, and the stock as a difference to what
    the form showed when it was changed (nothing when it was left as it was)."""
    changes = _details(form, currency)
    if not has_variants and form.stock.data is not None:
        raw = (form.shown_stock.data or "").strip()
        shown = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None
        if shown is None:
            changes["stock"] = form.stock.data
        elif form.stock.data != shown:
            changes["stock_delta"] = form.stock.data - shown
    return changes


def _details(form: ProductForm, currency: str) -> dict[str, Any]:
    return {"name": form.name.data, "description": form.description.data or "",
            "category": (form.category.data or "").strip() or None,
            "price": {"amount": minor_units(form.price.data, currency),
                      "currency": currency}}
