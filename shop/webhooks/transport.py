"""POST a webhook to the addresses the SSRF guard checked, and nowhere else.

A plain HTTP client would resolve the host name again when it connects, and a hostile DNS
server could answer differently the second time (DNS rebinding) to reach our own network.
So the connection goes to the checked IP address, while the Host header and, for https, the
TLS server name and certificate check use the host name from the URL (urllib3's
`server_hostname` and `assert_hostname`). Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3


@dataclass(frozen=True)
class Answer:
    status_code: int


def post_pinned(url: str, addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
                body: bytes, headers: dict[str, str], *, timeout_s: float,
                ca_certs: str | None = None) -> Answer:
    """POST `body` to `url` through the first of `addresses` that accepts a connection.

    Raises urllib3's HTTPError (connection refused, timeout, TLS failure) when none does.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = host if ":" not in host else f"[{host}]"
    if parts.port:
        host_header += f":{parts.port}"
    timeout = urllib3.Timeout(connect=min(5.0, timeout_s), read=timeout_s)
    last_error: Exception | None = None
    for address in addresses:
        if https:
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                str(address), port, timeout=timeout, retries=False, cert_reqs="CERT_REQUIRED",
                ca_certs=ca_certs, server_hostname=host, assert_hostname=host)
        else:
            pool = urllib3.HTTPConnectionPool(str(address), port, timeout=timeout,
                                              retries=False)
        try:
            response = pool.urlopen("POST", target, body=body,
                                    headers={**headers, "Host": host_header},
                                    redirect=False, retries=False, preload_content=False)
            # Only the status matters; read a little so the connection ends cleanly.
            response.read(64 * 1024)
            response.release_conn()
            return Answer(response.status)
        except urllib3.exceptions.NewConnectionError as problem:
            last_error = problem  # try the next address, as a browser would
        finally:
            pool.close()
    assert last_error is not None
    raise last_error
