"""Driving the back-office pages through Flask's test client: CSRF tokens, signing in."""

from __future__ import annotations

import re

from shop.merchants.page_kit import SESSION_TOKEN
from tests.shop.merchants.conftest import PASSWORD

CSRF_FIELD = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf(page: bytes) -> str:
    """The CSRF token of the first form on `page`."""
    match = CSRF_FIELD.search(page)
    assert match, "the page has no form with a CSRF token"
    return match.group(1).decode()


def signed_in(app, email: str, password: str = PASSWORD):
    """A new test client (its own cookies) signed in to the back-office as `email`."""
    client = app.test_client()
    form = client.get("/merchant/sign-in")
    response = client.post("/merchant/sign-in", data={
        "csrf_token": csrf(form.data), "email": email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def acting_as(app, member):
    """A new test client whose back-office session holds `member`'s API token, as a sign-in
    would leave it (without spending the host's password-hashing budget)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_TOKEN] = member.token
    return client


def post_form(client, page_url: str, action_url: str, fields: dict | None = None):
    """Load `page_url` for its CSRF token, then post `fields` to `action_url`."""
    page = client.get(page_url)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(action_url, data={"csrf_token": csrf(page.data), **(fields or {})})


def text(response) -> str:
    return response.get_data(as_text=True)
