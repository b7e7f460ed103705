"""The WSGI entry point gunicorn loads in each worker: `shop.wsgi:app`."""

from shop.app import create_app
from shop.fulfilment.working_days import warm_up as warm_up_holidays

app = create_app()
# Imported once in gunicorn's master (preload_app): what is set up here, the forked workers share.
warm_up_holidays()
