"""Announcing, editing and cancelling events on the back-office pages (test client, both
databases): the same rules as the JSON API, shown as pages that keep what was typed."""

from __future__ import annotations

from tests.shop.merchants.pages import acting_as, csrf, post_form, text

LAUNCH = {"name": "Winter launch", "starts_at": "2099-12-20T18:00", "zone": "Europe/Berlin",
          "duration_min": "90", "expected_peak_rps": "100"}


def _events_url(slug: str) -> str:
    return f"/merchant/shops/{slug}/events"


def _announce(page, slug: str, **changes):
    return post_form(page, f"{_events_url(slug)}/new", f"{_events_url(slug)}/new",
                     {**LAUNCH, **changes})


def _api_events(client, member) -> list[dict]:
    return client.get(f"/api/v1/shops/{member.slug}/events",
                      headers=member.auth).get_json()["items"]


def test_an_event_announced_in_a_time_zone_is_stored_at_its_moment(app, client, team):
    manager = team["manager"]
    page = acting_as(app, manager)
    response = _announce(page, manager.slug)
    assert response.status_code == 303
    [event] = _api_events(client, manager)
    assert event["starts_at"] == "2099-12-20T17:00:00Z" and event["duration_min"] == 90
    listed = text(page.get(_events_url(manager.slug)))
    assert "Winter launch" in listed and "2099-12-20 17:00" in listed
    assert '<td data-label="Web replicas planned" class="number">4</td>' in listed
    # The zone is offered first next time.
    assert '<option selected value="Europe/Berlin">' in text(
        page.get(f"{_events_url(manager.slug)}/new"))


def test_a_time_the_clocks_skip_is_a_422_page_that_keeps_the_input(app, client, team):
    owner = team["owner"]
    response = _announce(acting_as(app, owner), owner.slug, starts_at="2099-03-29T02:30")
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "does not exist in Europe/Berlin" in text(response)
    assert 'value="Winter launch"' in text(response) and 'value="2099-03-29T02:30"' in text(
        response)
    assert _api_events(client, owner) == []


def test_bad_numbers_and_past_times_are_refused_with_the_problem(app, client, team):
    owner = team["owner"]
    page = acting_as(app, owner)
    cases = [({"expected_peak_rps": "lots"}, "Not a valid integer"),
             ({"duration_min": "0"}, "duration_min"),
             ({"expected_peak_rps": str(10**30)}, "expected_peak_rps"),
             ({"starts_at": "2001-01-01T10:00"}, "would be over already"),
             ({"starts_at": "20-12-2099 18:00"}, "Not a valid datetime"),
             ({"zone": "Mars/Olympus"}, "Not a valid choice"),
             ({"name": ""}, "This field is required"),
             ({"name": "x" * 201}, "name")]
    for changes, expected in cases:
        response = _announce(page, owner.slug, **changes)
        assert response.status_code in (400, 422), (changes, response.status_code)
        assert expected in text(response), changes
        assert 'role="alert"' in text(response)
    assert _api_events(client, owner) == []


def test_an_event_is_edited_and_cancelled(app, client, team):
    owner = team["owner"]
    page = acting_as(app, owner)
    _announce(page, owner.slug)
    [event] = _api_events(client, owner)
    edit_url = f"{_events_url(owner.slug)}/{event['id']}/edit"
    form = page.get(edit_url)
    assert 'value="Winter launch"' in text(form)
    changed = post_form(page, edit_url, edit_url, {**LAUNCH, "expected_peak_rps": "320",
                                                    "zone": "UTC"})
    assert changed.status_code == 303
    [event] = _api_events(client, owner)
    assert event["expected_peak_rps"] == 320 and event["starts_at"] == "2099-12-20T18:00:00Z"
    assert event["planned_capacity"]["web_replicas"] == 10
    [entry] = [e for e in client.get(f"/api/v1/shops/{owner.slug}/audit", headers=owner.auth)
               .get_json()["items"] if e["target"] == edit_url]
    assert entry["action"] == "events.write" and entry["actor"] == owner.email
    assert entry["details"]["request"]["expected_peak_rps"] == 320
    cancelled = post_form(page, _events_url(owner.slug),
                          f"{_events_url(owner.slug)}/{event['id']}/delete")
    assert cancelled.status_code == 303 and _api_events(client, owner) == []


def test_a_viewer_reads_the_form_but_sending_it_is_refused(app, client, team):
    viewer = team["viewer"]
    page = acting_as(app, viewer)
    listed = page.get(_events_url(viewer.slug))
    assert listed.status_code == 200 and "Announce an event" not in text(listed)
    refused = _announce(page, viewer.slug)
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert "a viewer cannot do this (events.write)" in text(refused)
    assert _api_events(client, viewer) == []


def test_an_announcement_without_its_csrf_token_is_refused(app, client, team):
    owner = team["owner"]
    response = acting_as(app, owner).post(f"{_events_url(owner.slug)}/new", data=LAUNCH)
    assert response.status_code == 400 and "expired or was sent from another site" in text(
        response)
    assert _api_events(client, owner) == []


def test_another_shops_event_is_out_of_reach(app, client, api, team):
    other = api.sign_up("Other Shop")
    created = client.post(f"/api/v1/shops/{other.slug}/events", headers=other.auth, json={
        "name": "Theirs", "starts_at": "2099-12-01T10:00:00Z", "duration_min": 60,
        "expected_peak_rps": 10})
    their_event = created.get_json()["id"]
    owner = team["owner"]
    page = acting_as(app, owner)
    edit_url = f"{_events_url(owner.slug)}/{their_event}/edit"
    assert page.get(edit_url).status_code == 404
    form = page.get(f"{_events_url(owner.slug)}/new")
    refused = page.post(f"{_events_url(owner.slug)}/{their_event}/delete",
                        data={"csrf_token": csrf(form.data)})
    assert refused.status_code == 404 and refused.mimetype == "text/html"
    assert len(_api_events(client, other)) == 1
    assert page.get(_events_url(other.slug)).status_code == 403


def test_control_characters_in_a_form_are_a_400_page_not_a_500(app, client, team):
    owner = team["owner"]
    page = acting_as(app, owner)
    for name in ("Launch\x00night", "Bell\x07"):
        response = _announce(page, owner.slug, name=name)
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert "control character" in text(response)
    assert _api_events(client, owner) == []
