"""The waiting page in headless Chromium, with JavaScript off: what a shopper in line sees.

The app runs behind werkzeug's HTTP server on loopback (the suite's real Redis and database);
the browser is Debian's Chromium driven by Playwright. Screenshots at desktop width and at
390 px (a phone) land in the test's tmp folder, and in docs/images/ when
PEAKSHOP_SAVE_SCREENSHOTS=1. The same steps run against the gate in front of gunicorn in
tests/edge/test_waiting_page_at_the_gate.py.
"""

import pytest

from tests.support.browser import keep, needs_chromium, served
from tests.waiting_room.browsing import shopper_waits_in_line

pytestmark = [pytest.mark.slow,
              needs_chromium]


@pytest.fixture
def live_server(app):
    """The app behind a real HTTP server on a free loopback port."""
    yield from served(app)


def test_a_shopper_waits_in_line_without_javascript(live_server, api, stocked_shop,
                                                    switch_room, tmp_path):
    switch_room(stocked_shop, "on", 0.01)
    shopper_waits_in_line(f"{live_server}/shops/{stocked_shop.slug}/", "Nordpol Geschenke",
                          lambda: switch_room(stocked_shop, "off"), tmp_path)
    for name in ("waiting-room-desktop.png", "waiting-room-390.png"):
        keep(tmp_path / name)
