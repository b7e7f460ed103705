"""A signed-in person's browser in the HTML back-office, through Flask's test client.

Every back-office form carries the session's CSRF token (Flask-WTF); `BackOffice.post` sends
it unless told not to, so a test can show what happens without it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from tests.shop.merchants.conftest import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    return CSRF_FIELD.search(html).group(1)


@dataclass
class BackOffice:
    client: object
    slug: str
    token: str = ""

    @classmethod
    def sign_in(cls, client, slug: str, email: str, password: str = PASSWORD) -> BackOffice:
        form = client.get("/merchant/sign-in")
        signed_in = client.post("/merchant/sign-in", data={
            "csrf_token": csrf_token(form.get_data(as_text=True)), "email": email,
            "password": password})
        assert signed_in.status_code == 303, signed_in.get_data(as_text=True)
        office = cls(client, slug)
        office.token = csrf_token(office.get("/products").get_data(as_text=True))
        return office

    def url(self, path: str) -> str:
        return f"/merchant/shops/{self.slug}{path}"

    def get(self, path: str, **kwargs):
        return self.client.get(self.url(path), **kwargs)

    def post(self, path: str, data: dict | None = None, *, with_csrf: bool = True, **kwargs):
        data = dict(data or {})
        if with_csrf:
            data["csrf_token"] = self.token
        return self.client.post(self.url(path), data=data, **kwargs)


def text(response) -> str:
    """The page's HTML with entities decoded, so that tests read what a person reads."""
    return html.unescape(response.get_data(as_text=True))
