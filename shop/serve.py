"""Run the storefront under gunicorn from inside the `peakshop` process.

Running gunicorn in-process (rather than exec'ing it) keeps the embedded Redis of the default
set-up alive for exactly as long as the server.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from gunicorn.app.wsgiapp import WSGIApplication

from shop.core.settings import Settings


def gunicorn_config_path() -> str:
    """./gunicorn.conf.py when run from a checkout, else the packaged defaults."""
    local = Path("gunicorn.conf.py")
    return str(local.resolve()) if local.is_file() else "python:shop.gunicorn_conf"


def run_gunicorn(settings: Settings, extra_args: list[str] | None = None) -> None:
    # Set, not defaulted: an empty PEAKSHOP_BIND means the default too (as the settings read
    # it), and gunicorn would otherwise be given an empty address.
    os.environ["PEAKSHOP_BIND"] = settings.bind
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        # Samples of a previous run would be summed into this one's counters.
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="peakshop-metrics-")
    sys.argv = ["peakshop serve", "-c", gunicorn_config_path(), *(extra_args or [])]
    WSGIApplication("%(prog)s [OPTIONS]").run()
