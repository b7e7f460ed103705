"""`peakshop up`, the Quick start's first command, on a machine with no Redis configured."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.support.api import ADDRESS
from tests.support.servers import free_port


@pytest.fixture
def peakshop_up(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PEAKSHOP_", "PROMETHEUS_"))}
    env.update(PEAKSHOP_BIND=f"127.0.0.1:{port}", PEAKSHOP_LOG_JSON="false")
    # Run from an empty folder, as a new user would: the default instance is ./instance.
    process = subprocess.Popen([sys.executable, "-m", "peakshop.cli", "up"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
    yield process, f"http://127.0.0.1:{port}", lines, tmp_path
    if process.poll() is None:
        # Stopped the way a user would; killed only if that fails (a SIGKILLed `up` cannot
        # stop its daemonized embedded Redis, which is then reaped below).
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for leftover in everything_started_by(process.pid, tmp_path / "instance"):
        leftover.kill()
    process.stdout.close()


def test_up_serves_the_demo_shop_confirms_orders_and_stops_cleanly(peakshop_up):
    process, url, lines, folder = peakshop_up
    output = "".join(lines)
    assert f"peakshop is up: {url}/" in output, output
    assert (folder / "instance" / "peakshop.sqlite3").exists()
    slug = next(line.split("/shops/")[1].split("/")[0] for line in lines
                if "shop:" in line and "/shops/" in line)

    api = url + "/api/v1"
    cart = requests.post(f"{api}/shops/{slug}/carts").json()["cart_id"]
    assert requests.put(f"{api}/carts/{cart}/items/LEBKUCHEN",
                        json={"quantity": 2}).status_code == 200
    order = requests.post(f"{api}/carts/{cart}/checkout", headers={"Idempotency-Key": "up-1"},
                          json={"email": "s@example.com", "shipping_address": ADDRESS,
                                "payment": {"gateway": "dummy", "token": "tok_ok"}}).json()
    assert order["status"] == "paid"
    # The order worker started by `up` (through the scaler's pool) confirms it.
    auth = {"Authorization": f"Bearer {order['access_token']}"}
    deadline = time.monotonic() + 90
    status = None
    while time.monotonic() < deadline:
        status = requests.get(f"{api}/orders/{order['order_id']}", headers=auth).json()["status"]
        if status == "confirmed":
            break
        time.sleep(0.5)
    assert status == "confirmed"

    started = everything_started_by(process.pid, folder / "instance")
    assert any("redis-server" in " ".join(p.cmdline()) for p in started), started
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    process.wait(timeout=60)
    rest = process.stdout.read()
    assert process.returncode == 0, rest
    assert "peakshop stopped" in rest
    assert "Traceback" not in rest and "BrokenPipeError" not in rest, rest
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/healthz", timeout=2)
    assert survivors(started) == []


def everything_started_by(pid: int, instance) -> list[psutil.Process]:
    """`up`'s descendants, and the embedded redis-server (it daemonizes, so its parent is
    init; it is found by its working directory, the instance folder)."""
    try:
        family = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for candidate in psutil.process_iter(["cwd"]):
        if candidate.info["cwd"] == str(instance.resolve()) and candidate.pid != pid:
            family.append(candidate)
    return family


def survivors(processes: list[psutil.Process], grace_s: float = 15.0) -> list[str]:
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    return [" ".join(p.cmdline()) or str(p.pid) for p in alive if p.status() != "zombie"]


def test_up_exits_non_zero_and_leaves_nothing_when_a_child_dies(peakshop_up):
    process, url, lines, folder = peakshop_up
    started = everything_started_by(process.pid, folder / "instance")
    gunicorn = next(p for p in started if "serve" in p.cmdline())
    gunicorn.kill()
    process.wait(timeout=60)
    rest = process.stdout.read()
    assert process.returncode == 1, rest
    assert "exited with status" in rest
    assert survivors(started) == []


def test_up_refuses_a_port_that_is_taken(peakshop_up, tmp_path):
    """A second `up` on the same address says so and exits, instead of reporting success
    against the first one."""
    _, url, _, _ = peakshop_up
    env = {key: value for key, value in os.environ.items() if not key.startswith("PEAKSHOP_")}
    env["PEAKSHOP_BIND"] = url.removeprefix("http://")
    second = subprocess.run([sys.executable, "-m", "peakshop.cli", "up"], cwd=tmp_path / "..",
                            env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert "already in use" in second.stderr and "PEAKSHOP_BIND" in second.stderr
    assert "peakshop is up" not in second.stdout


def test_an_event_announced_on_up_reaches_the_scaler_before_its_crowd(peakshop_up):
    """The merchant announces a launch two minutes ahead through the API; `up`'s scaler reads
    it from the shop, records its plan on the event and adds web workers before it starts."""
    import datetime as dt
    import threading

    process, url, lines, folder = peakshop_up
    output = "".join(lines)
    slug = next(line.split("/shops/")[1].split("/")[0] for line in lines if "shop:" in line)
    token = next(line.split("merchant token:")[1].strip() for line in lines
                 if "merchant token:" in line)
    # The scaler keeps logging to the same pipe: read it, or it would block on a full pipe.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    auth = {"Authorization": f"Bearer {token}"}
    starts_at = dt.datetime.now(dt.timezone(dt.timedelta(hours=1))) + dt.timedelta(minutes=2)
    created = requests.post(f"{url}/api/v1/shops/{slug}/events", headers=auth, json={
        "name": "Midnight doorbuster", "starts_at": starts_at.isoformat(timespec="seconds"),
        "duration_min": 30, "expected_peak_rps": 400})
    assert created.status_code == 201, created.text

    def planned_by_scaler():
        items = requests.get(f"{url}/api/v1/shops/{slug}/events", headers=auth).json()["items"]
        plan = items[0]["planned_capacity"]
        return plan if plan and plan.get("source") == "scaler" else None

    plan = wait_for(planned_by_scaler, 90, "the scaler's plan on the event", output)
    assert plan["web_replicas"] > 1, plan
    assert dt.datetime.fromisoformat(plan["ready_by"]) <= starts_at
    master = psutil.Process(int((folder / "instance" / "gunicorn.pid").read_text()))
    wait_for(lambda: len(master.children()) >= plan["web_replicas"], 60,
             "web workers added for the event", output)
    assert dt.datetime.now(dt.UTC) < starts_at, "ready only after the crowd came"


def wait_for(condition, deadline_s: float, what: str, output: str):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what}: not seen within {deadline_s:.0f} s\n{output[-2000:]}")
