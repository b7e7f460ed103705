"""What the gate forwards and answers, header by header (pure functions), and its settings."""

import os
import subprocess
import sys

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from shop.core.settings import ConfigError, load_settings
from shop.edge.proxy import downstream_headers, keep_private, upstream_headers
from shop.edge.settings import check_upstream, load_gate_settings


def headers(*pairs):
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_hop_by_hop_headers_stay_on_their_hop_and_the_rest_passes():
    sent = upstream_headers(headers(
        ("Host", "shop.example"), ("Connection", "keep-alive, X-Secret-Hop"),
        ("X-Secret-Hop", "1"), ("Transfer-Encoding", "chunked"), ("Cookie", "a=1"),
        ("Authorization", "Bearer t"), ("Peakshop-Waiting-Room", "ticket")), "10.0.0.7", 0,
        "http")
    assert sent["Host"] == "shop.example" and sent["Cookie"] == "a=1"
    assert sent["Authorization"] == "Bearer t" and sent["Peakshop-Waiting-Room"] == "ticket"
    for gone in ("Connection", "X-Secret-Hop", "Transfer-Encoding"):
        assert gone not in sent


@pytest.mark.parametrize(("hops", "incoming", "expected"), [
    (0, [], "10.0.0.7"),
    (0, ["6.6.6.6"], "10.0.0.7"),                     # nobody in front is trusted
    (1, ["203.0.113.9"], "203.0.113.9, 10.0.0.7"),    # the balancer's view, then ours
    (1, ["6.6.6.6, 203.0.113.9"], "6.6.6.6, 203.0.113.9, 10.0.0.7"),
])
def test_the_client_address_is_appended_as_proxy_hops_says(hops, incoming, expected):
    sent = upstream_headers(headers(*(("X-Forwarded-For", value) for value in incoming),
                                    ("X-Forwarded-Proto", "https")), "10.0.0.7", hops, "http")
    assert sent.getall("X-Forwarded-For") == [expected]
    assert sent["X-Forwarded-Proto"] == ("http" if hops == 0 else "https")


def test_every_set_cookie_comes_back_and_hop_headers_do_not():
    kept = downstream_headers(headers(("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                                      ("Connection", "close"), ("Content-Length", "3")))
    assert kept.getall("Set-Cookie") == ["a=1", "b=2"]
    assert "Connection" not in kept and kept["Content-Length"] == "3"


@pytest.mark.parametrize(("stated", "expected"), [
    ("public, max-age=5, stale-while-revalidate=10", "private, no-store"),
    (None, "private, no-store"),
    ("private, no-store", "private, no-store"),
    ("no-store", "no-store"),
])
def test_an_answer_carrying_a_pass_is_never_for_a_shared_cache(stated, expected):
    answer = CIMultiDict({"Cache-Control": stated} if stated else {})
    keep_private(answer)
    assert answer["Cache-Control"] == expected


def test_settings_name_the_bad_variable_and_the_fix(tmp_path):
    app = load_settings({"PEAKSHOP_INSTANCE_PATH": str(tmp_path),
                         "PEAKSHOP_BIND": "127.0.0.1:8000"})
    assert load_gate_settings(app, {"PEAKSHOP_WEB_WORKERS": "3"}).upstream_concurrency == 6
    with pytest.raises(ConfigError, match="PEAKSHOP_GATE_UPSTREAM_CONCURRENCY .*greater than 0"):
        load_gate_settings(app, {"PEAKSHOP_GATE_UPSTREAM_CONCURRENCY": "0"})
    with pytest.raises(ConfigError, match="PEAKSHOP_GATE_UPSTREAM is not HOST:PORT"):
        load_gate_settings(app, {"PEAKSHOP_GATE_UPSTREAM": "8001"})
    with pytest.raises(ConfigError, match="the gate's own address"):
        check_upstream(load_gate_settings(app, {"PEAKSHOP_GATE_UPSTREAM": "127.0.0.1:8000"}))


@pytest.mark.parametrize(("command", "variable", "value", "message"), [
    (["gate"], "PEAKSHOP_GATE_UPSTREAM_CONCURRENCY", "many", "is not a whole number"),
    (["gate"], "PEAKSHOP_GATE_UPSTREAM", "127.0.0.1:8000", "the gate's own address"),
    (["serve", "--gate"], "PEAKSHOP_GATE_UPSTREAM_TIMEOUT_S", "-1", "must be a number above 0"),
    (["serve"], "PEAKSHOP_GATE", "perhaps", "must be true or false"),
])
def test_a_bad_gate_setting_is_one_line_and_status_2(tmp_path, command, variable, value,
                                                     message):
    completed = subprocess.run(
        [sys.executable, "-m", "peakshop.cli", *command], capture_output=True, text=True,
        timeout=60, env={**os.environ, "PEAKSHOP_BIND": "127.0.0.1:8000",
                         "PEAKSHOP_REDIS_URL": "redis://127.0.0.1:1/0",
                         "PEAKSHOP_INSTANCE_PATH": str(tmp_path), variable: value})
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and message in lines[0], completed.stderr
