"""The breach register: the 72-hour clock, decisions, and the export for the authority."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from shop.breaches.service import clock
from tests.status.conftest import OPS, not_plain

PATH = "/api/v1/ops/breaches"


def hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def record(client, **fields):
    body = {"title": "Exposed order export", "detected_at": hours_ago(1),
            "data_concerned": "names and postal addresses of shoppers", **fields}
    response = client.post(PATH, headers=OPS, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


NOW = datetime(2026, 12, 20, 12, 0)


@pytest.mark.parametrize("detected_h_ago, notified_h_ago, decision, overdue, late, left", [
    (1, None, "pending", False, False, 71.0),
    (71, None, "notify", False, False, 1.0),
    (73, None, "pending", True, False, -1.0),
    (73, None, "not_required", False, False, None),
    (100, 90, "notify", False, False, None),
    (100, 20, "notify", False, True, None),
])
def test_the_72_hour_clock(detected_h_ago, notified_h_ago, decision, overdue, late, left):
    detected = NOW - timedelta(hours=detected_h_ago)
    notified = None if notified_h_ago is None else NOW - timedelta(hours=notified_h_ago)
    state = clock(detected, notified, decision, NOW)
    assert state.deadline_at == detected + timedelta(hours=72)
    assert (state.overdue, state.notified_late, state.hours_left) == (overdue, late, left)


def test_a_breach_is_named_by_its_plain_digits_only(client):
    breach = record(client)
    for written in not_plain(breach["id"]):
        assert client.get(f"{PATH}/{written}", headers=OPS).status_code == 404, written
        patched = client.patch(f"{PATH}/{written}", headers=OPS, json={"measures": "x"})
        assert patched.status_code == 404, written
    kept = client.get(f"{PATH}/{breach['id']}", headers=OPS).get_json()
    assert kept["measures"] == breach["measures"]


def test_record_notify_and_list(client):
    breach = record(client, subjects_affected=1200)
    assert breach["decision"] == "pending" and breach["overdue"] is False
    assert 70 < breach["hours_left"] <= 71
    changed = client.patch(f"{PATH}/{breach['id']}", headers=OPS, json={
        "notified_at": hours_ago(0), "measures": "Bucket made private; keys rotated."})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["decision"] == "notify"
    assert changed.get_json()["hours_left"] is None
    listed = client.get(PATH, headers=OPS).get_json()
    assert [b["id"] for b in listed["items"]] == [breach["id"]] and listed["overdue"] == 0


def test_an_overdue_breach_is_flagged(client):
    record(client, detected_at=hours_ago(80), title="Old leak")
    listed = client.get(PATH, headers=OPS).get_json()
    assert listed["overdue"] == 1 and listed["items"][0]["overdue"] is True


@pytest.mark.parametrize("fields, mentions", [
    ({"detected_at": "yesterday"}, "'detected_at'"),
    ({"detected_at": "2099-01-01T00:00:00Z"}, "future"),
    ({"data_concerned": ""}, "'data_concerned'"),
    ({"decision": "maybe"}, "'decision'"),
    ({"decision": "not_required"}, "'decision_reason'"),
    ({"subjects_affected": -1}, "'subjects_affected'"),
    ({"subjects_affected": "many"}, "'subjects_affected'"),
    ({"colour": "red"}, "unknown field"),
])
def test_bad_records_are_422(client, fields, mentions):
    body = {"title": "t", "detected_at": hours_ago(1), "data_concerned": "e-mails", **fields}
    response = client.post(PATH, headers=OPS, json=body)
    assert response.status_code == 422, response.get_json()
    assert mentions in response.get_json()["detail"]
    assert client.get(PATH, headers=OPS).get_json()["items"] == []


def test_a_late_notification_needs_its_reasons(client):
    breach = record(client, detected_at=hours_ago(100))
    path = f"{PATH}/{breach['id']}"
    refused = client.patch(path, headers=OPS, json={"notified_at": hours_ago(0)})
    assert refused.status_code == 422 and "delay_reason" in refused.get_json()["detail"]
    accepted = client.patch(path, headers=OPS, json={
        "notified_at": hours_ago(0), "delay_reason": "The scope took four days to establish."})
    assert accepted.status_code == 200 and accepted.get_json()["notified_late"] is True
    before = client.patch(path, headers=OPS, json={"notified_at": hours_ago(200)})
    assert before.status_code == 422


def test_the_register_is_for_ops_only(client, shop):
    assert client.get(PATH).status_code == 401
    assert client.get(PATH, headers=shop.auth).status_code == 401
    assert client.get(f"{PATH}/abc", headers=OPS).status_code == 404
    assert client.patch(f"{PATH}/99999", headers=OPS, json={"title": "x"}).status_code == 404


def test_csv_export_for_the_authority_is_safe_to_open(client):
    record(client, title="=HYPERLINK(\"http://evil\")", data_concerned="+e-mail addresses")
    record(client, title="Lost laptop", detected_at=hours_ago(90))
    response = client.get(f"{PATH}/export", headers=OPS)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["title"] for row in rows] == ["'=HYPERLINK(\"http://evil\")", "Lost laptop"]
    assert rows[0]["data_concerned"] == "'+e-mail addresses"
    assert rows[1]["overdue"] == "True" and rows[1]["deadline_at"].endswith("Z")


def test_json_export_and_bad_format(client):
    record(client)
    exported = client.get(f"{PATH}/export?format=json", headers=OPS)
    assert exported.status_code == 200 and len(exported.get_json()["items"]) == 1
    assert client.get(f"{PATH}/export?format=xml", headers=OPS).status_code == 422
