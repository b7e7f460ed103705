"""The storefront blueprint and what all its pages share: guards, headers, helpers, errors."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, g, render_template, request
from sqlalchemy.orm import Session

from shop.core import resources
from shop.core.errors import Problem
from shop.images.views import media_origin
from shop.merchants import service as merchants
from shop.merchants.models import Merchant
from shop.storefront import csrf, error_pages, formatting

# Pages load nothing but their own stylesheet: no scripts, no third-party hosts, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
                           "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

blueprint = Blueprint("storefront", __name__)


@dataclass(frozen=True)
class ShopLink:
    """The shop a page belongs to, as plain values an error page can still use."""

    slug: str
    name: str


class NulCharacter(Problem):
    status, code, title = 400, "nul_character", "Bad characters"


def refuse_nul_characters() -> None:
    """Refuse a NUL in the address or form: PostgreSQL cannot even compare such text."""
    texts = [value for value in (request.view_args or {}).values() if isinstance(value, str)]
    texts += [value for _, values in request.args.lists() for value in values]
    if request.method == "POST":
        texts += [value for _, values in request.form.lists() for value in values]
    if any("\x00" in text for text in texts):
        raise NulCharacter("the address or the form holds a NUL character (%00), which no "
                           "shop, product or address contains: remove it and try again")


blueprint.before_request(refuse_nul_characters)
blueprint.before_request(csrf.check_post)
error_pages.register(blueprint)


def content_security_policy() -> str:
    """The pages' policy; product images from a bucket or CDN are allowed from its origin."""
    origin = media_origin()
    if origin is None:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data:",
                                           f"img-src 'self' data: {origin}")


@blueprint.after_request
def add_security_headers(response: Response) -> Response:
    """Lock the pages down; the order page's URL carries a token, so no Referer leaves."""
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@blueprint.context_processor
def page_helpers() -> dict:
    """Formatting helpers every storefront template can call."""
    return {"money": formatting.format_money, "availability": formatting.availability_text,
            "csrf_token": lambda: csrf.page_token(g.get("shared_page", False)),
            "csrf_field": csrf.FORM_FIELD,
            "max_quantity": resources.current().settings.max_line_quantity}


def page(template: str, status: int = 200, **context) -> tuple[str, int]:
    """Render a storefront template with an HTTP status."""
    return render_template(f"storefront/{template}", **context), status


def find_shop(session: Session, slug: str) -> Merchant:
    """The shop a page belongs to (404 if unknown); error pages then link back to it."""
    merchant = merchants.shop_by_slug(session, slug)
    # Plain values: a failed transaction expires the ORM object before the error page renders.
    g.storefront_shop = ShopLink(merchant.slug, merchant.name)
    return merchant


def load_shop(slug: str) -> Merchant:
    """The shop of `slug` read in its own short session (404 if unknown)."""
    with resources.current().database.reading() as session:
        return find_shop(session, slug)
