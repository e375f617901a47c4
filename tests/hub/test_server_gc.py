"""The serving process's runtime: its garbage collector (``hub.server.tune_gc``) and how soon it
hands the GIL to a thread waiting for it (``hub.server.tune_switching``)."""

from __future__ import annotations

import gc
import sys

from hub.server import GC_THRESHOLD, SWITCH_INTERVAL, tune_gc, tune_switching


def test_serving_collects_the_youngest_generation_every_gc_threshold_allocations() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == (GC_THRESHOLD, before[1], before[2])
    finally:
        gc.set_threshold(*before)


def test_serving_hands_the_gil_to_a_waiting_thread_sooner_than_cpythons_default() -> None:
    before = sys.getswitchinterval()
    try:
        tune_switching()
        assert sys.getswitchinterval() == SWITCH_INTERVAL
        assert SWITCH_INTERVAL < 0.005  # CPython's default
    finally:
        sys.setswitchinterval(before)
