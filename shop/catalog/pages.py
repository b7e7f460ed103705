"""The back-office's catalog in HTML: list and search products, create, edit, archive and
restore them, and import or export the catalog as CSV (dry run first).

Views translate forms to the catalog services' inputs and their results or refusals to
pages; every rule (SKUs, prices, stock, quotas, CSV rows) is the services'. The door has
already checked the person's role for the route before a view runs.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, request, url_for

from shop.catalog import forms, import_staging, service, transfer, variants
from shop.core import resources
from shop.core.errors import InvalidInput, NotFound, Problem
from shop.images.pages import ImageForm, NewImageForm
from shop.images.views import product_images
from shop.merchants import plans
from shop.merchants import service as merchants
from shop.merchants.access import acting
from shop.merchants.page_kit import (
    FORM_EXPIRED,
    amount_text,
    attach_problem,
    form_refusal,
    render_page,
    takes_uploads,
)

# A section of the back-office (`shop.merchants.pages`), under /merchant/shops/<slug>.
blueprint = Blueprint("catalog_pages", __name__, url_prefix="/shops/<slug>")

MAX_QUERY = 200
MAX_CATEGORY = 100
# A file that is wrong throughout would make a page of 50,000 rows: the first ones say what
# to fix, and the count says how much is left.
SHOWN_ERRORS = 200


def _list_filters() -> tuple[str, str, bool]:
    query = request.args.get("q", "").strip()
    category = request.args.get("category", "").strip()
    if len(query) > MAX_QUERY or len(category) > MAX_CATEGORY:
        raise InvalidInput(f"the search is longer than {MAX_QUERY} characters (or the "
                           f"category than {MAX_CATEGORY}): search for less")
    return query, category, request.args.get("show") == "archived"


@blueprint.get("/products")
def list_products(slug: str):
    """One page of products, searched by text, filtered by category, on sale or archived."""
    query, category, archived = _list_filters()
    limit = service.parse_limit(request.args.get("limit"))
    who = acting()
    with resources.current().database.reading() as session:
        shop = merchants.shop_by_slug(session, slug)
        page = service.list_products(session, who.merchant_id, query=query or None,
                                     category=category or None, limit=limit,
                                     cursor=request.args.get("cursor") or None,
                                     archived=archived)
        listed = variants.variants_by_parent(
            session, [product.id for product in page.items if product.has_variants])
        return render_page(
            "merchant/products.html", shop=shop, page=page, variants=listed, query=query,
            category=category, archived=archived,
            categories=service.categories(session, who.merchant_id, include_archived=True),
            first_page=request.args.get("cursor") is not None)


@blueprint.route("/products/new", methods=["GET", "POST"])
def create_product(slug: str):
    """The new-product form; on success, the product's edit page."""
    form = forms.NewProductForm()
    who = acting()
    database = resources.current().database
    with database.reading() as session:
        shop = merchants.shop_by_slug(session, slug)
    error, status = None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                with database.transaction() as session:
                    plans.check(session, who.merchant_id, slug, plans.Limit.PRODUCTS)
                    product = service.create_product(
                        session, who.merchant_id, forms.new_product_data(form, shop.currency))
                    sku = product.sku
                return redirect(url_for(".edit_product", slug=slug, sku=sku, created=1), 303)
            except Problem as problem:
                error, status = attach_problem(form, problem), problem.status
        else:
            error, status = form_refusal(form)
    elif not form.stock.data:
        form.stock.data = 0
    return render_page("merchant/product_new.html", status, shop=shop, form=form,
                           error=error)


@blueprint.route("/products/<sku>/edit", methods=["GET", "POST"])
def edit_product(slug: str, sku: str):
    """A product's details, price and stock, with its variants; save changes."""
    form = forms.EditProductForm()
    who = acting()
    database = resources.current().database
    error, status, saved = None, 200, False
    with database.reading() as session:
        shop = merchants.shop_by_slug(session, slug)
        product = service.get_product(session, who.merchant_id, sku)
        has_variants = product.has_variants
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                with database.transaction() as session:
                    service.update_product(session, who.merchant_id, sku, forms.product_changes(
                        form, shop.currency, has_variants=has_variants))
                return redirect(url_for(".edit_product", slug=slug, sku=sku, saved=1), 303)
            except Problem as problem:
                error, status = attach_problem(form, problem), problem.status
        else:
            error, status = form_refusal(form)
    with database.reading() as session:
        product = service.get_product(session, who.merchant_id, sku)
        if request.method == "GET":
            form.process(data={"name": product.name, "description": product.description,
                               "category": product.category or "",
                               "price": amount_text(product.price_amount,
                                                             product.currency),
                               "stock": None if product.has_variants else product.stock})
            # What the form shows is what a change of stock is measured against; a refused
            # form keeps the stock it was first shown with.
            form.shown_stock.data = str(product.stock)
        saved = request.args.get("saved") == "1"
        return render_page(
            "merchant/product_edit.html", status, shop=shop, form=form, product=product,
            variants=variants.variants_by_parent(session, [product.id]).get(product.id, []),
            parent_sku=variants.parent_sku(session, product.parent_id),
            archive_form=forms.ArchiveForm(), error=error, saved=saved,
            created=request.args.get("created") == "1",
            images=product_images(session.connection(), product.id), image_form=ImageForm(),
            new_image_form=NewImageForm(), image_saved=request.args.get("image_saved"))


