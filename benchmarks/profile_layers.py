"""What every request pays: the per-layer CPU of a few requests, profiled in-process.

    python -m benchmarks.profile_layers [--database sqlite|postgresql] [--requests 3000]
                                        [--request product-json ...] [--top 0]

The app is built as gunicorn builds it (file-backed Prometheus metrics, the same WSGI
middleware) and called through its WSGI entry with a prebuilt environ, copied per call, so
that neither a server nor a test client is counted. For each request it prints the CPU
milliseconds per request unprofiled (best of three rounds), then a cProfile (CPU time) of
the same requests cut into layers: each layer's share of the profile, and that share of
the unprofiled CPU (the profiler inflates call-heavy code, so the milliseconds are
estimates; the shares are what to compare before and after). `--top N` adds the
profile's top functions; `--summary` only measures. Flask's hello-world
(`benchmarks.hello_app`) is measured the same way as the yardstick.

Requests: the product's JSON and page read warm (answered from the rendered memo), the same
JSON revalidated (304), the product JSON rendered by Flask (no memo: every layer of a cold
read), an add to cart (`PUT /api/v1/carts/{id}/items/BENCH`, every layer of a write) and a
checkout with the dummy gateway (each call a cart of its own, filled beforehand: its CPU is
the whole checkout, both statements and the three Redis round trips).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from collections.abc import Callable

from werkzeug.test import EnvironBuilder

# (layer, file's base name, function name): a layer's cost is the cumulative time of its
# functions (the outermost of each; none of them calls another layer's).
LAYERS: list[tuple[str, str, str]] = [
    ("WSGI middleware: private-when-personal", "http_cache.py", "keep_personal_private"),
    ("WSGI middleware: private-when-personal", "http_cache.py", "_kept_private"),
    ("waiting room: FastLine's path match", "gate.py", "api_browse"),
    ("waiting room: the room's decision", "revalidation.py", "may_answer"),
    ("waiting room: the room's decision", "gate.py", "load_level"),
    ("waiting room: the room's decision", "gate.py", "room"),
    ("waiting room: Flask hook", "gate.py", "before"),
    ("waiting room: Flask hook", "gate.py", "after"),
    ("URL matching", "map.py", "bind_to_environ"),
    ("URL matching", "map.py", "match"),
    ("URL matching", "early_revalidation.py", "_match"),
    ("freshness facts: the database read", "direct_statements.py", "first"),
    ("freshness facts: the ETag digest", "freshness.py", "freshness"),
    ("Flask contexts (push and pop)", "ctx.py", "push"),
    ("Flask contexts (push and pop)", "ctx.py", "pop"),
    ("rendered memo", "early_revalidation.py", "get"),
    ("metrics", "early_revalidation.py", "_count"),
    ("metrics", "metrics.py", "record"),
    ("metrics", "metrics.py", "start_timer"),
    ("metrics", "metrics.py", "settle_in_flight"),
    ("request id", "logging.py", "request_id_for"),
    ("request id", "logging.py", "assign_request_id"),
    ("request id", "logging.py", "echo_request_id"),
    ("security headers", "security.py", "_harden"),
    ("hostile-input guard", "edge.py", "refuse_hostile_input"),
    ("limiter (its hooks)", "security.py", "only_when_limited"),
    ("session", "sessions.py", "open_session"),
    ("session", "sessions.py", "save_session"),
    ("SLO counting", "traffic.py", "count"),
    ("SLO counting", "revalidation.py", "__call__"),
    ("request validation (spectree)", "spectree.py", "validate"),
    ("request validation (spectree)", "flask_plugin.py", "validate"),
    ("HTTP date and validators", "http.py", "http_date"),
    ("HTTP date and validators", "http.py", "is_resource_modified"),
]


def environ_for(method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> Callable[[], dict]:
    """A function giving a fresh copy of one request's WSGI environ, as gunicorn hands it."""
    built = EnvironBuilder(method=method, path=path, base_url="http://127.0.0.1:8000",
                           headers=headers or {}, data=body,
                           content_type="application/json" if body else None).get_environ()
    built["SERVER_SOFTWARE"] = "gunicorn/bench"  # as under gunicorn (the load level is read)
    built.pop("wsgi.input")

    def fresh() -> dict:
        environ = dict(built)
        environ["wsgi.input"] = io.BytesIO(body or b"")
        return environ

    return fresh


def call(app, environ: dict) -> str:
    sent = []
    answer = app(environ, lambda status, headers, exc_info=None: sent.append(status))
    for _ in answer:
        pass
    if hasattr(answer, "close"):
        answer.close()
    return sent[0]


