"""What a checkout of one product reads before it writes, kept per shop and SKU.

During a launch every checkout of the product reads the same facts: its price and name, the
shop's VAT convention, the shop's carriers. The first checkout of a SKU in a process reads
them (`statements.ONE_PRODUCT_CHECKOUT`); later ones take them from here and skip that
statement. Nothing is trusted for it: the one write (`statements.reserve_one_line`) holds
the stock only if each of those facts is still what the database holds, the carriers by a
fingerprint the database computes. When anything moved, nothing is written, the facts are
dropped from here, and the checkout takes the path that reads everything again.

Only facts about the shop live here, never what one shopper's checkout decides on: stock
and reservations are decided by the write itself, and the cart's earlier orders by the
orders' unique indexes (a replay or a second order for the cart fails the write, and the
checkout answers as it always has).
"""

from __future__ import annotations

import threading
import weakref

from sqlalchemy import Row

from shop.core.db import Database

# Enough for every SKU a launch sells; past it the oldest are forgotten first.
CAPACITY = 10_000


class SaleFacts:
    """The rows ONE_PRODUCT_CHECKOUT returned, by (merchant id, SKU), in this process."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._rows: dict[tuple[int, str], list[Row]] = {}
        self._capacity = capacity
        self._changing = threading.Lock()

    def get(self, merchant_id: int, sku: str) -> list[Row] | None:
        return self._rows.get((merchant_id, sku))

    def remember(self, merchant_id: int, sku: str, rows: list[Row]) -> None:
        with self._changing:
            while len(self._rows) >= self._capacity:
                del self._rows[next(iter(self._rows))]
            self._rows[(merchant_id, sku)] = rows

    def forget(self, merchant_id: int, sku: str) -> None:
        with self._changing:
            self._rows.pop((merchant_id, sku), None)

    def __len__(self) -> int:
        return len(self._rows)


# One per Database (tests run many apps, each on its own), held weakly like the database's
# other per-process helpers.
_OF_DATABASE: weakref.WeakKeyDictionary[Database, SaleFacts] = weakref.WeakKeyDictionary()
_MAKING = threading.Lock()


def of(database: Database) -> SaleFacts:
    facts = _OF_DATABASE.get(database)
    if facts is None:
        with _MAKING:
            facts = _OF_DATABASE.setdefault(database, SaleFacts())
    return facts
