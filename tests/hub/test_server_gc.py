"""The serving process's garbage collector (``hub.server.tune_gc``)."""

from __future__ import annotations

import gc

from hub.server import GC_THRESHOLD, tune_gc


def test_serving_collects_the_youngest_generation_every_gc_threshold_allocations() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == (GC_THRESHOLD, before[1], before[2])
    finally:
        gc.set_threshold(*before)
