"""What the browser tests share: Debian's Chromium, its headless flags, and the app served on
a real loopback port in a thread (Playwright drives Chromium with `executable_path`)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
# Background networking off: this machine's closed network refuses Chromium's own calls.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def keep(screenshot: Path) -> None:
    """Copy a screenshot into the docs, only when PEAKSHOP_SAVE_SCREENSHOTS=1 asks for it."""
    if os.environ.get("PEAKSHOP_SAVE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, DOCS_IMAGES / screenshot.name)


needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                    reason=f"Chromium is not installed at {CHROMIUM} "
                                           "(apt-get install chromium)")


def served(app) -> Iterator[str]:
    """Serve `app` on a free loopback port until the generator is closed; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
