"""Request and response models of the catalog API (they also write its OpenAPI entry)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shop.catalog.service import MAX_PAGE, MAX_STOCK
from shop.core.schemas import (
    SKU,
    Money,
    MoneyInput,
    QueryInt,
    RequestModel,
    ResponseModel,
    checked_by_service,
    optional,
)
from shop.images.schemas import ImageOut


class NewVariant(RequestModel):
    """One size or colour: its own SKU and stock, the product's price unless it has one."""

    # The catalog itself refuses what a variant may not hold (nested variants, ...) with
    # its own problem codes.
    model_config = ConfigDict(strict=True, extra="allow")

    sku: str = Field(min_length=1, max_length=64, pattern=SKU, examples=["SOCKS-38"],
                     description="As a product's SKU: not '.', '..', 'export' or 'import'")
    options: dict[str, str] = Field(examples=[{"size": "38"}])
    price: MoneyInput = optional()
    stock: int = Field(ge=0, le=MAX_STOCK)


class NewProduct(RequestModel):
    sku: str = Field(min_length=1, max_length=64, pattern=SKU, examples=["MUG-RED"],
                     description="Not '.', '..', 'export' or 'import': a product's URL ends "
                                 "in its SKU, and those name something else there")
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    category: str | None = Field(None, max_length=100)
    price: MoneyInput
    stock: int = optional(ge=0, le=MAX_STOCK, description="Required unless `variants` are given")
    variants: list[NewVariant] = optional(description="At most 100; see docs/storefront.md")


class ProductChanges(RequestModel):
    """Any of these; `stock` sets the units on hand, `stock_delta` adds to them."""

    name: str = optional(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    category: str | None = Field(None, max_length=100)
    price: MoneyInput = optional()
    stock: int = optional(ge=0, le=MAX_STOCK)
    stock_delta: int = optional(ge=-MAX_STOCK, le=MAX_STOCK)


class ProductQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")  # unknown query parameters are harmless

    q: str = optional(max_length=200, description="Text in name, SKU or description.")
    category: str = optional(max_length=100)
    limit: QueryInt = optional(ge=1, le=MAX_PAGE)
    cursor: str = optional(max_length=64, description="The next_cursor of the previous page.")


class ProductOut(ResponseModel):
    sku: str
    name: str
    description: str | None
    category: str | None
    price: Money
    price_includes_vat: bool = Field(True, description="false: a net price, VAT by "
                                                       "destination is added at checkout")
    available: int = Field(description="Stock minus live reservations.")
    stock: int | None = Field(None, description="Merchant views only.")
    reserved: int | None = Field(None, description="Merchant views only.")
    images: list[ImageOut] = Field(default_factory=list,
                                   description="Main image first; POST .../images adds one.")


class ProductPage(ResponseModel):
    items: list[ProductOut]
    next_cursor: str | None


class ImportQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")  # unknown query parameters are harmless

    # The import reads it itself (true/false or 1/0, any case), as it always has.
    dry_run: checked_by_service({
        "type": "string", "pattern": r"^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)\s*$",
        "description": "true reports what the file would do and changes nothing"}) = optional()


class RowProblem(ResponseModel):
    row: int = Field(description="The spreadsheet's row number; the header is row 1")
    detail: str


class ImportReport(ResponseModel):
    created: int
    updated: int
    errors: list[RowProblem] = Field(description="Rows skipped, and why; the others applied")
    dry_run: bool


CSV_HEADER_EXAMPLE = "sku,name,description,category,price_amount,currency,stock\r\n"
CATALOG_CSV = {"schema": {"type": "string"}, "example": CSV_HEADER_EXAMPLE
               + "MUG-RED,Red mug,Holds tea,kitchen,1250,EUR,40\r\n"}
# What the import reads: UTF-8 (a BOM is fine), CRLF or LF, quoted cells. It also takes the
# same file as application/csv, left out here: the document names the one type to send.
IMPORT_MEDIA = {"text/csv": CATALOG_CSV}
EXPORT_MEDIA = {"text/csv": CATALOG_CSV}
