"""The words customers read, and how component statuses roll up."""

from datetime import datetime

import pytest

from shop.status.components import (
    Component,
    ComponentStatus,
    component_statuses,
    effective_impact,
)
from shop.status.language import affected_phrase, automatic_title, compose_update

ETA = datetime(2026, 12, 24, 15, 30)
NEXT = datetime(2026, 12, 24, 14, 35)


@pytest.mark.parametrize("components, phrase", [
    (["checkout"], "Checkout"),
    (["checkout", "payments"], "Checkout and payments"),
    (["storefront", "e-mail", "order processing"],
     "Browsing the shop, order e-mails and order processing"),
])
def test_affected_phrase(components, phrase):
    assert affected_phrase(components) == phrase


def test_an_open_incident_says_sorry_team_what_eta_and_next_update_in_that_order():
    text = compose_update(status="investigating", components=["payments"], impact="outage",
                          eta=ETA, next_update_at=NEXT, note="Card payments fail.")
    parts = ["We are sorry.", "Payments are not working at the moment.",
             "Our team is on it", "Card payments fail.",
             "We expect it to be fixed by 24 Dec 15:30 UTC.",
             "Our next update comes by 24 Dec 14:35 UTC at the latest."]
    positions = [text.index(part) for part in parts]
    assert positions == sorted(positions)


def test_without_an_eta_it_says_so():
    text = compose_update(status="identified", components=["checkout"], impact="degraded",
                          eta=None, next_update_at=NEXT)
    assert "We do not know yet how long the fix will take." in text
    assert "found the cause" in text
    assert "for some customers" in text


def test_resolution_says_fixed_and_thanks():
    text = compose_update(status="resolved", components=["e-mail"], impact="degraded",
                          eta=None, next_update_at=None)
    assert text.startswith("This is fixed: order e-mails are working normally again.")
    assert "next update" not in text
    assert "sorry" in text


def test_automatic_titles_name_the_component():
    assert automatic_title("checkout") == "Checkout is failing for some customers"


@pytest.mark.parametrize("incidents, expected", [
    ([], {}),
    ([(["checkout"], "degraded")], {Component.CHECKOUT: "degraded"}),
    ([(["checkout"], "degraded"), (["checkout", "payments"], "outage")],
     {Component.CHECKOUT: "outage", Component.PAYMENTS: "outage"}),
    ([(["unknown"], "outage")], {}),
])
def test_component_statuses_take_the_worst(incidents, expected):
    statuses = component_statuses(incidents)
    assert {c: s for c, s in statuses.items() if s != "operational"} == expected


@pytest.mark.parametrize("impact, status, effective", [
    ("outage", "investigating", ComponentStatus.OUTAGE),
    ("outage", "monitoring", ComponentStatus.DEGRADED),
    ("degraded", "monitoring", ComponentStatus.DEGRADED),
    ("outage", "resolved", ComponentStatus.OPERATIONAL),
])
def test_effective_impact(impact, status, effective):
    assert effective_impact(impact, status) == effective
