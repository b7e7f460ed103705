"""The catalog as a CSV file: import (create or update by SKU) and export.

Every product rule lives in `catalog.service`; each row is checked by the same rules as the
JSON API's, and a bad row is reported and skipped while the good ones apply. Exported text
cells that a spreadsheet would run as a formula are prefixed with an apostrophe (OWASP's
advice); import removes that prefix again, so a file round-trips.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy.exc
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from shop.catalog import service
from shop.catalog.models import Product
from shop.core.errors import Conflict, InvalidInput, Problem
from shop.core.timeutil import utcnow
from shop.merchants import plans

HEADER = ("sku", "name", "description", "category", "price_amount", "currency", "stock")
MAX_ROWS = 50_000
MAX_CELL = 10_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)

    def fail(self, row: int, detail: str) -> None:
        self.errors.append({"row": row, "detail": detail})


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise InvalidInput(f"the file is not UTF-8 (byte {problem.start} cannot be read): "
                           "save it as 'CSV UTF-8' and send it again",
                           code="invalid_encoding") from None
    if "\x00" in text:
        raise InvalidInput("the file holds NUL characters, so it is not a text CSV file: "
                           "export it again as CSV", code="invalid_csv")
    return text


def _rows(text: str) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(spreadsheet row number, cells by column) or (row, what is wrong with it); the header
    is row 1."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput(f"the file is empty: its first line must be {','.join(HEADER)}",
                               code="invalid_csv")
        columns = [name.strip().lower() for name in header]
        missing = [name for name in HEADER if name not in columns]
        unknown = [name for name in columns if name not in HEADER]
        if missing or unknown or len(columns) != len(HEADER):
            raise InvalidInput(
                f"the header must be {','.join(HEADER)}: got {','.join(columns)[:300]}"
                + (f" (missing {', '.join(missing)})" if missing else "")
                + (f" (unknown {', '.join(unknown)[:200]})" if unknown else ""),
                code="invalid_csv_header")
        row_number = 1
        for cells in reader:
            row_number += 1
            if row_number - 1 > MAX_ROWS:
                raise Problem(f"the file has more than {MAX_ROWS} products: split it",
                              code="too_many_rows", status=413)
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(HEADER):
                yield row_number, (f"has {len(cells)} cells, the header {len(HEADER)}: check "
                                   "for a comma inside an unquoted value")
                continue
            yield row_number, dict(zip(columns, cells, strict=True))
    except csv.Error as problem:
        raise InvalidInput(f"the CSV cannot be read near line {reader.line_num}: {problem}",
                           code="invalid_csv") from None


def _unescape(cell: str) -> str:
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _whole_number(cells: dict[str, str], column: str, hint: str) -> int:
    raw = cells[column].strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        raise InvalidInput(f"'{column}' must be a whole number {hint}: got {raw[:40]!r}")
    return int(raw)


def _product_data(cells: dict[str, str]) -> dict:
    if any(len(cell) > MAX_CELL for cell in cells.values()):
        raise InvalidInput(f"a cell is longer than {MAX_CELL} characters")
    cells = {column: _unescape(cell) for column, cell in cells.items()}
    return {
        "sku": cells["sku"].strip(),
        "name": cells["name"],
        "description": cells["description"],
        "category": cells["category"] or None,
        "price": {"amount": _whole_number(cells, "price_amount",
                                          "of minor units (1999 for 19.99)"),
                  "currency": cells["currency"].strip().upper()},
        "stock": _whole_number(cells, "stock", "of units, 0 or more"),
    }


def import_products(session: Session, merchant_id: int, slug: str, raw: bytes, *,
                    dry_run: bool) -> ImportReport:
    """Create or update products from CSV; a dry run reports the same and changes nothing.

    Every row is checked first by the catalog's own rules (`service.new_product_columns`,
    `service.product_changes`), with no database round trip; then the good rows are written
    at once: new products in one multi-row INSERT, updates one conditional UPDATE each (a
    stock below what open orders reserved fails that row alone)."""
    parsed = list(_rows(_decode(raw)))
    existing = {row.sku: row for row in session.execute(
        select(Product.id, Product.sku, Product.reserved, Product.stock, Product.has_variants)
        .where(Product.merchant_id == merchant_id))}
    new_skus = {cells["sku"].strip() for _, cells in parsed if isinstance(cells, dict)} - set(
        existing)
    if new_skus:
        plans.check(session, merchant_id, slug, plans.Limit.PRODUCTS, adding=len(new_skus))
    currency = service.shop_currency_of(session, merchant_id)
    report = ImportReport()
    seen: dict[str, int] = {}
    creates: list[dict] = []
    updates: list[tuple[int, Any, dict, int]] = []
    for row, cells in parsed:
        if isinstance(cells, str):
            report.fail(row, cells)
            continue
        try:
            data = _product_data(cells)
            sku = data["sku"]
            if sku in seen:
                raise InvalidInput(f"SKU {sku!r} was already in row {seen[sku]}")
            seen[sku] = row
            current = existing.get(sku)
            if current is None:
                creates.append({"merchant_id": merchant_id,
                                **service.new_product_columns(data, currency)})
                continue
            if current.has_variants and data["stock"] != current.stock:
                # Its row in an export says the stock it holds itself (none): only a change
                # of it is refused, so an exported file imports again unchanged.
                raise service.stock_on_a_parent(sku)
            changes = service.product_changes(
                {key: value for key, value in data.items() if key not in ("sku", "stock")},
                currency)
            updates.append((row, current, changes, data["stock"]))
        except Problem as problem:
            report.fail(row, problem.detail)
    applicable, refused = [], []
    for row, current, changes, stock in updates:
        wanted = {**changes, "stock": stock}
        if current.reserved <= stock:
            applicable.append((row, current.id, wanted))
        else:
            refused.append((row, current.reserved))
    if not dry_run:
        refused += _apply_updates(session, applicable)
    for row, reserved in refused:
        report.fail(row, service.stock_below_reserved(reserved).detail)
    report.updated = len(updates) - len(refused)
    if creates and not dry_run:
        try:
            with session.begin_nested():
                session.execute(insert(Product), creates)
        except sqlalchemy.exc.IntegrityError:
            raise Conflict("another request created one of these SKUs meanwhile: send the "
                           "file again (those rows then update)", code="sku_taken") from None
    report.created = len(creates)
    report.errors.sort(key=lambda error: error["row"])
    return report


def _apply_updates(session: Session, updates: list[tuple[int, int, dict]]
                   ) -> list[tuple[int, int]]:
    """Write the updates as one executemany per set of columns, each row on the condition
    that stock stays at or above what open orders reserve; the (row, reserved) of those an
    order reserved past since the file was checked."""
    table = Product.__table__
    groups: dict[tuple[str, ...], list[tuple[int, int, dict]]] = {}
    for update_ in updates:
        groups.setdefault(tuple(sorted(update_[2])), []).append(update_)
    refused = []
    for columns, group in groups.items():
        statement = (update(table)
                     .where(table.c.id == bindparam("b_id"),
                            table.c.reserved <= bindparam("b_stock"))
                     .values({**{column: bindparam(f"b_{column}") for column in columns},
                              "updated_at": utcnow()}))
        written = session.execute(statement, [
            {"b_id": product_id, **{f"b_{column}": value for column, value in wanted.items()}}
            for _, product_id, wanted in group]).rowcount
        if written != len(group):
            # Rare: a checkout reserved more in the meantime. Find which rows stayed as they were.
            by_id = {product_id: (row, wanted) for row, product_id, wanted in group}
            for current in session.execute(select(table).where(table.c.id.in_(by_id))):
                row, wanted = by_id[current.id]
                if any(getattr(current, column) != value for column, value in wanted.items()):
                    refused.append((row, current.reserved))
    return refused


def _escape(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def export_products(session: Session, merchant_id: int) -> Iterator[str]:
    """The shop's products as CSV text, a chunk at a time, in the import's format."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    statement = (select(Product.sku, Product.name, Product.description, Product.category,
                        Product.price_amount, Product.currency, Product.stock)
                 .where(Product.merchant_id == merchant_id).order_by(Product.id))
    for count, row in enumerate(session.execute(statement.execution_options(yield_per=1000))):
        sku, name, description, category, amount, currency, stock = row
        writer.writerow([_escape(sku), _escape(name), _escape(description or ""),
                         _escape(category or ""), amount, currency, stock])
        if count % 1000 == 999:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
