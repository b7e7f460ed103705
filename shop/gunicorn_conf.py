"""gunicorn settings for the storefront, from the environment (see also ./gunicorn.conf.py)."""

import os

bind = os.environ.get("PEAKSHOP_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PEAKSHOP_WEB_WORKERS", "2"))
threads = int(os.environ.get("PEAKSHOP_WEB_THREADS", "1"))
# Sync workers answer CPU-bound pages fastest; threads help only when requests wait on I/O
# (a slow payment gateway), so they are opt-in.
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("PEAKSHOP_WEB_TIMEOUT_S", "30"))
# Kubernetes sends SIGTERM on every scale-down: let in-flight checkouts finish.
graceful_timeout = int(os.environ.get("PEAKSHOP_WEB_GRACE_S", "25"))
keepalive = 5
pidfile = os.environ.get("PEAKSHOP_PIDFILE") or None
accesslog = os.environ.get("PEAKSHOP_ACCESS_LOG") or None
wsgi_app = "shop.wsgi:app"
# The app is imported once in the master and forked: a worker added on SIGTTIN serves within
# milliseconds instead of spending a second of CPU importing the app in the middle of a peak.
# (Code changes then need a restart, not a SIGHUP.)
preload_app = True


def post_fork(server, worker):
    from shop.wsgi import app

    app.extensions["peakshop"].database.forget_inherited_connections()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
# gunicorn >= 25.1 opens a control socket at one machine-wide default path; every storefront
# on the host would share it, and the scaler steers gunicorn with TTIN/TTOU signals anyway.
control_socket_disable = True
# gunicorn's largest request line (its default is 4094): the app refuses URLs past 4096
# characters itself, as a 414 problem+json rather than gunicorn's HTML page.
limit_request_line = 8190


def when_ready(server):
    # The master serves /metrics on PEAKSHOP_METRICS_BIND (when set), apart from the workers.
    from shop.core.metrics import serve_metrics_port
    from shop.wsgi import app

    serve_metrics_port(app)
# Access lines without tokens (the order page's URL carries one) or Authorization values.
logger_class = "shop.core.logging.RedactingAccessLogger"
