"""Fewer cyclic garbage collections while importing.

An import allocates a few container objects per row (rows, identities, event fields, events)
and keeps a few batches of them alive: with CPython's default threshold (a young collection
every 700 allocations, an old one every 100 young ones) the collector rescans those live
batches again and again — about 40 % of the import's Python time in measurements. Nothing the
import allocates forms a reference cycle (rows do not point back at their batch), so reference
counting frees every batch when it is done with; the collector only needs to run now and then
for whatever else the process holds, and young collections still come every 50,000 allocations
(a few thousand rows).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000
"""Allocations between young collections while importing (CPython's default: 700)."""


def fewer_collections() -> None:
    """Raise the young generation's threshold (for a process that only imports: a worker)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, gc.get_threshold()[0]), middle, old)


@contextmanager
def collecting_less() -> Iterator[None]:
    """:func:`fewer_collections` for the duration of an import, then the thresholds as they were."""
    before = gc.get_threshold()
    fewer_collections()
    try:
        yield
    finally:
        gc.set_threshold(*before)
