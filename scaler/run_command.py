"""`peakshop scaler run`: build settings from flags, wire signals, policy and actuator, loop.

This is the edge: the only module that reads flags and the environment and picks concrete
classes. Everything below it gets what it needs passed in.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import click

from common.redis_url import client_from_url
from scaler.actuators import Actuator, ActuatorError
from scaler.controller import Controller, Policy
from scaler.metrics import ScalerMetrics
from scaler.settings import ScalerConfigError, ScalerSettings, build_settings
from scaler.signals import LiveSignals
from scaler.signals.exposition import ExpositionQueue, ExpositionScraper, ExpositionTraffic

log = logging.getLogger("peakshop.scaler")


class OneLineErrors(click.Command):
    """A command whose bad flags print one `Error: ...` line (exit 2), without the usage block."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            error.ctx = None  # click prints the usage block only when it knows the context
            raise


class BadSetting(click.ClickException):
    """A setting that cannot work: `Error: <what and the fix>` on one line, exit status 2."""

    exit_code = 2


def build_actuator(settings: ScalerSettings) -> Actuator:
    """The actuator for `settings.target`."""
    if settings.target == "kubernetes":
        from kubernetes import client

        from scaler.actuators.kubernetes import KubernetesActuator, api_client, default_identity
        from scaler.actuators.lease import LeaseElector

        api = api_client(settings.kubeconfig)
        identity = default_identity()
        elector = LeaseElector(client.CoordinationV1Api(api), settings.namespace,
                               settings.lease_name, identity, settings.lease_duration_s)
        return KubernetesActuator(api, settings.namespace, settings.web_deployment,
                                  settings.worker_deployment, elector, identity,
                                  max_pod_size=settings.max_pod_size)
    from scaler.actuators.local import GunicornWorkers, LocalActuator, WorkerPool

    return LocalActuator(GunicornWorkers(Path(settings.gunicorn_pidfile)),
                         WorkerPool(settings.worker_command, env=os.environ))


def build_signals(settings: ScalerSettings, actuator: Actuator,
                  metrics: ScalerMetrics) -> LiveSignals:
    """Traffic from Prometheus or the storefront's /metrics, queue from Redis or /metrics."""
    scraper = ExpositionScraper(settings.metrics_url)
    cpu = None
    if settings.prometheus_url:
        from scaler.signals.prometheus import PrometheusClient, PrometheusCpu, PrometheusTraffic

        prometheus = PrometheusClient(settings.prometheus_url)
        traffic = PrometheusTraffic(prometheus, int(settings.window_s),
                                    settings.prometheus_selector)
        if settings.target == "kubernetes":
            cpu = PrometheusCpu(prometheus, settings.namespace, settings.web_deployment)
    else:
        traffic = ExpositionTraffic(scraper, settings.window_s)
    if settings.redis_url:

        from scaler.signals.queue import RedisStreamQueue

        queue = RedisStreamQueue(client_from_url(settings.redis_url, socket_timeout=5,
                                                      socket_connect_timeout=2))
    else:
        queue = ExpositionQueue(scraper)
    backlog = None
    if settings.target == "local":
        from scaler.actuators.local import LocalActuator
        from scaler.signals.procfs import ChildrenCpu, ListenBacklog

        if isinstance(actuator, LocalActuator):
            cpu = ChildrenCpu(actuator.gunicorn.master_pid)
        # The storefront serves its /metrics on the port shoppers use: its listen socket.
        backlog = ListenBacklog(urlparse(settings.metrics_url).port or 80)
    return LiveSignals(traffic, queue, actuator.replicas, cpu, backlog=backlog,
                       latency_slo_s=settings.latency_slo_s, recorder=metrics)


