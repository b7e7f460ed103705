"""Handing mail to the outside world: an SMTP server when configured, else .eml files.

`PEAKSHOP_SMTP_URL` looks like `smtp://user:password@mail.example.com:587?from=shop@example.com`
(`smtps://` for TLS from the first byte). Plain `smtp://` upgrades with STARTTLS whenever the
server offers it. Without it, every mail is written to `settings.mail_folder` as a file.
"""

from __future__ import annotations

import email.utils
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlparse

from shop.core.settings import Settings

DEFAULT_SENDER = "peakshop <no-reply@peakshop.invalid>"
SMTP_TIMEOUT_S = 10


@dataclass(frozen=True)
class OutgoingMessage:
    mail_id: int
    order_id: str
    kind: str
    recipient: str
    subject: str
    body: str
    attempts: int


class Mailer(Protocol):
    def send_all(self, messages: list[OutgoingMessage]) -> dict[int, str | None]:
        """Deliver each message; maps mail id to None (accepted) or the error."""


def build_message(message: OutgoingMessage, sender: str) -> EmailMessage:
    """The RFC 5322 message; its Message-ID is stable, so a resent mail is recognisably one."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = email.utils.formatdate(usegmt=True)
    mail["Message-ID"] = f"<{message.kind}.{message.order_id}@peakshop>"
    mail.set_content(message.body)
    return mail


class FolderMailer:
    """Writes each mail to `<folder>/<order>-<kind>.eml`; sending again rewrites the same file."""

    def __init__(self, folder: Path, sender: str = DEFAULT_SENDER):
        self.folder = folder
        self.sender = sender

    def send_all(self, messages: list[OutgoingMessage]) -> dict[int, str | None]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as problem:
            reason = f"cannot create the mail folder {self.folder}: {problem}"
            return {message.mail_id: reason for message in messages}
        results: dict[int, str | None] = {}
        for message in messages:
            target = self.folder / f"{message.order_id}-{message.kind}.eml"
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            try:
                partial.write_bytes(bytes(build_message(message, self.sender)))
                os.replace(partial, target)  # atomic: a reader never sees half a mail
                results[message.mail_id] = None
            except OSError as problem:
                results[message.mail_id] = f"cannot write {target}: {problem}"
        return results


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None
    sender: str


def parse_smtp_url(url: str) -> SmtpServer:
    """Where and how to submit mail, from `smtp[s]://[user:pass@]host[:port][?from=addr]`."""
    parts = urlparse(url)
    implicit_tls = parts.scheme == "smtps"
    query = parse_qs(parts.query)
    return SmtpServer(host=parts.hostname or "localhost",
                      port=parts.port or (465 if implicit_tls else 25),
                      implicit_tls=implicit_tls,
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None,
                      sender=query.get("from", [DEFAULT_SENDER])[0])


class SmtpMailer:
    """Submits mail over one SMTP connection per batch."""

    def __init__(self, server: SmtpServer):
        self.server = server

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.server.implicit_tls:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(self.server.host, self.server.port,
                                                        timeout=SMTP_TIMEOUT_S, context=context)
        else:
            connection = smtplib.SMTP(self.server.host, self.server.port,
                                      timeout=SMTP_TIMEOUT_S)
        try:
            connection.ehlo()
            if not self.server.implicit_tls and connection.has_extn("starttls"):
                connection.starttls(context=context)
                connection.ehlo()
            if self.server.username:
                connection.login(self.server.username, self.server.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def send_all(self, messages: list[OutgoingMessage]) -> dict[int, str | None]:
        results: dict[int, str | None] = {}
        try:
            connection = self._connect()
        except (OSError, smtplib.SMTPException) as problem:
            reason = f"SMTP server {self.server.host}:{self.server.port} unavailable: {problem}"
            return {message.mail_id: reason for message in messages}
        try:
            for index, message in enumerate(messages):
                try:
                    connection.send_message(build_message(message, self.server.sender))
                    results[message.mail_id] = None
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                        smtplib.SMTPDataError) as problem:
                    results[message.mail_id] = f"SMTP refused the mail: {problem}"
                except (OSError, smtplib.SMTPException) as problem:
                    # The connection is gone: this and every later mail wait for a retry.
                    for later in messages[index:]:
                        results[later.mail_id] = f"SMTP connection lost: {problem}"
                    break
        finally:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()
        return results


def mailer_for(settings: Settings) -> Mailer:
    """SMTP when `PEAKSHOP_SMTP_URL` is set, else files in the mail folder."""
    if settings.smtp_url:
        return SmtpMailer(parse_smtp_url(settings.smtp_url))
    return FolderMailer(settings.mail_folder)
