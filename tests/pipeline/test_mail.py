"""Confirmation mail: a provider outage delays it and loses none; each order gets one mail.

The mail provider is a real SMTP server (aiosmtpd) on a loopback port: first nothing
listens there, then it answers 451 "try again later", then it accepts.
"""

from __future__ import annotations

import email
from dataclasses import dataclass, field
from datetime import date

import pytest
from aiosmtpd.controller import Controller

from shop.notifications.mailer import FolderMailer
from shop.notifications.service import (
    ConfirmationFacts,
    RetryPolicy,
    backoff_s,
    deliver_due,
    queue_confirmations,
)
from tests.pipeline.support import buy_many, wait_until
from tests.support.servers import free_port

# Mail is the same on either database; one backend keeps the suite short.
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Inbox:
    """An SMTP handler that refuses while `refusing`, then keeps what it is sent."""

    refusing: bool = True
    refused: int = 0
    messages: list[email.message.Message] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if self.refusing:
            self.refused += 1
            return "451 4.3.0 Mail system busy, try again later"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@on_sqlite
def test_mail_waits_out_a_provider_outage(api, shop, state, worker_env, workers, tmp_path):
    port = free_port()
    api.add_product(shop, "MUG", stock=20)
    order_ids = buy_many(api, shop, 5)
    workers({**worker_env, "PEAKSHOP_SMTP_URL": f"smtp://127.0.0.1:{port}?from=shop@example.com"},
            "mailer")

    def all_mails(predicate) -> bool:
        mails = state.mails()
        return len(mails) == len(order_ids) and all(predicate(mail) for mail in mails)

    wait_until(lambda: all_mails(lambda m: m.attempts >= 2 and m.status == "pending"
                                 and "unavailable" in (m.last_error or "")),
               "retries while nothing listens")

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        wait_until(lambda: inbox.refused >= len(order_ids)
                   and all_mails(lambda m: "451" in (m.last_error or "")),
                   "retries while the server refuses")
        assert all_mails(lambda m: m.status == "pending")
        inbox.refusing = False
        wait_until(lambda: all_mails(lambda m: m.status == "sent"), "every mail sent")
    finally:
        controller.stop()

    message_ids = sorted(message["Message-ID"] for message in inbox.messages)
    assert message_ids == sorted(f"<order_confirmation.{order_id}@peakshop>"
                                 for order_id in order_ids)
    assert {message["From"] for message in inbox.messages} == {"shop@example.com"}
    assert {message["To"] for message in inbox.messages} == {"shopper@example.com"}
    assert not (tmp_path / "instance" / "mail").exists()  # SMTP configured: no files


@on_sqlite
def test_a_mail_is_given_up_after_its_last_attempt(app, state, tmp_path):
    """The worker's delivery code, run in-process against a folder that cannot be written
    (a file stands where the folder should be)."""
    database = app.extensions["peakshop"].database
    with database.transaction() as session:
        queue_confirmations(session, [ConfirmationFacts(
            "a" * 32, "ada@example.com", [("Mug", 1, 1250)], 1250, "EUR", "Fast",
            date(2026, 12, 22), True)])
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    policy = RetryPolicy(base_s=0.01, max_s=0.01, max_attempts=2, lease_s=0.01)
    for _ in range(policy.max_attempts):
        wait_until(lambda: deliver_due(database, FolderMailer(blocked), policy).failed,
                   "a failed attempt", interval_s=0.02)
    [mail] = state.mails()
    assert (mail.status, mail.attempts) == ("failed", 2)
    assert "cannot create the mail folder" in mail.last_error
    # Given up is final: a working mailer later sends nothing.
    assert deliver_due(database, FolderMailer(tmp_path / "mail"), policy).sent == 0


@pytest.mark.parametrize(("attempts", "expected"), [(1, 30), (2, 60), (3, 120), (8, 3600),
                                                    (40, 3600)])
def test_retries_back_off_exponentially_up_to_a_cap(attempts, expected):
    assert backoff_s(attempts, RetryPolicy(base_s=30, max_s=3600)) == expected
