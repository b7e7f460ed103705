"""The load generator's garbage collection: full collections timed and told, and rarer."""

from __future__ import annotations

import gc
import logging

from loadtests.collection_pauses import (
    FULL_COLLECTION_EVERY,
    CollectionPauses,
    collect_less,
    stop_timing,
)


def test_a_long_full_collection_is_told_and_the_longest_kept(caplog):
    """The interpreter's own full collection, over a heap made big enough to take a while;
    a threshold of 0 ms tells every one."""
    heap = [{"n": [i]} for i in range(200_000)]
    pauses = CollectionPauses(long_pause_s=0.0)
    gc.callbacks.append(pauses)
    try:
        with caplog.at_level(logging.WARNING, logger="peakshop.loadtests"):
            gc.collect(0)            # a young collection is not a full one
            assert pauses.full_collections == 0
            gc.collect()
    finally:
        gc.callbacks.remove(pauses)
    assert pauses.full_collections == 1 and pauses.longest_s > 0
    assert "a full garbage collection paused the load generator for" in caplog.text
    assert len(heap) == 200_000


def test_collecting_less_freezes_what_exists_and_makes_full_collections_rarer():
    before_threshold = gc.get_threshold()
    pauses = CollectionPauses()
    try:
        collect_less(pauses)
        collect_less(pauses)         # twice, as Locust's test_start may fire: one callback
        assert gc.get_threshold()[2] == FULL_COLLECTION_EVERY
        assert gc.get_freeze_count() > 0
        assert gc.callbacks.count(pauses) == 1
        stop_timing(pauses)
        assert pauses not in gc.callbacks
    finally:
        stop_timing(pauses)
        gc.unfreeze()
        gc.set_threshold(*before_threshold)
