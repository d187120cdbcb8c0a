"""`bifrostc serve` tunes the cyclic GC once start-up is done (see runtime/server.py for the measurement)."""

from __future__ import annotations

import gc

from bifrostc.runtime.server import GC_THRESHOLDS, tune_gc


def test_tune_gc_freezes_the_startup_heap_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