def build_push(settings: ScalerSettings, actuator: Actuator):
    """The storefront's listen backlog, heard every second between rounds: locally from its
    socket, on Kubernetes from what the web pods publish to Redis (with their busy workers:
    a push past 0.92 of the SLO capacity by a second's noise, `judge_arrivals`, the rule the
    simulator's pods run). None with --no-push, or on Kubernetes without Redis to read it
    from."""
    if not settings.push:
        return None
    from scaler.signals.push import BacklogPush

    if settings.target == "kubernetes":
        if not settings.redis_url:
            log.warning("no push: the web pods publish their listen backlogs to Redis, and "
                        "no PEAKSHOP_REDIS_URL / --redis-url is set")
            return None
        from scaler.signals.push import PublishedBacklog

        backlog = PublishedBacklog(client_from_url(settings.redis_url, socket_timeout=2,
                                                   socket_connect_timeout=2))
    else:
        from scaler.signals.procfs import ListenBacklog

        backlog = ListenBacklog(urlparse(settings.metrics_url).port or 80)
        if settings.redis_url:
            # The storefront's master may publish its busy workers there: a push before
            # anything queues (PushRule).
            from scaler.signals.push import PublishedBacklog, SocketAndPublished

            backlog = SocketAndPublished(backlog, PublishedBacklog(client_from_url(
                settings.redis_url, socket_timeout=2, socket_connect_timeout=2)))
    return BacklogPush(backlog, actuator.replicas, settings.capacity.pod_max_rps,
                       slo_utilization=settings.capacity.slo_utilization)


def build_policy(settings: ScalerSettings) -> Policy:
    """The policy named by --policy, built exactly as the simulator builds it."""
    if settings.policy == "hpa-cpu":
        from scaler.policy.baselines import HpaCpuPolicy

        return HpaCpuPolicy(settings.capacity, settings.bounds)
    if settings.policy == "keda-queue":
        from scaler.policy.baselines import KedaQueuePolicy

        return KedaQueuePolicy(settings.capacity, settings.bounds)
    from scaler.live_policy import peakshop_policy

    try:
        return peakshop_policy(settings)
    except ScalerConfigError as error:
        raise BadSetting(str(error)) from None


def run_until_stopped(controller: Controller) -> None:
    """Run the loop until SIGTERM or SIGINT, then return."""
    from common.stop_signals import stop_signals

    def announce(signum: int) -> None:
        log.info("received %s: stopping after this round", signal.Signals(signum).name)

    with stop_signals(on_stop=announce) as stop:
        controller.run(stop)


@click.command("run", cls=OneLineErrors)
@click.option("--target", type=click.Choice(["local", "kubernetes"]), required=True,
              help="Scale gunicorn and local worker processes, or Kubernetes Deployments.")
@click.option("--policy", type=click.Choice(["peakshop", "hpa-cpu", "keda-queue"]),
              help="Who decides (default peakshop); the baselines run as in the simulator.")
@click.option("--dry-run", is_flag=True, help="Decide and record, but change nothing.")
@click.option("--period", type=float, help="Seconds between decisions (default: the "
              "policy's own period, 15 s for peakshop and hpa-cpu, 30 s for keda-queue).")
@click.option("--metrics-url", help="The storefront's /metrics "
              "(default http://127.0.0.1:8000/metrics).")
@click.option("--prometheus", help="Prometheus base URL: read traffic with PromQL instead.")
@click.option("--prometheus-selector", help='Extra PromQL matchers, e.g. namespace="shop".')
@click.option("--redis-url", help="Read the order queue here (default PEAKSHOP_REDIS_URL; "
              "without either, from the storefront's /metrics).")
@click.option("--namespace", help="Kubernetes namespace (default: the pod's own, or default).")
@click.option("--web-deployment", help="Storefront Deployment (default peakshop-web).")
@click.option("--worker-deployment", help="Order-worker Deployment (default peakshop-worker).")
@click.option("--kubeconfig", help="kubeconfig file when not running in a pod.")
@click.option("--events", help="Announced events CSV (minute,name,extra_peaks,duration_min).")
@click.option("--events-from", help="The shop's base URL: poll its announced events "
              "(GET /api/v1/ops/events, token from PEAKSHOP_OPS_TOKEN) and record the plans.")