@blueprint.post("/products/<sku>/archive")
def archive_product(slug: str, sku: str):
    """Take the product (and its variants) off sale; it stays for past orders."""
    return _archive_or_restore(slug, sku, service.archive_product, "archived")


@blueprint.post("/products/<sku>/restore")
def restore_product(slug: str, sku: str):
    """Put an archived product (and its variants) back on sale."""
    return _archive_or_restore(slug, sku, service.restore_product, "restored")


def _archive_or_restore(slug: str, sku: str, change, done: str) -> Response:
    form = forms.ArchiveForm()
    if not form.validate_on_submit():
        raise Problem(FORM_EXPIRED, code="csrf_rejected", status=400)
    with resources.current().database.transaction() as session:
        change(session, acting().merchant_id, sku)
    return redirect(url_for(".edit_product", slug=slug, sku=sku, **{done: 1}), 303)


@blueprint.get("/products/import")
def import_form(slug: str):
    """The CSV upload form, with the columns it takes."""
    return _import_page(slug, forms.ImportForm())


def _import_page(slug: str, form, status: int = 200, **context) -> Response:
    with resources.current().database.reading() as session:
        shop = merchants.shop_by_slug(session, slug)
    return render_page("merchant/products_import.html", status, shop=shop, form=form,
                           header=",".join(transfer.HEADER), shown_errors=SHOWN_ERRORS,
                           **context)


@blueprint.post("/products/import")
@takes_uploads(lambda: resources.current().settings.max_import_bytes)
def dry_run_import(slug: str):
    """Check an uploaded CSV without changing anything and show what an import would do."""
    current = resources.current()
    form = forms.ImportForm()
    if not form.validate_on_submit():
        error, status = form_refusal(form)
        return _import_page(slug, form, status, error=error)
    raw = form.file.data.read()
    merchant_id = acting().merchant_id
    try:
        with current.database.transaction() as session:
            report = transfer.import_products(session, merchant_id, slug, raw, dry_run=True)
    except Problem as problem:  # the file as a whole: not UTF-8, wrong header, too many rows
        return _import_page(slug, form, problem.status, error=problem.detail)
    g.audited = True  # a dry run changes nothing
    staged = (import_staging.stage(current.redis, merchant_id, raw)
              if report.created or report.updated else None)
    return _import_page(slug, forms.ImportForm(), report=report, dry_run=True,
                        apply_form=forms.ApplyImportForm(staged=staged) if staged else None,
                        filename=form.file.data.filename or "the file")


@blueprint.post("/products/import/apply")
def apply_import(slug: str):
    """Import the file the dry run checked, for real; show what was created and updated."""
    current = resources.current()
    form = forms.ApplyImportForm()
    if not form.validate_on_submit():
        raise Problem(FORM_EXPIRED, code="csrf_rejected", status=400)
    merchant_id = acting().merchant_id
    raw = import_staging.take(current.redis, merchant_id, form.staged.data)
    if raw is None:
        raise NotFound("this dry run has expired or was already imported: upload the file "
                       "again to check it and import it", code="import_not_staged")
    try:
        with current.database.transaction() as session:
            report = transfer.import_products(session, merchant_id, slug, raw, dry_run=False)
    except Problem as problem:  # e.g. the plan's product quota, reached since the dry run
        return _import_page(slug, forms.ImportForm(), problem.status, error=problem.detail)
    g.audit_details = {"created": report.created, "updated": report.updated,
                       "errors": len(report.errors)}
    return _import_page(slug, forms.ImportForm(), report=report, dry_run=False)


@blueprint.get("/products/export")
def export_products(slug: str):
    """The shop's products as CSV, in the import's format."""
    merchant_id = acting().merchant_id
    with resources.current().database.reading() as session:
        body = "".join(transfer.export_products(session, merchant_id))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{slug}-products.csv"'})
