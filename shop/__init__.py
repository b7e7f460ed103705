"""peakshop storefront and merchant back-office."""

from shop.app import create_app

__all__ = ["create_app"]
