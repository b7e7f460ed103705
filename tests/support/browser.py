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


SCREENSHOT_ATTEMPTS = 3


def screenshot(page, path: Path) -> None:
    """A full-page screenshot of `page` to `path`, asked again when Chromium had no frame.

    On a machine busy with other tests Chromium's compositor sometimes produces no frame in
    time and `Page.captureScreenshot` fails ("Unable to capture screenshot"): the page is
    fine, the picture is only a by-product of the test, so it is simply asked for again."""
    from playwright.sync_api import Error

    for attempt in range(1, SCREENSHOT_ATTEMPTS + 1):
        try:
            page.screenshot(path=path, full_page=True)
            return
        except Error as problem:
            if "Unable to capture screenshot" not in str(problem) or \
                    attempt == SCREENSHOT_ATTEMPTS:
                raise


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
