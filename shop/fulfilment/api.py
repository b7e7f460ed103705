"""Carriers over JSON (merchant back-office)."""

from flask import Blueprint

blueprint = Blueprint("fulfilment_api", __name__, url_prefix="/api/v1")