def checkouts(shop, count: int) -> Callable[[], dict]:
    """Fresh environs of `POST /api/v1/carts/{id}/checkout`, each for a cart of its own (one
    BENCH), `count` of them."""
    from benchmarks.checkout_profile import CHECKOUT_BODY, filled_carts

    body = json.dumps(CHECKOUT_BODY).encode()
    template = environ_for("POST", "/api/v1/carts/-/checkout", body=body)
    paths = iter([f"/api/v1/carts/{cart}/checkout" for cart in filled_carts(shop, count)])

    def fresh() -> dict:
        environ = template()
        environ["PATH_INFO"] = next(paths)
        return environ

    return fresh


def cpu_per_request(app, make_environ: Callable[[], dict], count: int) -> float:
    rounds = []
    for _ in range(3):
        started = time.process_time()
        for _ in range(count):
            call(app, make_environ())
        rounds.append(1000 * (time.process_time() - started) / count)
    return min(rounds)


def layers_of(profile: cProfile.Profile) -> tuple[float, dict[str, float]]:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in stats.values())
    by_layer: dict[str, float] = {}
    for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
        base = os.path.basename(filename)
        for layer, layer_file, layer_function in LAYERS:
            if base == layer_file and function == layer_function:
                by_layer[layer] = by_layer.get(layer, 0.0) + cumulative
    return total, by_layer


def report(name: str, app, make_environ: Callable[[], dict], count: int, top: int,
           summary: bool = False) -> None:
    expected = call(app, make_environ())
    for _ in range(100):
        assert call(app, make_environ()) == expected
    cpu_ms = cpu_per_request(app, make_environ, count)
    if summary:
        print(f"{name} ({expected}): {cpu_ms:.3f} ms CPU per request")
        return
    profile = cProfile.Profile(time.process_time)
    environs = [make_environ() for _ in range(count)]
    profile.enable()
    for environ in environs:
        call(app, environ)
    profile.disable()
    total, by_layer = layers_of(profile)
    print(f"\n== {name} ({expected}): {cpu_ms:.3f} ms CPU per request")
    for layer, seconds in sorted(by_layer.items(), key=lambda item: -item[1]):
        share = seconds / total
        print(f"  {layer:42} {100 * share:5.1f} %  ~{share * cpu_ms:.3f} ms")
    if top:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats("cumulative").print_stats(top)
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--request", action="append",
                        choices=["hello", "product-json", "product-html", "product-json-304",
                                 "product-json-cold", "add-to-cart", "checkout"])
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--summary", action="store_true",
                        help="no profile: each request's CPU ms, best of 3 rounds")
    args = parser.parse_args()
    # As under gunicorn: metrics file-backed (set before the app builds them).
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="peakshop-prom-"))
    from benchmarks.hello_app import app as hello_app
    from benchmarks.inprocess import bench_shop
    from benchmarks.profile_reads import seed
    from shop.core.early_revalidation import RENDERED_EXTENSION
    from shop.status import slo_batch

    wanted = args.request or ["hello", "product-json", "product-html", "product-json-304",
                              "product-json-cold", "add-to-cart", "checkout"]
    print(f"in-process, {args.database}, {args.requests} requests per round")
    if "hello" in wanted:
        report("hello-world (Flask)", hello_app, environ_for("GET", "/"), args.requests,
               args.top, args.summary)
    with bench_shop(args.database, "layers") as shop:
        seed(shop, 1, images=False)
        app, slug = shop.app, shop.slug
        product = f"/api/v1/shops/{slug}/products/BENCH"
        etag = shop.client.get(product).headers["ETag"]
        requests = {
            "product-json": environ_for("GET", product),
            "product-html": environ_for("GET", f"/shops/{slug}/products/BENCH"),
            "product-json-304": environ_for("GET", product, {"If-None-Match": etag}),
        }
        for name, make_environ in requests.items():
            if name in wanted:
                report(name, app, make_environ, args.requests, args.top, args.summary)
        if "product-json-cold" in wanted:
            memo = app.extensions[RENDERED_EXTENSION]
            kept, memo.max_bytes = memo.max_bytes, 0  # every read rendered by Flask
            report("product-json-cold", app, requests["product-json"], args.requests,
                   args.top, args.summary)
            memo.max_bytes = kept
        if "add-to-cart" in wanted:
            cart = shop.client.post(f"/api/v1/shops/{slug}/carts").get_json()["cart_id"]
            report("add-to-cart", app, environ_for(
                "PUT", f"/api/v1/carts/{cart}/items/BENCH", body=b'{"quantity": 2}'),
                args.requests, args.top, args.summary)
        if "checkout" in wanted:
            # Three measured rounds, the warm-up, and the profiled round.
            report("checkout", app, checkouts(shop, 4 * args.requests + 101), args.requests,
                   args.top, args.summary)
        slo_batch.flush_all()  # while Redis still runs


if __name__ == "__main__":
    main()
