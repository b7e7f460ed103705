"""Settings of one order worker: a frozen dataclass read once from flags and the environment.

Like the shared settings, a malformed value stops start-up with one line naming the
variable and the fix.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shop.core.settings import ConfigError, positive_int, positive_number, read_environment


@dataclass(frozen=True)
class WorkerSettings:
    consumer: str  # this worker's name in the consumer group; unique per live worker
    heartbeat_file: str
    batch_size: int = 200  # entries per XREADGROUP / XAUTOCLAIM, confirmed in one transaction
    block_ms: int = 2000  # how long a read waits for new entries; bounds shutdown latency
    # Entries pending this long belong to a worker presumed dead and are taken over. Must
    # exceed the slowest batch, or a live worker's batch is processed twice (harmlessly).
    claim_min_idle_ms: int = 60_000
    grace_s: float = 20.0  # after SIGTERM: finish the batch within this, or leave it
    max_deliveries: int = 5  # a message failing this often goes to the dead-letter stream
    relay_interval_s: float = 1.0
    mail_interval_s: float = 1.0
    expire_interval_s: float = 30.0
    orphan_interval_s: float = 60.0
    orphan_after_s: float = 300.0  # paid this long, not in the queue: queued again
    mail_retry_base_s: float = 30.0
    mail_retry_max_s: float = 3600.0
    # A mail claimed by a worker that died mid-send is tried again after this long.
    mail_lease_s: float = 120.0
    heartbeat_max_age_s: float = 60.0  # `--check` fails when the heartbeat is older
    metrics_port: int | None = None  # serve this worker's own counters for Prometheus
    webhook_interval_s: float = 2.0  # outage webhooks waiting in the outbox are sent this often
    burn_rate_interval_s: float = 30.0  # the SLO burn-rate rule is evaluated this often
    # Shoppers' e-mails and addresses on closed orders older than this are anonymised.
    personal_data_retention_days: int = 730
    privacy_interval_s: float = 3600.0


def _positive_float(value: str) -> float:
    # The shared check: a finite number of seconds, as no wait or clock can take `inf`.
    return positive_number(value)


def _port(value: str) -> int:
    port = positive_int(value)
    if port > 65535:
        raise ValueError(f"is not a TCP port (1-65535): got {value!r}")
    return port


def _name(value: str) -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"must be a non-empty name without spaces: got {value!r}")
    return value


ENVIRONMENT = {
    "PEAKSHOP_WORKER_NAME": ("consumer", _name),
    "PEAKSHOP_WORKER_HEARTBEAT_FILE": ("heartbeat_file", _name),
    "PEAKSHOP_WORKER_BATCH_SIZE": ("batch_size", positive_int),
    "PEAKSHOP_WORKER_BLOCK_MS": ("block_ms", positive_int),
    "PEAKSHOP_WORKER_CLAIM_IDLE_MS": ("claim_min_idle_ms", positive_int),
    "PEAKSHOP_WORKER_GRACE_S": ("grace_s", _positive_float),
    "PEAKSHOP_WORKER_MAX_DELIVERIES": ("max_deliveries", positive_int),
    "PEAKSHOP_WORKER_RELAY_INTERVAL_S": ("relay_interval_s", _positive_float),
    "PEAKSHOP_WORKER_MAIL_INTERVAL_S": ("mail_interval_s", _positive_float),
    "PEAKSHOP_WORKER_EXPIRE_INTERVAL_S": ("expire_interval_s", _positive_float),
    "PEAKSHOP_WORKER_ORPHAN_INTERVAL_S": ("orphan_interval_s", _positive_float),
    "PEAKSHOP_WORKER_ORPHAN_AFTER_S": ("orphan_after_s", _positive_float),
    "PEAKSHOP_MAIL_RETRY_BASE_S": ("mail_retry_base_s", _positive_float),
    "PEAKSHOP_MAIL_RETRY_MAX_S": ("mail_retry_max_s", _positive_float),
    "PEAKSHOP_MAIL_LEASE_S": ("mail_lease_s", _positive_float),
    "PEAKSHOP_WORKER_HEARTBEAT_MAX_AGE_S": ("heartbeat_max_age_s", _positive_float),
    "PEAKSHOP_WORKER_METRICS_PORT": ("metrics_port", _port),
    "PEAKSHOP_WORKER_WEBHOOK_INTERVAL_S": ("webhook_interval_s", _positive_float),
    "PEAKSHOP_WORKER_BURN_RATE_INTERVAL_S": ("burn_rate_interval_s", _positive_float),
    "PEAKSHOP_PERSONAL_DATA_RETENTION_DAYS": ("personal_data_retention_days", positive_int),
    "PEAKSHOP_WORKER_PRIVACY_INTERVAL_S": ("privacy_interval_s", _positive_float),
}


def default_heartbeat_file(instance_path: str) -> str:
    return os.path.join(os.path.abspath(instance_path), "worker.heartbeat")


def load_worker_settings(instance_path: str, environ: Mapping[str, str] | None = None,
                         overrides: Mapping[str, Any] | None = None) -> WorkerSettings:
    """Defaults, then the environment, then `overrides` (flags, tests). Raises ConfigError."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {
        # Pod names are unique; the pid keeps several workers on one machine apart.
        "consumer": f"{socket.gethostname()}-{os.getpid()}",
        "heartbeat_file": default_heartbeat_file(instance_path),
    }
    values.update(read_environment(environ, ENVIRONMENT))
    values.update({key: value for key, value in (overrides or {}).items() if value is not None})
    known = {field.name for field in dataclasses.fields(WorkerSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown worker setting(s) {', '.join(unknown)}")
    settings = WorkerSettings(**values)
    if settings.block_ms >= 5000:
        # The Redis client gives up on a reply after 5 s; a longer block would look like
        # an outage.
        raise ConfigError(f"PEAKSHOP_WORKER_BLOCK_MS must be below 5000: got {settings.block_ms}")
    return settings
