"""Structured JSON logs, each line carrying the request id of the request that wrote it.

No secret reaches a log line: bearer tokens, API tokens, order access tokens (also in the
order page's `?token=`), passwords and Stripe keys are redacted from the app's log records
and from gunicorn's access log alike.
"""

from __future__ import annotations

import logging
import os
import re
import sys

from flask import Flask, g, has_request_context, request
from gunicorn.glogging import Logger as GunicornLogger
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# A request id from the edge proxy is kept only if it is harmless to echo and log.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


REDACTED = "[redacted]"
_SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)\b(access_token|token|password|passwd|secret|api_key|key)"
                r"(=|%3D)[^&\s\"']+"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b(\"?(?:access_token|token|password|secret)\"?\s*[:=]\s*\"?)"
                r"[^\s\"',}]+"), rf"\1{REDACTED}"),
    (re.compile(r"\bpsk_[A-Za-z0-9_-]+"), f"psk_{REDACTED}"),
    (re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]+"), rf"\1_\2_{REDACTED}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9]+"), f"whsec_{REDACTED}"),
    # Order access tokens are 64 hex digits (an HMAC); so are token hashes: neither is news.
    (re.compile(r"\b[0-9a-f]{64}\b"), REDACTED),
]


def redact(text: str) -> str:
    """`text` with every secret it holds replaced by [redacted]."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrite a record's message, arguments included, without its secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class RedactingAccessLogger(GunicornLogger):
    """gunicorn's logger whose access lines carry no token from URLs or headers, written only
    where PEAKSHOP_ACCESS_LOG (gunicorn's `accesslog`) asks for them."""

    @property
    def access_log_enabled(self) -> bool:
        # gunicorn turns access lines on for any logging config, and `logconfig_dict` is only
        # there to give its own lines the storefront's format: every request would then build
        # and redact a line that the logging config throws away (0.25 ms of CPU each, half
        # of a hello-world's whole cost).
        return bool(self.cfg.accesslog)

    def access(self, resp, req, environ, request_time):
        if self.access_log_enabled:
            super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: redact(value) if isinstance(value, str) else value
                for name, value in atoms.items()}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


def configure(json_lines: bool, level: int = logging.INFO) -> None:
    """Send peakshop's logs to stderr, one JSON object per line when `json_lines`."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecrets())
    root = logging.getLogger("shop")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for name in ("scaler", "loadtests"):
        other = logging.getLogger(name)
        other.handlers[:] = [handler]
        other.setLevel(level)
        other.propagate = False


def init_app(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = request_id_for(incoming)

    @app.after_request
    def echo_request_id(response):
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response


def request_id_for(incoming: str) -> str:
    """The caller's request id when it is safe to echo and log, else a new one."""
    # fullmatch: `$` in a pattern would accept a trailing newline, which breaks the echoed
    # header and forges a log line.
    if incoming and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    # 128 random bits in 32 hex digits, as uuid4().hex without building a UUID (every request
    # without an id from the edge pays for it).
    return os.urandom(16).hex()
