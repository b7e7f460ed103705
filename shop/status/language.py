"""The words customers read: incident updates that put them first.

Every update says, in this order: we are sorry, the team is on it, what is affected, when we
expect a fix, and when the next update comes. Ops add what they know as a note, or write the
whole text themselves (`verbatim`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shop.status.components import (
    COMPONENT_LABELS,
    PLURAL_LABELS,
    Component,
    ComponentStatus,
    IncidentStatus,
)


def clock(moment: datetime) -> str:
    """'24 Dec 14:05 UTC': customers across time zones read one unambiguous clock."""
    return moment.strftime("%d %b %H:%M UTC").lstrip("0")


def affected_phrase(components: Sequence[str]) -> str:
    """'Checkout and payments' from the component names."""
    labels = [COMPONENT_LABELS[Component(name)] for name in components]
    labels = [labels[0]] + [label[0].lower() + label[1:] for label in labels[1:]]
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def _plural(components: Sequence[str]) -> bool:
    return len(components) > 1 or Component(components[0]) in PLURAL_LABELS


def _verb(components: Sequence[str]) -> str:
    return "are" if _plural(components) else "is"


def _impact_sentence(components: Sequence[str], impact: str) -> str:
    what = affected_phrase(components)
    if impact == ComponentStatus.OUTAGE:
        return f"{what} {_verb(components)} not working at the moment."
    pronoun = "they" if _plural(components) else "it"
    return (f"{what} {_verb(components)} not working as well as {pronoun} should for some "
            "customers.")


def _eta_sentence(eta: datetime | None) -> str:
    if eta is None:
        return "We do not know yet how long the fix will take."
    return f"We expect it to be fixed by {clock(eta)}."


def _next_update_sentence(next_update_at: datetime | None) -> str:
    if next_update_at is None:
        return ""
    return f"Our next update comes by {clock(next_update_at)} at the latest."


STATUS_SENTENCES = {
    IncidentStatus.INVESTIGATING: "Our team is on it and looking for the cause.",
    IncidentStatus.IDENTIFIED: "Our team has found the cause and is working on a fix.",
    IncidentStatus.MONITORING: "A fix is in place and our team is watching that it holds.",
}


def compose_update(*, status: str, components: Sequence[str], impact: str,
                   eta: datetime | None, next_update_at: datetime | None,
                   note: str | None = None) -> str:
    """The customer-first text of one incident update; no side effects."""
    what = affected_phrase(components)
    if status == IncidentStatus.RESOLVED:
        parts = [f"This is fixed: {what[0].lower() + what[1:]} {_verb(components)} "
                 "working normally again.",
                 note or "",
                 "We are sorry for the trouble, and thank you for your patience."]
    else:
        parts = ["We are sorry.",
                 _impact_sentence(components, impact),
                 STATUS_SENTENCES[IncidentStatus(status)],
                 note or "",
                 _eta_sentence(eta),
                 _next_update_sentence(next_update_at)]
    return " ".join(part.strip() for part in parts if part and part.strip())


def automatic_title(component: str) -> str:
    """The title of an incident the burn-rate rule opens."""
    return f"{COMPONENT_LABELS[Component(component)]} is failing for some customers"


AUTOMATIC_NOTE = ("Our monitoring noticed more failed requests than usual and alerted the "
                  "team.")
AUTOMATIC_RECOVERY_NOTE = "Our monitoring confirms it."
