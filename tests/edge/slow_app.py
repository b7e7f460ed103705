"""A stand-in for gunicorn's app in the gate's upstream tests: it answers every path after
`?sleep_s=` seconds and counts how many requests it holds at once (`/_max`, `/_reset`).
Like the storefront it tells the gate the time it spent (`ServiceTimeHeader`); `?lag_s=`
holds the answer's body back that long after it did, time the gate's clock counts and
gunicorn's does not (as the pauses a CPU limit puts between gunicorn's requests).

Run under real gunicorn with many threads, so that without the gate's bound it would take
far more requests at once than the gate allows.
"""

import threading
import time
from urllib.parse import parse_qs

from shop.waiting_room.service_time import ServiceTimeHeader

_lock = threading.Lock()
_now = 0
_max = 0


def _app(environ, start_response):
    global _now, _max
    path = environ["PATH_INFO"]
    if path == "/_max":
        return _text(start_response, str(_max))
    if path == "/_reset":
        with _lock:
            _max = 0
        return _text(start_response, "0")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    sleep_s = float((query.get("sleep_s") or ["0"])[0])
    lag_s = float((query.get("lag_s") or ["0"])[0])
    with _lock:
        _now += 1
        _max = max(_max, _now)
    try:
        time.sleep(sleep_s)
    finally:
        with _lock:
            _now -= 1
    answer = _text(start_response, f"{environ['REQUEST_METHOD']} {path} "
                                   f"xff={environ.get('HTTP_X_FORWARDED_FOR', '')}")
    return _lagging(answer, lag_s) if lag_s else answer


def _lagging(chunks: list[bytes], lag_s: float):
    time.sleep(lag_s)
    yield from chunks


def _text(start_response, body: str):
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(data)))])
    return [data]


app = ServiceTimeHeader(_app)
