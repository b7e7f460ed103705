"""A stand-in for gunicorn's app in the gate's upstream tests: it answers every path after
`?sleep_s=` seconds and counts how many requests it holds at once (`/_max`, `/_reset`).

Run under real gunicorn with many threads, so that without the gate's bound it would take
far more requests at once than the gate allows.
"""

import threading
import time
from urllib.parse import parse_qs

_lock = threading.Lock()
_now = 0
_max = 0


def app(environ, start_response):
    global _now, _max
    path = environ["PATH_INFO"]
    if path == "/_max":
        return _text(start_response, str(_max))
    if path == "/_reset":
        with _lock:
            _max = 0
        return _text(start_response, "0")
    sleep_s = float((parse_qs(environ.get("QUERY_STRING", "")).get("sleep_s") or ["0"])[0])
    with _lock:
        _now += 1
        _max = max(_max, _now)
    try:
        time.sleep(sleep_s)
    finally:
        with _lock:
            _now -= 1
    return _text(start_response, f"{environ['REQUEST_METHOD']} {path} "
                                 f"xff={environ.get('HTTP_X_FORWARDED_FOR', '')}")


def _text(start_response, body: str):
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(data)))])
    return [data]
