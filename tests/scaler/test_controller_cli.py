"""`peakshop scaler run`: bad flags stop it with one line and exit status 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from scaler.cli import scaler
from scaler.settings import build_settings


@pytest.mark.parametrize("arguments, message", [
    (["--target", "nowhere"], "'nowhere' is not one of 'local', 'kubernetes'"),
    (["--target", "local", "--period", "abc"], "'abc' is not a valid float"),
    (["--target", "local", "--period", "0"], "--period must be more than 0 seconds"),
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
    result = CliRunner().invoke(scaler, ["run", "--target", "kubernetes",
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
    assert cluster.controller_settings().period_s == 10
