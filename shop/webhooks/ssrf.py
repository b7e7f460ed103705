"""The SSRF guard: a merchant's webhook URL must lead to the public internet.

A webhook is a request our servers make to an address a merchant chose. Without this guard
a merchant could aim it at our own loopback, the cloud metadata service (169.254.169.254) or
the private network behind us. The host is resolved and every address it resolves to is
checked, at registration and again before each delivery (DNS can change in between).
An IPv6 address that carries an IPv4 address inside it (IPv4-mapped, IPv4-compatible, 6to4,
Teredo, NAT64) is judged by that IPv4 address too: a relay or the host's own stack would
deliver to it.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
# 64:ff9b::/96 translates to the IPv4 address in its last 32 bits (RFC 6052).
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


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
    port = _port(parts)
    return parts.hostname, (443 if parts.scheme == "https" else 80) if port is None else port


def _port(parts: SplitResult) -> int | None:
    """The URL's explicit port, or None. Port 0 is no port at all: a client would quietly
    send to the scheme's default instead of what the merchant wrote."""
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise TargetRefused("'url' is not a valid URL: its port must be a number from 1 to "
                            "65535, or left out for the scheme's default (443 or 80)")
    return port


def forbidden_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not on the public internet, or None when it is; no side effects."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return forbidden_reason(address.ipv4_mapped)
    reason = _own_forbidden_reason(address)
    if reason or not isinstance(address, ipaddress.IPv6Address):
        return reason
    for scheme, inner in _embedded_ipv4(address):
        inner_reason = forbidden_reason(inner)
        if inner_reason:
            return f"{scheme} address wrapping {inner}, a {inner_reason}"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address
                   ) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses a transition scheme would carry this IPv6 address's packets to."""
    embedded = []
    if address.sixtofour:
        embedded.append(("6to4", address.sixtofour))
    if address.teredo:
        server, client = address.teredo
        embedded += [("Teredo", server), ("Teredo", client)]
    if address in NAT64_PREFIX:
        embedded.append(("NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
    if address in IPV4_COMPATIBLE:
        embedded.append(("IPv4-compatible", ipaddress.IPv4Address(int(address))))
    return embedded


def _own_forbidden_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address
                          ) -> str | None:
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
