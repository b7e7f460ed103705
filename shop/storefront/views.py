"""Server-rendered pages for shoppers; they work without JavaScript."""

from flask import Blueprint

blueprint = Blueprint("storefront", __name__)
