"""gunicorn's own time per request, told to the gate in front of it.

The gate judges gunicorn's load to open and slow the waiting room. Timed from the gate, a
request's time includes the gate's own event-loop lag, which during a surge (the gate
answering every arrival and refresh of the line) is most of it: the gate would report
overload while gunicorn idles. So the gate asks (request header `SERVICE_TIME_ASKED`), and
the app answers with the seconds it spent on the request (response header `SERVICE_TIME`),
which the gate strips before the answer goes on. A request that does not ask gets no header.
"""

from __future__ import annotations

import time

SERVICE_TIME_ASKED = "Peakshop-Gate-Timing"
SERVICE_TIME = "Peakshop-Service-Time"
_ASKED_ENVIRON = "HTTP_" + SERVICE_TIME_ASKED.upper().replace("-", "_")


class ServiceTimeHeader:
    """WSGI middleware: the time from the request's arrival in the app to its status and
    headers (Flask has then built the whole answer), in seconds, when asked."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if _ASKED_ENVIRON not in environ:
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()

        def timed_start_response(status, headers, exc_info=None):
            headers = [*headers, (SERVICE_TIME, f"{time.perf_counter() - started:.6f}")]
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, timed_start_response)


def told_service_time(value: str | None) -> float | None:
    """The seconds in a `SERVICE_TIME` header; None when absent or not a plain duration."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0.0 <= seconds < 3600.0 else None
