"""The confirmation mail links to the shopper's order page, and the link opens the order.

Everything is real: the worker is a `shop.orders.worker_command` process, it submits the
mail over SMTP to an aiosmtpd server on loopback, and the link read from that mail is
opened over HTTP on the storefront served on a loopback port.
"""

from __future__ import annotations

import email
import email.policy
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from aiosmtpd.controller import Controller

from shop.core.settings import ConfigError, load_settings
from shop.orders.links import OrderLinks
from tests.pipeline.support import wait_until
from tests.support.browser import served
from tests.support.servers import free_port

on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
LINK = re.compile(r"Your order, at any time: (\S+)")


class Inbox:
    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def storefront_url(app):
    yield from served(app)


@on_sqlite
def test_the_mail_link_opens_the_order(api, shop, worker_env, workers, storefront_url):
    api.add_product(shop, "MUG", name="Reindeer mug", price=1250, stock=5)
    bought = api.buy(shop, "MUG", 2)
    assert bought.status_code == 201, bought.get_json()
    order_id = bought.get_json()["order_id"]

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # The public address has a trailing slash, as people write it: one slash remains.
        workers({**worker_env, "PEAKSHOP_SMTP_URL": f"smtp://127.0.0.1:{port}",
                 "PEAKSHOP_PUBLIC_URL": storefront_url + "/"}, "mailer")
        wait_until(lambda: inbox.messages, "the confirmation mail")
    finally:
        controller.stop()

    [mail] = inbox.messages
    body = mail.get_content()  # quoted-printable decoded, as a mail client shows it
    links = LINK.findall(body)
    assert len(links) == 1, body
    [link] = links
    assert link.startswith(f"{storefront_url}/orders/{order_id}?token=")

    page = requests.get(link, timeout=30)
    assert page.status_code == 200
    assert "Your order" in page.text and "Reindeer mug" in page.text
    assert re.search(r"Confirmed|Paid", page.text)

    # The token is what opens it: the same link with another token does not.
    token = parse_qs(urlsplit(link).query)["token"][0]
    forged = link.replace(token, "0" * len(token))
    assert requests.get(forged, timeout=30).status_code in (401, 403, 404)


def test_without_a_public_address_links_use_the_bind_address():
    settings = load_settings({}, {"bind": "127.0.0.1:8123", "secret_key": "s"})
    link = OrderLinks.from_settings(settings).order_page("abc")
    assert link.startswith("http://127.0.0.1:8123/orders/abc?token=")


@pytest.mark.parametrize(("order_id", "path"), [
    ("0f3a9c", "/orders/0f3a9c"),                    # an order's hex id, as it is
    ("a/b c?d", "/orders/a%2Fb%20c%3Fd"),            # anything else, quoted whole
    ("\u00e9t\u00e9", "/orders/%C3%A9t%C3%A9"),     # letters, but not ASCII ones
])
def test_the_order_page_path_holds_the_id_and_nothing_else(order_id, path):
    link = OrderLinks("https://shop.example.com/", "s").order_page(order_id)
    assert urlsplit(link).path == path
    assert parse_qs(urlsplit(link).query)["token"][0].isalnum()


@pytest.mark.parametrize("value", ["shop.example.com", "ftp://shop.example.com",
                                   "https://shop.example.com/?x=1", "https://"])
def test_a_malformed_public_address_stops_start_up(value):
    with pytest.raises(ConfigError, match="PEAKSHOP_PUBLIC_URL"):
        load_settings({"PEAKSHOP_PUBLIC_URL": value})
