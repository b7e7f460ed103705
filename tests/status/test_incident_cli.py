"""`peakshop incident open|update|resolve`, run as a real process against the database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def peakshop(database_url, tmp_path):
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PEAKSHOP_DATABASE_URL": database_url,
                   "PEAKSHOP_INSTANCE_PATH": str(tmp_path / "instance")}

    def run(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "peakshop.cli", "incident", *arguments],
                              env=environment, capture_output=True, text=True, timeout=120)
    return run


def test_open_update_resolve(peakshop, client):
    opened = peakshop("open", "--title", "Payments fail", "--component", "payments",
                      "--component", "checkout", "--impact", "outage",
                      "--message", "Card payments are refused.")
    assert opened.returncode == 0, opened.stderr
    first_line, text = opened.stdout.splitlines()[:2]
    incident_id = first_line.split()[1]
    assert first_line == f"incident {incident_id} (investigating): Payments fail"
    assert text.startswith("We are sorry. Payments and checkout are not working")
    status = client.get("/api/v1/status").get_json()
    assert status["status"] == "outage" and status["incidents"][0]["id"] == int(incident_id)

    updated = peakshop("update", incident_id, "--status", "monitoring",
                       "--message", "Payments go through again.")
    assert updated.returncode == 0, updated.stderr
    assert "(monitoring)" in updated.stdout
    resolved = peakshop("resolve", incident_id)
    assert resolved.returncode == 0, resolved.stderr
    assert "This is fixed: payments and checkout are working normally again." in resolved.stdout
    assert client.get("/api/v1/status").get_json()["status"] == "operational"

    again = peakshop("resolve", incident_id)
    assert again.returncode == 2
    assert again.stderr.strip().count("\n") == 0 and "already resolved" in again.stderr


@pytest.mark.parametrize("arguments, mentions", [
    (["open", "--title", "t", "--component", "checkout", "--message", "m",
      "--eta", "2001-01-01T00:00:00Z"], "in the past"),
    (["open", "--title", "t", "--component", "checkout", "--message", "m", "--shop", "nope"],
     "names no shop"),
    (["update", "424242", "--message", "m"], "no incident"),
    (["open", "--title", "T\x01", "--component", "checkout", "--message", "m"],
     "'title' holds a control character"),
    (["open", "--title", "t", "--component", "checkout", "--message", "m\x1b[31mred"],
     "'message' holds a control character (\\x1b)"),
])
def test_refusals_are_one_line(peakshop, arguments, mentions):
    result = peakshop(*arguments)
    assert result.returncode == 2
    assert result.stderr.startswith("peakshop incident: ") and mentions in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_an_unknown_component_is_refused_by_name(peakshop):
    result = peakshop("open", "--title", "t", "--component", "kitchen", "--message", "m")
    assert result.returncode == 2 and "'kitchen' is not one of" in result.stderr


def test_a_database_never_migrated_is_named_with_the_fix(tmp_path):
    environment = {**os.environ, "PYTHONPATH": str(ROOT),
                   "PEAKSHOP_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
                   "PEAKSHOP_INSTANCE_PATH": str(tmp_path / "instance")}
    result = subprocess.run([sys.executable, "-m", "peakshop.cli", "incident", "open",
                             "--title", "Slow", "--component", "checkout", "--message", "x"],
                            env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "peakshop incident: the database has no peakshop tables yet: run `peakshop db "
        "upgrade` first"]
