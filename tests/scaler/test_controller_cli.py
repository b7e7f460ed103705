"""`peakshop scaler run`: bad flags stop it with one line and exit status 2; a real run stops
cleanly on SIGTERM."""

from __future__ import annotations

import datetime
import os
import shlex
import signal
import subprocess
import sys

import pytest
import requests
from click.testing import CliRunner

from scaler.cli import scaler
from scaler.settings import build_settings, season_start
from scaler.signals import procfs
from tests.scaler import live_fixtures
from tests.scaler.live_fixtures import free_port, order_worker_command, wait_until

# The real servers these tests run against, as this module's fixtures.
gunicorn_server = live_fixtures.gunicorn_server


@pytest.mark.parametrize("arguments, message", [
    (["--target", "nowhere"], "'nowhere' is not one of 'local', 'kubernetes'"),
    (["--target", "local", "--period", "abc"], "'abc' is not a valid float"),
    (["--target", "local", "--period", "0"], "--period must be more than 0 and at most 3600"),
    (["--target", "local", "--period", "nan"], "--period must be more than 0"),
    (["--target", "local", "--period", "inf"], "--period must be more than 0"),
    (["--target", "local", "--window", "0"], "--window must be more than 0"),
    (["--target", "local", "--window", "1e9"], "--window must be more than 0"),
    (["--target", "local", "--latency-slo", "0"], "--latency-slo must be more than 0"),
    (["--target", "local", "--latency-slo", "-1"], "--latency-slo must be more than 0"),
    (["--target", "local", "--min-replicas", "5", "--max-replicas", "2"],
     "--max-replicas (2) is below --min-replicas (5)"),
    (["--target", "local", "--min-replicas", "0"], "--min-replicas must be at least 1"),
    (["--target", "local", "--metrics-url", "localhost:8000"],
     "--metrics-url is not an http:// URL"),
    (["--target", "local", "--events", "/no/such/events.csv"],
     "--events '/no/such/events.csv' does not exist"),
    (["--target", "local", "--scaler-metrics-port", "70000"],
     "--scaler-metrics-port must be 0..65535"),
    (["--target", "local", "--no-such-flag"], "No such option '--no-such-flag'"),
    (["--target", "local", "--pod-max-rps", "0"], "--pod-max-rps must be more than 0"),
    (["--target", "kubernetes", "--worker-orders-per-s", "-5"],
     "--worker-orders-per-s must be more than 0"),
    (["--target", "local", "--startup", "-1"], "--startup must be 0 or more"),
    (["--target", "local", "--startup", "nan"], "--startup must be 0 or more"),
    (["--target", "local", "--pod-max-rps", "inf"], "--pod-max-rps must be more than 0"),
    (["--target", "kubernetes", "--max-pod-size", "0.5"], "--max-pod-size must be from 1"),
    (["--target", "kubernetes", "--max-pod-size", "nan"], "--max-pod-size must be from 1"),
    (["--target", "kubernetes", "--max-pod-size", "100"], "--max-pod-size must be from 1"),
    (["--target", "local", "--max-pod-size", "2"],
     "--max-pod-size is for --target kubernetes"),
])
def test_bad_flags_print_one_line_and_exit_2(arguments, message):
    result = CliRunner().invoke(scaler, ["run", *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output


def test_bad_redis_url_in_the_environment_is_named():
    result = CliRunner().invoke(scaler, ["run", "--target", "local"],
                                env={"PEAKSHOP_REDIS_URL": "localhost:6379"})
    assert result.exit_code == 2
    assert "PEAKSHOP_REDIS_URL is not a redis:// URL" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unusable_kubeconfig_is_one_line_with_the_fix(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}\n")
    result = CliRunner().invoke(scaler, ["run", "--target", "kubernetes", "--policy", "hpa-cpu",
                                         "--kubeconfig", str(kubeconfig),
                                         "--namespace", "shop"])
    assert result.exit_code == 2
    assert "--kubeconfig PATH" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_settings_defaults_per_target():
    local = build_settings({"target": "local"}, {"PEAKSHOP_PIDFILE": "/run/peakshop.pid"})
    assert local.gunicorn_pidfile == "/run/peakshop.pid"
    assert local.min_replicas == 1
    assert local.period_s == 15
    cluster = build_settings({"target": "kubernetes", "namespace": "shop", "period": 10},
                             {"PEAKSHOP_REDIS_URL": "redis://redis:6379/0"})
    assert (cluster.min_replicas, cluster.max_replicas) == (2, 200)
    assert cluster.redis_url == "redis://redis:6379/0"
    assert cluster.lease_duration_s == 30
    assert cluster.policy == "peakshop"
    assert cluster.controller_settings().period_s == 10


def test_the_listen_backlog_is_heard_on_both_targets_unless_told_not_to():
    from scaler.actuators.local import GunicornWorkers, LocalActuator, WorkerPool
    from scaler.run_command import build_push
    from scaler.signals.push import BacklogPush, PublishedBacklog

    local = build_settings({"target": "local"}, {})
    quiet = build_settings({"target": "local", "no_push": True}, {})
    cluster = build_settings({"target": "kubernetes", "namespace": "shop"},
                             {"PEAKSHOP_REDIS_URL": "redis://127.0.0.1:1/0"})
    cluster_quiet = build_settings({"target": "kubernetes", "namespace": "shop",
                                    "no_push": True},
                                   {"PEAKSHOP_REDIS_URL": "redis://127.0.0.1:1/0"})
    no_redis = build_settings({"target": "kubernetes", "namespace": "shop"}, {})
    assert (local.push, quiet.push, cluster.push, cluster_quiet.push) == (
        True, False, True, False)
    actuator = LocalActuator(GunicornWorkers("instance/gunicorn.pid"), WorkerPool(["true"]))
    push = build_push(local, actuator)
    assert isinstance(push, BacklogPush)
    assert push.backlog.port == 8000 and push.pod_max_rps == local.capacity.pod_max_rps
    assert build_push(quiet, actuator) is None
    # On Kubernetes the web pods' published backlogs, read from Redis (built, not connected).
    pushed = build_push(cluster, actuator)
    assert isinstance(pushed, BacklogPush) and isinstance(pushed.backlog, PublishedBacklog)
    assert pushed.pod_max_rps == cluster.capacity.pod_max_rps == 40.0
    assert build_push(cluster_quiet, actuator) is None
    assert build_push(no_redis, actuator) is None   # nowhere to read it from: logged, no push


def test_the_live_policy_gets_the_levers_the_simulator_gives_the_same_platform():
    """Levers on (the settings judged with push and resize) only with both; the in-pod
    bound reaches the policy as it is given."""
    from scaler.live_policy import peakshop_policy
    from scaler.policy.settings import WITHOUT_LEVERS

    def policy_settings(**flags):
        return peakshop_policy(build_settings({"target": "kubernetes", "namespace": "shop",
                                               **flags}, {})).settings

    plain = policy_settings()
    assert plain.max_pod_size == 1.0
    assert plain.scale_down_window_s == WITHOUT_LEVERS["scale_down_window_s"]
    resized = policy_settings(max_pod_size=2.0)
    assert resized.max_pod_size == 2.0
    assert resized.scale_down_window_s != WITHOUT_LEVERS["scale_down_window_s"]
    no_push = policy_settings(max_pod_size=2.0, no_push=True)
    assert no_push.max_pod_size == 2.0
    assert no_push.scale_down_window_s == WITHOUT_LEVERS["scale_down_window_s"]


def test_replica_capacity_defaults_per_target_and_flags_replace_them():
    local = build_settings({"target": "local"}, {})
    cluster = build_settings({"target": "kubernetes", "namespace": "shop"}, {})
    # The cluster default is the simulator's pod, so live and simulated runs size alike.
    assert (cluster.capacity.pod_max_rps, cluster.capacity.worker_orders_per_s,
            cluster.capacity.startup_s) == (40.0, 5.0, 45.0)
    # A local gunicorn worker carries more than a simulated pod and starts far sooner.
    assert local.capacity.pod_max_rps > cluster.capacity.pod_max_rps
    assert local.capacity.startup_s < cluster.capacity.startup_s
    measured = build_settings({"target": "kubernetes", "namespace": "shop", "pod_max_rps": 95.5,
                               "worker_orders_per_s": 12, "startup": 0}, {})
    assert (measured.capacity.pod_max_rps, measured.capacity.worker_orders_per_s,
            measured.capacity.startup_s) == (95.5, 12.0, 0.0)


def test_the_live_policy_sizes_with_the_measured_capacity():
    from scaler.model import Observation
    from scaler.run_command import build_policy

    def web_pods_for(rate: float, **flags) -> int:
        settings = build_settings({"target": "kubernetes", "namespace": "shop", **flags}, {})
        policy = build_policy(settings)
        seen = Observation(at_s=1.0, request_rate=rate, latency_p95_s=0.05,
                           latency_within_slo=True, cpu_utilization=None, queue_backlog=0,
                           queue_oldest_age_s=0.0, orders_rate=0.0, web_ready=2,
                           web_requested=2, workers_ready=2, workers_requested=2)
        decision, _ = policy.decide(seen, policy.initial_state(2, 2))
        return decision.web.replicas

    assert web_pods_for(400.0) > web_pods_for(400.0, pod_max_rps=120.0) >= 2


@pytest.mark.slow
def test_run_scales_for_real_and_stops_cleanly_on_sigterm(gunicorn_server, tmp_path):
    """`peakshop scaler run --target local` as its own process, against a real gunicorn."""
    metrics_port = free_port()
    command = [sys.executable, "-m", "peakshop.cli", "scaler", "run", "--target", "local",
               "--policy", "keda-queue", "--period", "0.5", "--min-replicas", "1",
               "--max-replicas", "3", "--metrics-url", f"{gunicorn_server.url}/metrics",
               "--gunicorn-pidfile", str(gunicorn_server.pidfile),
               "--worker-command", shlex.join(order_worker_command(tmp_path)),
               "--scaler-metrics-port", str(metrics_port)]
    env = {key: value for key, value in os.environ.items() if key != "PEAKSHOP_REDIS_URL"}
    scaler_process = subprocess.Popen(command, env=env, cwd=tmp_path)
    try:
        def scaler_metrics() -> str:
            try:
                return requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
            except requests.RequestException:
                return ""

        wait_until(lambda: 'peakshop_scaler_decisions_total{deployment="workers"' in
                   scaler_metrics(), timeout_s=60, what="the scaler deciding")
        assert "peakshop_scaler_leader 1.0" in scaler_metrics()
        # keda-queue keeps the minimum of one order worker running.
        ready_files = wait_until(lambda: list(tmp_path.glob("ready-*")), timeout_s=60,
                                 what="an order worker starting")
        worker_pid = int(ready_files[0].name.removeprefix("ready-"))

        scaler_process.send_signal(signal.SIGTERM)
        assert scaler_process.wait(timeout=60) == 0
        wait_until(lambda: not procfs.is_alive(worker_pid), what="the order worker stopping")
    finally:
        if scaler_process.poll() is None:
            scaler_process.kill()
            scaler_process.wait()


@pytest.mark.parametrize("value, today, expected", [
    (None, datetime.date(2025, 12, 24), datetime.datetime(2025, 10, 1)),
    (None, datetime.date(2026, 1, 3), datetime.datetime(2025, 10, 1)),
    (None, datetime.date(2025, 10, 1), datetime.datetime(2025, 10, 1)),
    ("2024-10-01", datetime.date(2025, 12, 24), datetime.datetime(2024, 10, 1)),
])
def test_season_start_is_local_midnight_of_the_season(value, today, expected):
    assert season_start(value, today) == expected.timestamp()


def test_bad_season_start_names_the_format():
    result = CliRunner().invoke(scaler, ["run", "--target", "local", "--season-start", "Oct 1"])
    assert result.exit_code == 2
    assert "--season-start is not a date like 2025-10-01" in result.output


def test_the_live_peakshop_policy_learns_what_it_observes(tmp_path):
    """Each live reading is filed under its minute of the season before the policy decides."""
    from scaler.live_policy import peakshop_policy
    from scaler.model import Observation, Reason
    from scaler.settings import build_settings

    history_file = tmp_path / "history.csv"
    history_file.write_text("minute,rps,orders_per_s\n0,10.0,0.2\n")
    settings = build_settings({"target": "local", "history": str(history_file)}, environ={})
    policy = peakshop_policy(settings)
    state = policy.initial_state(2, 2)
    at = settings.season_origin_s + 90 * 60 + 5  # minute 90 of the season
    observation = Observation(at_s=at, request_rate=42.0, latency_p95_s=0.05,
                              latency_within_slo=True, cpu_utilization=0.3, queue_backlog=0,
                              queue_oldest_age_s=0.0, orders_rate=0.5, web_ready=2,
                              web_requested=2, workers_ready=2, workers_requested=2)
    decision, state = policy.decide(observation, state)
    assert decision.web.replicas >= 2
    assert policy.history.request_rate(0) == 10.0
    assert policy.history.request_rate(90) == 42.0
    # a push is one second's estimate of arrivals: decided on, not learnt from
    pushed = observation._replace(at_s=at + 60, request_rate=400.0, age_s=0.0, pushed=True)
    decision, state = policy.decide(pushed, state)
    assert decision.web.reason is Reason.PUSHED_BACKLOG
    assert policy.history.request_rate(91) is None


@pytest.mark.parametrize("policy", ["peakshop", "hpa-cpu", "keda-queue"])
def test_the_live_scaler_does_not_import_the_simulator(policy):
    """The live wiring builds every policy without loading `scaler.simulate`."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "from scaler.run_command import build_policy\n"
             "from scaler.settings import build_settings\n"
             f"build_policy(build_settings({{'target': 'local', 'policy': {policy!r}}}, {{}}))\n"
             "print(sorted(m for m in sys.modules if m.startswith('scaler.simulate')))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"
