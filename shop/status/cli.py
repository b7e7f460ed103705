"""`peakshop incident open|update|resolve`: tell customers what is wrong, from a terminal.

It works on the database directly, through the same service as the ops API: an incident
about the storefront must be postable while the storefront is what is down, and whoever can
run `peakshop` in the cluster already holds the database settings, so no token is needed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
import sqlalchemy.exc

from shop.core.errors import Problem
from shop.status.components import Component, ComponentStatus, IncidentStatus


def _run(action: Callable) -> None:
    """Run `action(session)` in a transaction; a refusal is one line and exit status 2."""
    import shop.models  # noqa: F401  (every table, for the foreign keys)
    from shop.cli import settings_or_exit
    from shop.core.db import Database

    database = Database(settings_or_exit().database_url)
    try:
        with database.transaction() as session:
            action(session)
    except Problem as problem:
        click.echo(f"peakshop incident: {problem.detail}", err=True)
        sys.exit(2)
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ProgrammingError) as problem:
        said = str(problem.orig or problem)
        if "no such table" in said or "does not exist" in said:
            # Reached, but never migrated (SQLite says "no such table", PostgreSQL
            # "relation ... does not exist").
            click.echo("peakshop incident: the database has no peakshop tables yet: run "
                       "`peakshop db upgrade` first", err=True)
        else:
            click.echo("peakshop incident: the database is unreachable "
                       f"({type(problem.orig or problem).__name__}): check "
                       "PEAKSHOP_DATABASE_URL", err=True)
        sys.exit(1)
    finally:
        database.dispose()


def _show(incident) -> None:
    from shop.status.service import incident_json

    document = incident_json(incident)
    click.echo(f"incident {document['id']} ({document['status']}): {document['title']}")
    click.echo(document["updates"][0]["message"])


@click.group("incident")
def incident() -> None:
    """Open, update and resolve the incidents customers see on /status."""


@incident.command("open")
@click.option("--title", required=True, help="What customers notice, in their words.")
@click.option("--component", "components", required=True, multiple=True,
              type=click.Choice([c.value for c in Component]),
              help="An affected component (repeat for several).")
@click.option("--message", required=True, help="What we know; it goes into the update text.")
@click.option("--eta", help="Expected fix, RFC 3339 with offset (2026-12-24T18:00:00+01:00).")
@click.option("--shop", help="The shop's slug, for an incident of one shop only.")
@click.option("--impact", type=click.Choice([ComponentStatus.DEGRADED.value,
                                           ComponentStatus.OUTAGE.value]),
              default=ComponentStatus.DEGRADED.value, show_default=True)
@click.option("--verbatim", is_flag=True, help="Publish --message as written, no template.")
def open_command(title, components, message, eta, shop, impact, verbatim) -> None:
    """Open an incident (merchants' webhooks are sent by the order worker)."""
    from shop.status import service

    data = {"title": title, "components": list(components), "message": message,
            "impact": str(impact), "verbatim": verbatim}
    if eta is not None:
        data["eta"] = eta
    if shop is not None:
        data["shop"] = shop

    def act(session):
        _show(service.open_incident(session, service.read_new_incident(data)))
    _run(act)


@incident.command("update")
@click.argument("incident_id")
@click.option("--message", required=True, help="What changed; it goes into the update text.")
@click.option("--status", type=click.Choice([s.value for s in IncidentStatus]))
@click.option("--eta", help="New expected fix, RFC 3339 with offset; 'none' clears it.")
@click.option("--verbatim", is_flag=True, help="Publish --message as written, no template.")
def update_command(incident_id, message, status, eta, verbatim) -> None:
    """Post an update to an open incident."""
    from shop.status import service

    data: dict = {"message": message, "verbatim": verbatim}
    if status:
        data["status"] = status
    if eta is not None:
        data["eta"] = None if eta.lower() == "none" else eta

    def act(session):
        _show(service.add_update(session, incident_id, service.read_update(data)).incident)
    _run(act)


@incident.command("resolve")
@click.argument("incident_id")
@click.option("--message", default="", help="Anything to add to the resolution text.")
def resolve_command(incident_id, message) -> None:
    """Resolve an incident: customers read that it is fixed."""
    from shop.status import service

    def act(session):
        update = service.NewUpdate(message=message.strip()[:service.MAX_MESSAGE],
                                   status=IncidentStatus.RESOLVED)
        _show(service.add_update(session, incident_id, update).incident)
    _run(act)
