"""Two gate processes in front of the real storefront (`peakshop serve --gate` with
PEAKSHOP_GATE_PROCESSES=2, one sync gunicorn worker, a real redis-server, real HTTP).

Both listen on the public port (SO_REUSEPORT) and the kernel spreads new connections over
them; they keep one line between them (it lives in Redis); stopping the first stops the
other and gunicorn, and a gate process that dies takes the rest down with a failure status
rather than leaving a pod that answers only some of its connections.
"""

import json
import os
import signal

import psutil
import pytest
import redis
import requests
from prometheus_client.mmap_dict import MmapedDict

from shop.core.migrate import upgrade
from tests.edge.test_room_at_the_edge import fill_line
from tests.support.live import LiveServer
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def gate_pair(tmp_path, gate_redis):
    redis.Redis.from_url(gate_redis.url).flushall()
    database_url = f"sqlite:///{tmp_path / 'peakshop.sqlite3'}"
    upgrade(database_url)
    server = LiveServer.start(database_url=database_url, redis_url=gate_redis.url,
                              instance_path=str(tmp_path / "instance"), workers=1,
                              extra_env={"PEAKSHOP_GATE": "true", "PEAKSHOP_LOG_JSON": "false",
                                         "PEAKSHOP_GATE_PROCESSES": "2",
                                         "PEAKSHOP_GATE_UPSTREAM": f"127.0.0.1:{free_port()}"})
    server.metrics_dir = tmp_path / "instance" / "metrics"
    yield server
    server.stop()


@pytest.fixture
def pair_shop(gate_pair):
    from tests.edge.conftest import GatedShop

    signed_up = requests.post(f"{gate_pair.url}/api/v1/merchants", json={
        "name": "Pair Shop", "email": "pair@example.com", "password": "long enough"})
    assert signed_up.status_code == 201, signed_up.text
    body = signed_up.json()
    shop = GatedShop(body["merchant"]["slug"], {"Authorization": f"Bearer {body['token']}"})
    created = requests.post(f"{gate_pair.url}/api/v1/shops/{shop.slug}/products",
                            headers=shop.auth, json={
                                "sku": "MUG", "name": "Reindeer mug",
                                "price": {"amount": 1250, "currency": "EUR"}, "stock": 20})
    assert created.status_code == 201, created.text
    return shop


def gate_processes(server) -> list[psutil.Process]:
    """The first gate process (`peakshop serve`) and the gate processes it forked."""
    first = psutil.Process(server.process.pid)
    with open(server.pidfile) as handle:
        gunicorn = int(handle.read().strip())
    return [first, *(child for child in first.children() if child.pid != gunicorn)]


def waiting_answers_by(metrics_dir, pid: int) -> float:
    """The waiting answers process `pid` gave, from its own counter file (each process of
    the pod writes its own: prometheus_client's multiprocess mode)."""
    path = os.path.join(metrics_dir, f"counter_{pid}.db")
    if not os.path.exists(path):
        return 0.0
    return sum(value for key, value, *_ in MmapedDict.read_all_values_from_file(path)
               if json.loads(key)[0] == "peakshop_http_requests"
               and '"503"' in key)


def test_two_gate_processes_share_the_port_and_one_line(gate_pair, pair_shop):
    gates = gate_processes(gate_pair)
    assert len(gates) == 2
    port = int(gate_pair.url.rsplit(":", 1)[1])
    for gate in gates:
        listening = [c for c in gate.net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
        assert listening, f"gate process {gate.pid} does not listen on {port}"

    fill_line(gate_pair, pair_shop)
    product = f"{gate_pair.url}/api/v1/shops/{pair_shop.slug}/products/MUG"
    # One new connection per request: the kernel picks a gate process for each.
    answers = [requests.get(product, headers={"Connection": "close"}) for _ in range(60)]
    assert {answer.status_code for answer in answers} == {503}
    assert {answer.json()["code"] for answer in answers} == {"waiting_room"}
    positions = [answer.json()["position"] for answer in answers]
    assert positions == sorted(positions) and len(set(positions)) == 60   # one line, FIFO
    by_process = [waiting_answers_by(gate_pair.metrics_dir, gate.pid) for gate in gates]
    assert all(count > 0 for count in by_process), by_process
    assert sum(by_process) >= 60

    # A place taken at one gate process is kept at either.
    ticket = answers[0].headers["Peakshop-Waiting-Room"]
    again = [requests.get(product, headers={"Connection": "close",
                                            "Peakshop-Waiting-Room": ticket})
             for _ in range(10)]
    assert {answer.json()["position"] for answer in again} == {positions[0]}


def test_stopping_the_first_gate_process_stops_the_other_and_gunicorn(gate_pair):
    gates = gate_processes(gate_pair)
    with open(gate_pair.pidfile) as handle:
        gunicorn = psutil.Process(int(handle.read().strip()))
    assert gate_pair.stop() == 0
    assert not gunicorn.is_running()
    assert not any(gate.is_running() for gate in gates)


def test_a_gate_process_that_dies_stops_the_pod_with_a_failure(gate_pair):
    first, other = gate_processes(gate_pair)
    with open(gate_pair.pidfile) as handle:
        gunicorn = psutil.Process(int(handle.read().strip()))
    other.send_signal(signal.SIGKILL)
    assert gate_pair.process.wait(timeout=60) == 1
    assert not gunicorn.is_running()
