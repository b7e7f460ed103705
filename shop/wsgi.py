"""The WSGI entry point gunicorn loads in each worker: `shop.wsgi:app`."""

from shop.app import create_app

app = create_app()
