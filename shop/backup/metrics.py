"""The drill's result as Prometheus gauges, so an alert can watch restores that stop working.

Written to a node-exporter textfile, or pushed to a Pushgateway from the drill's CronJob.
`..._last_success_timestamp_seconds` is only sent by a verified drill, so "no success for a
day" fires whether drills fail, crash or stop running at all.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway, write_to_textfile

from shop.backup.errors import BackupError

JOB = "peakshop_backup_drill"


def _registry(report) -> CollectorRegistry:
    registry = CollectorRegistry()

    def gauge(name: str, help_text: str, value: float) -> None:
        Gauge(f"peakshop_backup_drill_{name}", help_text, registry=registry).set(value)

    now = time.time()
    gauge("last_run_timestamp_seconds", "When the last restore drill ended.", now)
    gauge("verified", "1 when the last drill restored and verified the backup, else 0.",
          1 if report is not None and report.verified else 0)
    if report is not None:
        gauge("rpo_seconds", "Age of the newest restorable point when the drill began.",
              report.rpo_s)
        gauge("rto_seconds", "Seconds the drill took to restore the database.", report.rto_s)
        gauge("orders_checked", "Orders the last drill verified.", report.orders_checked)
        gauge("orders_missing", "Orders the last drill found missing.", report.orders_missing)
        if report.verified:
            gauge("last_success_timestamp_seconds", "When a drill last verified a restore.",
                  now)
    return registry


def publish(report, textfile: str | None, pushgateway: str | None) -> None:
    """Write and/or push the result; `report` None means the drill could not restore."""
    if not textfile and not pushgateway:
        return
    registry = _registry(report)
    if textfile:
        try:
            write_to_textfile(textfile, registry)
        except OSError as problem:
            raise BackupError(f"cannot write {textfile} ({problem.strerror}): give "
                              "--textfile a writable path") from None
    if pushgateway:
        try:
            # POST, not PUT: the last success stays when a failed drill pushes without it.
            pushadd_to_gateway(pushgateway, job=JOB, registry=registry, timeout=10)
        except OSError as problem:
            raise BackupError(f"cannot push to the Pushgateway at {pushgateway} ({problem}):"
                              " check --pushgateway") from None
