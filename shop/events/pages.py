"""Announced events as pages: the list with the capacity planned for each, announce, edit,
cancel. The start is typed as a wall-clock time with its time zone (or a UTC offset) and
handed to `shop.events.service` as RFC 3339, exactly what the JSON API takes."""

from __future__ import annotations

from flask import Blueprint, g, session
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired

from shop.core import resources
from shop.core.errors import InvalidInput, Problem
from shop.core.timeutil import utcnow
from shop.events import local_time, service
from shop.events.api import capacity_settings
from shop.merchants import roles
from shop.merchants import service as merchants
from shop.merchants.access import acting
from shop.merchants.page_kit import ButtonForm, render_page, see_other, submitted

blueprint = Blueprint("events", __name__, url_prefix="/shops/<slug>/events")

ZONE_IN_SESSION = "event_zone"  # the zone last used, offered first next time


def zone_choices() -> list[SelectChoice]:
    """UTC first, then the IANA zones, then the fixed offsets, each in its own group."""
    return ([SelectChoice(local_time.UTC_NAME, "UTC")]
            + [SelectChoice(name, name.replace("_", " "), optgroup="Time zones")
               for name in local_time.zone_names()]
            + [SelectChoice(name, name, optgroup="UTC offsets")
               for name in local_time.offset_names()])


class EventForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired()],
                       description="What happens: a launch, a mail blast, a sale")
    starts_at = DateTimeLocalField("Starts at", format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired()],
                                   description="Date and time on the clock of the zone below")
    zone = SelectField("Time zone", validators=[InputRequired()])
    duration_min = IntegerField("Duration (minutes)", validators=[InputRequired()])
    expected_peak_rps = IntegerField("Expected peak (requests per second)",
                                     validators=[InputRequired()],
                                     description="Page views and API calls at the busiest "
                                                 "moment")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("zone", session.get(ZONE_IN_SESSION, local_time.UTC_NAME))
        super().__init__(*args, **kwargs)
        self.zone.choices = zone_choices()

    def service_data(self) -> dict:
        """The JSON API's body for this form (InvalidInput when the time does not exist)."""
        try:
            starts_at = local_time.to_rfc3339(self.starts_at.data, self.zone.data)
        except ValueError as problem:
            raise InvalidInput(f"'Starts at' {problem}") from None
        session[ZONE_IN_SESSION] = self.zone.data
        return {"name": self.name.data.strip(), "starts_at": starts_at,
                "duration_min": self.duration_min.data,
                "expected_peak_rps": self.expected_peak_rps.data}


def _form_page(slug: str, form: EventForm, status: int = 200, *, event_id: int | None = None,
               error: Problem | None = None):
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
    return render_page("merchant/event_form.html", status, shop=shop, who=acting(), form=form,
                       event_id=event_id, error=error)


@blueprint.get("")
def list_events(slug: str):
    """Coming and past events, soonest first, with the web replicas planned for each."""
    who = acting()
    now = utcnow()
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        planned = service.with_capacity(db, service.list_events(db, who.merchant_id),
                                        capacity_settings())
        return render_page("merchant/events.html", shop=shop, who=who, now=now,
                           coming=[p for p in planned if service.ends_at(p.event) > now],
                           past=[p for p in planned if service.ends_at(p.event) <= now],
                           ends_at=service.ends_at, button=ButtonForm(),
                           may_write=roles.may(who.role, "events.write"))


@blueprint.route("/new", methods=["GET", "POST"])
def announce(slug: str):
    """Announce an event: name, start in a time zone, duration and expected peak."""
    form = EventForm()
    try:
        if submitted(form):
            data = form.service_data()
            with resources.current().database.transaction() as db:
                service.create_event(db, acting().merchant_id, slug, data)
            g.audit_details = {"request": data}
            return see_other("merchant_pages.events.list_events", slug=slug)
    except Problem as problem:
        return _form_page(slug, form, problem.status, error=problem)
    return _form_page(slug, form)


@blueprint.route("/<int:event_id>/edit", methods=["GET", "POST"])
def edit(slug: str, event_id: int):
    """Change an event; a new time or size drops the scaler's plan until it plans again."""
    with resources.current().database.reading() as db:
        event = service.get_event(db, acting().merchant_id, event_id)
        zone = session.get(ZONE_IN_SESSION, local_time.UTC_NAME)
        stored = {"name": event.name, "duration_min": event.duration_min,
                  "expected_peak_rps": event.expected_peak_rps, "zone": zone,
                  "starts_at": local_time.from_utc(event.starts_at, zone)}
    form = EventForm(data=stored)
    try:
        if submitted(form):
            data = form.service_data()
            with resources.current().database.transaction() as db:
                service.update_event(db, acting().merchant_id, slug, event_id, data)
            g.audit_details = {"request": data}
            return see_other("merchant_pages.events.list_events", slug=slug)
    except Problem as problem:
        return _form_page(slug, form, problem.status, event_id=event_id, error=problem)
    return _form_page(slug, form, event_id=event_id)


@blueprint.post("/<int:event_id>/delete")
def delete(slug: str, event_id: int):
    """Cancel an event."""
    submitted(ButtonForm())
    with resources.current().database.transaction() as db:
        service.delete_event(db, acting().merchant_id, event_id)
    return see_other("merchant_pages.events.list_events", slug=slug)
