"""gunicorn's workers as the storefront runs them: a client that stops sending lets go of
its worker, and the requests gunicorn refuses itself are answered in problem+json.

A sync worker serves one connection at a time. A client that sends part of a request and
then nothing (a stalled phone, or someone doing it on purpose) held that worker until
gunicorn's timeout killed it 30 s later, and two of them stalled the default two workers,
health checks included. Here each read of a request waits at most
PEAKSHOP_WEB_READ_TIMEOUT_S for its next bytes; then the client gets 408 and the worker moves
on. (Behind the gate, `peakshop serve --gate`, or an Ingress that buffers requests, the
workers never meet a slow client at all; this is the floor without one.)

gunicorn answers what it cannot parse (a request line or headers too long, a control
character in a header) before the app sees it, in HTML; the API answers every error as
application/problem+json, so these are too. What it finds wrong in a chunked body (a chunk
size like `zz`, a chunk without its CRLF) it only finds while the app reads the body: those
reach the app as a werkzeug 400, answered like any other bad request.
"""

from __future__ import annotations

import json
import os
import socket

from gunicorn import util
from gunicorn.http.errors import ParseException
from gunicorn.workers import sync
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker
from werkzeug.exceptions import BadRequest, RequestTimeout

from shop.core.problem_json import PROBLEM_JSON, problem_body
from shop.core.settings import positive_number

DEFAULT_READ_TIMEOUT_S = 5.0


class ClientStalled(RequestTimeout):
    """The client sent nothing for the read timeout in the middle of its request. A werkzeug
    HTTPException, so a stall while the app reads the body is answered by the app's own
    error handlers (problem+json on the API, a page elsewhere)."""

    def __init__(self, timeout_s: float):
        super().__init__(f"the request stopped arriving: nothing was received for "
                         f"{timeout_s:g} s; send the whole request without pausing")


class MalformedChunkedBody(BadRequest):
    """gunicorn found the body's chunked framing broken while the app read it. A werkzeug
    HTTPException, so every route answers it (problem+json on the API, a page elsewhere),
    whatever reads the body: JSON, a form, a CSV file."""

    def __init__(self, problem: ParseException):
        super().__init__(f"the request's chunked body is malformed ({str(problem)[:100]}): "
                         "send a valid chunked body or a Content-Length")


class _FramingCheckedBody:
    """gunicorn's `wsgi.input`, whose framing errors are raised as MalformedChunkedBody:
    raised as gunicorn's own exceptions, the app took them for a bug and answered 500."""

    def __init__(self, body):
        self._body = body

    def _checked(self, read, *args):
        try:
            return read(*args)
        except ParseException as problem:
            raise MalformedChunkedBody(problem) from None

    def read(self, size=None) -> bytes:
        return self._checked(self._body.read, size)

    def readline(self, size=None) -> bytes:
        return self._checked(self._body.readline, size)

    def readlines(self, hint=None) -> list[bytes]:
        return self._checked(self._body.readlines, hint)

    def __iter__(self):
        return iter(self.readline, b"")


def with_framing_checked(app):
    """The WSGI app, reading its bodies through _FramingCheckedBody."""
    def app_with_framing_checked(environ, start_response):
        environ["wsgi.input"] = _FramingCheckedBody(environ["wsgi.input"])
        return app(environ, start_response)
    return app_with_framing_checked


class _StallAwareSocket(socket.socket):
    """A client connection whose reads time out as ClientStalled while the request is read;
    once gunicorn starts closing it (shutdown, then draining), a timeout is just a timeout."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            if getattr(self, "closing", False):
                raise
            raise ClientStalled(self.gettimeout()) from None

    def sendall(self, data, flags: int = 0) -> None:
        # A timeout bounds a whole sendall, not its pauses: a large answer to a slow
        # reader would be cut off. Writing stays as gunicorn has it, blocking.
        timeout = self.gettimeout()
        self.settimeout(None)
        try:
            super().sendall(data, flags)
        finally:
            self.settimeout(timeout)

    def shutdown(self, how: int) -> None:
        self.closing = True
        super().shutdown(how)


def read_timeout_s() -> float:
    """PEAKSHOP_WEB_READ_TIMEOUT_S (checked with the other settings before gunicorn starts)."""
    value = os.environ.get("PEAKSHOP_WEB_READ_TIMEOUT_S")
    return positive_number(value) if value else DEFAULT_READ_TIMEOUT_S


def write_problem(client: socket.socket, status: int, reason: str, detail: str) -> None:
    """gunicorn's error answer (`gunicorn.util.write_error`), as a problem+json body."""
    if status >= 500:
        detail = "the server failed on this request: retry, and report it if it persists"
    elif not detail:
        detail = reason
    code = reason.lower().replace(" ", "_").replace("-", "_")
    body = json.dumps(problem_body(status, code, reason, detail)).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(client, head.encode("latin-1") + body)


class _ProblemAnswers:
    """What both worker kinds share: a stall answered 408, gunicorn's refusals (which it
    classifies: 400, 414, 431, ...) written as problem+json, a broken chunked body a 400."""

    def init_process(self):
        # gunicorn's workers write every error answer through this one function.
        util.write_error = write_problem
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = with_framing_checked(self.wsgi)

    def handle_error(self, req, client, addr, exc):
        if not isinstance(exc, ClientStalled):
            return super().handle_error(req, client, addr, exc)
        self.log.info("A client stalled mid-request, ip=%s: %s", (addr or ("",))[0],
                      exc.description)
        try:
            write_problem(client, 408, "Request Timeout", exc.description)
        except OSError:
            self.log.debug("Failed to send the 408.")


class SyncWorker(_ProblemAnswers, sync.SyncWorker):
    read_timeout_s = DEFAULT_READ_TIMEOUT_S

    def init_process(self):
        self.read_timeout_s = read_timeout_s()
        super().init_process()

    def handle(self, listener, client, addr):
        stall_aware = _StallAwareSocket(client.family, client.type, client.proto,
                                        fileno=client.detach())
        stall_aware.settimeout(self.read_timeout_s)
        super().handle(listener, stall_aware, addr)


class ThreadWorker(_ProblemAnswers, GunicornThreadWorker):
    """With threads a stalled client holds one thread, not the worker: only the answers."""
