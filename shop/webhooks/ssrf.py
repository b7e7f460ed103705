"""The SSRF guard: a merchant's webhook URL must lead to the public internet.

A webhook is a request our servers make to an address a merchant chose. Without this guard
a merchant could aim it at our own loopback, the cloud metadata service (169.254.169.254) or
the private network behind us. The host is resolved and every address it resolves to is
checked, at registration and again before each delivery (DNS can change in between).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


class TargetRefused(ValueError):
    """The URL is malformed or leads somewhere we do not send webhooks; the message says why."""


def check_url_shape(url: object) -> tuple[str, int]:
    """(host, port) of a well-formed http(s) URL without credentials, or TargetRefused."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("'url' must be an http:// or https:// URL")
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"'url' is longer than {MAX_URL_LENGTH} characters")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise TargetRefused("'url' holds spaces or control characters: percent-encode them")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as problem:
        raise TargetRefused(f"'url' is not a valid URL: {problem}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"'url' must start with https:// (or http://): got "
                            f"{parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise TargetRefused("'url' has no host name")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("'url' must not carry a user name or password: verify deliveries "
                            "with the Peakshop-Signature header instead")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def forbidden_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not on the public internet, or None when it is; no side effects."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return forbidden_reason(address.ipv4_mapped)
    for reason, flag in (("unspecified", address.is_unspecified),
                         ("loopback", address.is_loopback),
                         ("link-local", address.is_link_local),
                         ("multicast", address.is_multicast),
                         ("private", address.is_private),
                         ("reserved", address.is_reserved)):
        if flag:
            return reason
    if not address.is_global:  # e.g. 100.64.0.0/10, carrier-grade NAT
        return "not globally routable"
    return None


def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as problem:
        raise TargetRefused(f"the host {host!r} cannot be resolved ({problem}): check the "
                            "spelling") from None
    # An IPv6 scope ("fe80::1%eth0") is not part of the address.
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def checked_addresses(url: object, *, allow_private: bool
                      ) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses of the URL's host when it is well formed and every one is public; else
    TargetRefused naming the address and the reason. The sender connects to these very
    addresses, so a DNS answer that changes after the check (rebinding) cannot redirect it."""
    host, port = check_url_shape(url)
    addresses = resolve(host, port)
    if not allow_private:
        for address in addresses:
            reason = forbidden_reason(address)
            if reason:
                raise TargetRefused(f"'url' leads to {address}, a {reason} address: webhooks "
                                    "go only to the public internet")
    return list(dict.fromkeys(addresses))


def check_target(url: object, *, allow_private: bool) -> str:
    """The URL when `checked_addresses` accepts it."""
    checked_addresses(url, allow_private=allow_private)
    return str(url)
