"""gunicorn settings for the storefront, from the environment (see also ./gunicorn.conf.py)."""

import os

bind = os.environ.get("PEAKSHOP_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PEAKSHOP_WEB_WORKERS", "2"))
threads = int(os.environ.get("PEAKSHOP_WEB_THREADS", "1"))
# Sync workers answer CPU-bound pages fastest; threads help only when requests wait on I/O
# (a slow payment gateway), so they are opt-in.
worker_class = ("shop.core.web_workers.ThreadWorker" if threads > 1
                else "shop.core.web_workers.SyncWorker")
timeout = int(os.environ.get("PEAKSHOP_WEB_TIMEOUT_S", "30"))
# Kubernetes sends SIGTERM on every scale-down: let in-flight checkouts finish.
graceful_timeout = int(os.environ.get("PEAKSHOP_WEB_GRACE_S", "25"))
keepalive = 5
pidfile = os.environ.get("PEAKSHOP_PIDFILE") or None
accesslog = os.environ.get("PEAKSHOP_ACCESS_LOG") or None


def _log_format() -> dict:
    """gunicorn's own lines in the storefront's format (JSON lines unless PEAKSHOP_LOG_JSON is
    false), so one terminal or one log pipeline reads a single format."""
    as_json = os.environ.get("PEAKSHOP_LOG_JSON", "true").strip().lower() not in (
        "0", "false", "no", "off")
    if as_json:
        return {"()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "asctime": "time"}}
    return {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}


logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"peakshop": _log_format()},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "peakshop",
                            "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        # Access lines only where PEAKSHOP_ACCESS_LOG asks for them, written by gunicorn's own
        # handler to that file; without it a logging config alone would turn them on.
        **({} if accesslog else {"gunicorn.access": {"level": "CRITICAL", "handlers": [],
                                                     "propagate": False}}),
    },
    "root": {"level": "WARNING", "handlers": ["stderr"]},
}
wsgi_app = "shop.wsgi:app"
# The app is imported once in the master and forked: a worker added on SIGTTIN serves within
# milliseconds instead of spending a second of CPU importing the app in the middle of a peak.
# (Code changes then need a restart, not a SIGHUP.)
preload_app = True


def post_fork(server, worker):
    from shop.wsgi import app

    app.extensions["peakshop"].database.forget_inherited_connections()


def worker_abort(worker):
    # gunicorn aborts (SIGABRT) a worker silent for `timeout` seconds; its own line names only
    # the pid. Where each of the worker's threads stood is the clue to why it hung (a lock
    # copied held at fork, a query, a peer that never answers): one record, in the log's format.
    worker.log.critical("worker %s aborted (no sign of life within the %s s timeout); its "
                        "threads were at:\n%s", worker.pid, worker.cfg.timeout, thread_stacks())


def thread_stacks() -> str:
    """Every thread's stack in this process, most recent call last, named as threading knows
    it (the main thread's top frames are the signal handler that asked for them)."""
    import sys
    import threading
    import traceback

    names = {thread.ident: thread.name for thread in threading.enumerate()}
    return "\n".join(f"Thread {names.get(ident, ident)}:\n" + "".join(traceback.format_stack(frame))
                     for ident, frame in sys._current_frames().items())


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
    settings = app.extensions["peakshop"].settings
    if settings.publish_backlog or settings.follow_cpu_limit:
        # For the scaler on Kubernetes: this pod's listen backlog, and its in-place resizes.
        from shop.core.pod_agent import start_pod_agent

        start_pod_agent(server, settings)
# Access lines without tokens (the order page's URL carries one) or Authorization values.
logger_class = "shop.core.logging.RedactingAccessLogger"
