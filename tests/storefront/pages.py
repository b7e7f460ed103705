"""A shopper's browser in miniature: reads forms out of pages and submits them."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from tests.support.api import ADDRESS

# What every browser says of a form it submits from this site's own page (Fetch Metadata).
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
CHECKOUT_FIELDS = {"email": "shopper@example.com", **ADDRESS, "payment_token": "tok_ok"}


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class FormParser(HTMLParser):
    """Collects every form's action, method and the values its inputs would submit."""

    def __init__(self):
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append(Form(attributes.get("action", ""),
                                   attributes.get("method", "get").lower()))
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1].fields[attributes["name"]] = attributes.get("value") or ""
        elif tag == "select" and self.forms:
            self._select = attributes.get("name")
        elif tag == "option" and self._select and self._select not in self.forms[-1].fields:
            self.forms[-1].fields[self._select] = attributes.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def forms_in(html: str) -> list[Form]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


def form_posting_to(html: str, action_part: str) -> Form:
    """The page's POST form whose action contains `action_part`."""
    for form in forms_in(html):
        if form.method == "post" and action_part in form.action:
            return form
    raise AssertionError(f"no POST form to {action_part!r} in the page")


class Shopper:
    """Drives the storefront pages through Flask's test client, as a browser would."""

    def __init__(self, client):
        self.client = client

    def page(self, url: str, expected_status: int = 200) -> str:
        response = self.client.get(url)
        assert response.status_code == expected_status, response.get_data(as_text=True)
        return response.get_data(as_text=True)

    def add_to_cart(self, slug: str, sku: str, quantity: int | str = 1):
        form = form_posting_to(self.page(f"/shops/{slug}/products/{sku}"), "/cart/items")
        return self.client.post(form.action, data={**form.fields, "quantity": str(quantity)},
                                headers=SAME_ORIGIN)

    def line_form(self, slug: str, sku: str) -> Form:
        return form_posting_to(self.page(f"/shops/{slug}/cart"), f"/cart/items/{sku}")

    def checkout_form(self, slug: str) -> Form:
        return form_posting_to(self.page(f"/shops/{slug}/checkout"), "/checkout")

    def checkout(self, slug: str, **overrides: str):
        form = self.checkout_form(slug)
        return self.client.post(form.action, data={**form.fields, **CHECKOUT_FIELDS,
                                                   **overrides})