@click.option("--events-poll-s", type=float, help="Seconds between polls (default 60).")
@click.option("--history", help="Rate history CSV for the forecast.")
@click.option("--season-start", help="Local date of minute 0 of the events and history files "
              "(default: 1 October of the current season), e.g. 2025-10-01.")
@click.option("--gunicorn-pidfile", help="Pidfile of the storefront's gunicorn master "
              "(default $PEAKSHOP_PIDFILE, else $PEAKSHOP_INSTANCE_PATH/gunicorn.pid).")
@click.option("--worker-command", help="Command line of one order worker "
              "(default: `peakshop worker` run by this Python).")
@click.option("--min-replicas", type=int, help="Lower bound per Deployment.")
@click.option("--max-replicas", type=int, help="Upper bound per Deployment.")
@click.option("--pod-max-rps", type=float, help="Requests/s that saturate one storefront "
              "replica (default 40 on kubernetes, 150 per gunicorn worker locally).")
@click.option("--worker-orders-per-s", type=float, help="Orders one order worker confirms "
              "per second (default 5 on kubernetes, 200 locally).")
@click.option("--startup", type=float, help="Seconds from asking for a replica to it serving "
              "(default 45 on kubernetes, 5 locally).")
@click.option("--window", type=float, help="Seconds of traffic a rate averages (default 30).")
@click.option("--latency-slo", type=float, help="p95 latency SLO in seconds (default 0.5).")
@click.option("--no-push", is_flag=True, help="Do not listen to the storefront's listen "
              "backlog between rounds (decide on the scrapes only); on Kubernetes the web pods "
              "publish it to Redis (PEAKSHOP_PUBLISH_BACKLOG=true).")
@click.option("--max-pod-size", type=float, help="On Kubernetes (>= 1.33), let running web "
              "pods grow in place to this many times their template's CPU while new pods "
              "start (default 1: no resize); the pods follow with gunicorn workers "
              "(PEAKSHOP_FOLLOW_CPU_LIMIT=true).")
@click.option("--scaler-metrics-port", type=int,
              help="Port of the scaler's own /metrics (default 9102, 0 for none).")
def run(**flags) -> None:
    """Run the scaler's control loop until SIGTERM or Ctrl-C."""
    try:
        settings = build_settings(flags, os.environ)
    except ScalerConfigError as error:
        raise BadSetting(str(error)) from None
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
    policy = build_policy(settings)
    if flags.get("period") is None:
        settings = dataclasses.replace(settings, period_s=float(policy.period_s))
    metrics = ScalerMetrics()
    try:
        actuator = build_actuator(settings)
    except ActuatorError as error:
        raise BadSetting(str(error)) from None
    try:
        signals = build_signals(settings, actuator, metrics)
        if settings.scaler_metrics_port:
            try:
                # Three missed periods mean the loop is stuck: let the kubelet restart it.
                port = metrics.serve(settings.scaler_metrics_port,
                                     stale_after_s=3 * settings.period_s + 30)
            except OSError as error:
                raise BadSetting(
                    f"--scaler-metrics-port {settings.scaler_metrics_port} is not free "
                    f"({error.strerror}): pick another or 0 for none") from None
            log.info("scaler metrics on :%d/metrics", port)
        controller = Controller(signals, policy, actuator, settings.controller_settings(),
                                metrics, push=build_push(settings, actuator))
        poller = getattr(policy, "poller", None)
        if poller is not None:
            stop_polling = threading.Event()
            threading.Thread(target=poller.run, args=(stop_polling,), daemon=True,
                             name="shop-events").start()
        run_until_stopped(controller)
        if poller is not None:
            stop_polling.set()
    finally:
        actuator.close()
        metrics.close()
