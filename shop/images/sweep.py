"""Removing image files that no image row points to. No Flask.

An upload writes its files before the row that points to them commits, so a crash (or a
store that failed to delete) between the two leaves files nobody references. They cost
storage, never correctness; this sweep removes them. A file younger than the grace period
is never touched, however unreferenced it looks: it may belong to an upload whose row is
about to commit. The rows are read after the files are listed, so a row that commits while
the store is listed still protects its files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shop.core.db import Database
from shop.images.models import ProductImage
from shop.images.storage import MediaStore

log = logging.getLogger(__name__)

# Every image file's key starts here (service.add_image); nothing else in the store is ours.
IMAGE_KEYS = "products/"
# Far longer than any upload takes between writing its files and committing its row.
DEFAULT_GRACE = timedelta(hours=1)
MIN_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class SweepReport:
    removed: tuple[str, ...]  # removed, or in a dry run the files that would be
    failed: tuple[str, ...]  # unreferenced and old, but the store would not delete them
    referenced: int
    too_young: int
    dry_run: bool


def referenced_keys(database: Database) -> set[str]:
    """The keys of every rendition of every image row."""
    keys: set[str] = set()
    with database.reading() as session:
        for renditions in session.scalars(select(ProductImage.renditions)
                                          .execution_options(yield_per=1000)):
            keys.update(rendition["key"] for rendition in renditions)
    return keys


def sweep_orphans(database: Database, store: MediaStore, *, now: datetime,
                  older_than: timedelta = DEFAULT_GRACE, dry_run: bool = False) -> SweepReport:
    """Delete the image files no row references that were written before `now - older_than`.

    With `dry_run`, delete nothing and report what would go. A grace below MIN_GRACE is
    refused (ValueError): it would race uploads in progress.
    """
    if older_than < MIN_GRACE:
        raise ValueError(f"a grace period under {MIN_GRACE.total_seconds() / 60:.0f} minutes "
                         "could remove the files of an upload in progress: use a longer one")
    # The project's clock is naive UTC (shop.core.timeutil); stores report aware times.
    cutoff = (now if now.tzinfo else now.replace(tzinfo=UTC)) - older_than
    listed = list(store.files(IMAGE_KEYS))
    referenced = referenced_keys(database)
    orphans = [stored.key for stored in listed
               if stored.key not in referenced and stored.modified_at < cutoff]
    too_young = sum(1 for stored in listed
                    if stored.key not in referenced and stored.modified_at >= cutoff)
    in_use = sum(1 for stored in listed if stored.key in referenced)
    removed, failed = [], []
    for key in orphans:
        if dry_run:
            removed.append(key)
            continue
        try:
            store.delete(key)
        except Exception:  # the store is down or refuses: the file stays for the next sweep
            log.warning("could not remove unreferenced image file %s", key, exc_info=True)
            failed.append(key)
        else:
            log.info("removed unreferenced image file %s", key)
            removed.append(key)
    log.info("image file sweep%s: %d unreferenced files %s, %d in use, %d too young to judge, "
             "%d could not be removed", " (dry run)" if dry_run else "", len(removed),
             "would be removed" if dry_run else "removed", in_use, too_young, len(failed))
    return SweepReport(tuple(removed), tuple(failed), in_use, too_young, dry_run)


# The order worker sweeps by itself (shop.orders.worker), hourly and more cautiously than
# the command's default: nobody watches it.
CHORE_INTERVAL_S = 3600.0
CHORE_GRACE = timedelta(hours=24)


def sweep_chore(settings, database: Database) -> Callable[[], SweepReport]:
    """The worker's periodic sweep of the media store the settings name."""
    from shop.core.timeutil import utcnow
    from shop.images.storage import store_for

    def run() -> SweepReport:
        return sweep_orphans(database, store_for(settings), now=utcnow(),
                             older_than=CHORE_GRACE)

    return run
