"""The catalog as CSV over HTTP: import and export (the role matrix guards both)."""

from __future__ import annotations

from flask import Blueprint, g, request
from flask import Response as HttpResponse

from shop.catalog import transfer
from shop.catalog.schemas import EXPORT_MEDIA, IMPORT_MEDIA, ImportQuery, ImportReport
from shop.core import resources
from shop.core.errors import InvalidInput, Problem
from shop.core.openapi import BEARER, Response, api, declare_media, problems
from shop.merchants.access import acting

blueprint = Blueprint("catalog_transfer_api", __name__, url_prefix="/api/v1/shops/<slug>")


def _dry_run() -> bool:
    raw = request.args.get("dry_run", "false").strip().lower()
    if raw not in ("true", "false", "1", "0"):
        raise InvalidInput(f"'dry_run' must be true or false: got {raw[:20]!r}")
    return raw in ("true", "1")


@blueprint.post("/products/import")
@declare_media(request=IMPORT_MEDIA)
@api.validate(query=ImportQuery,
              resp=Response(HTTP_200=ImportReport, **problems(401, 402, 403, 413, 415, 422, 429)),
              tags=["catalog"], security=BEARER)
def import_products(slug: str):
    """Create or update products from a CSV body; ?dry_run=true only reports."""
    dry_run = _dry_run()
    if request.mimetype not in ("text/csv", "application/csv"):
        raise Problem(f"send the file as text/csv: got {request.mimetype or 'no Content-Type'}",
                      code="unsupported_media_type", status=415)
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise Problem(f"send the file as UTF-8 (charset=utf-8): got charset={charset[:30]}",
                      code="unsupported_media_type", status=415)
    current = resources.current()
    request.max_content_length = current.settings.max_import_bytes
    raw = request.get_data(cache=False)
    with current.database.transaction() as session:
        report = transfer.import_products(session, acting().merchant_id, slug, raw,
                                          dry_run=dry_run)
    g.audited = dry_run  # a dry run changed nothing
    g.audit_details = {"created": report.created, "updated": report.updated,
                       "errors": len(report.errors)}
    return {"created": report.created, "updated": report.updated, "errors": report.errors,
            "dry_run": dry_run}


@blueprint.get("/products/export")
@declare_media(responses={200: EXPORT_MEDIA})
@api.validate(resp=Response(HTTP_200=(None, "The products as CSV, in the import's format"),
                            **problems(401, 403, 429)),
              tags=["catalog"], security=BEARER)
def export_products(slug: str):
    """The shop's products as CSV, in the import's format."""
    merchant_id = acting().merchant_id
    with resources.current().database.reading() as session:
        body = "".join(transfer.export_products(session, merchant_id))
    return HttpResponse(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{slug}-products.csv"'})
