"""gunicorn configuration of `peakshop serve`; the settings live in shop/gunicorn_conf.py."""

from shop.gunicorn_conf import *  # noqa: F403
