"""peakshop storefront and merchant back-office."""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use: gunicorn's master and the CLI import `shop.*` modules without
    # needing the app, and must not create metrics before PROMETHEUS_MULTIPROC_DIR is ready.
    if name == "create_app":
        from shop.app import create_app

        return create_app
    raise AttributeError(name)
