"""What customers see on the status page: the components and how their health rolls up.

Pure: no I/O. The status of a component is the worst impact of the open incidents that name
it; the overall status is the worst of the components.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Component(StrEnum):
    STOREFRONT = "storefront"
    CHECKOUT = "checkout"
    PAYMENTS = "payments"
    ORDER_PROCESSING = "order processing"
    EMAIL = "e-mail"


# What a customer reads for each component: "<noun> <verb>" sentences in the templates.
COMPONENT_LABELS = {
    Component.STOREFRONT: "Browsing the shop",
    Component.CHECKOUT: "Checkout",
    Component.PAYMENTS: "Payments",
    Component.ORDER_PROCESSING: "Order processing",
    Component.EMAIL: "Order e-mails",
}

# Labels a sentence treats as plural ("payments are").
PLURAL_LABELS = frozenset({Component.PAYMENTS, Component.EMAIL})


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    OUTAGE = "outage"


SEVERITY = {ComponentStatus.OPERATIONAL: 0, ComponentStatus.DEGRADED: 1,
            ComponentStatus.OUTAGE: 2}


class IncidentStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


def worst(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    return max(statuses, key=SEVERITY.__getitem__, default=ComponentStatus.OPERATIONAL)


def component_statuses(open_incidents: Iterable[tuple[Iterable[str], str]]
                       ) -> dict[Component, ComponentStatus]:
    """Each component's status from (components, impact) of the open incidents; no side
    effects."""
    statuses = {component: ComponentStatus.OPERATIONAL for component in Component}
    for components, impact in open_incidents:
        for name in components:
            if name in statuses:
                statuses[Component(name)] = worst([statuses[Component(name)],
                                                   ComponentStatus(impact)])
    return statuses



def effective_impact(impact: str, status: str) -> ComponentStatus:
    """An incident being monitored has its fix in place: it degrades at most; no side effects."""
    if status == IncidentStatus.RESOLVED:
        return ComponentStatus.OPERATIONAL
    if status == IncidentStatus.MONITORING:
        return ComponentStatus.DEGRADED
    return ComponentStatus(impact)
