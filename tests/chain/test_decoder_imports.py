"""What a decoding process imports (``decode_workers``: spawned, so it imports what it runs
afresh): the decoder, not the parent's event loop. ``asyncio`` (with ``ssl``, ≈ 25 ms of an idle
core, more under load) is the writer's: a decoding process never runs a coroutine
(docs/benchmarks.md "The import's timeline", session 47)."""

from __future__ import annotations

from orderflow.chain.contracts import MAINNET
from orderflow.chain.decode_workers import Decoders

# what a decoding process has loaded, asked inside one (a builtin: unpickling it imports nothing)
LOADED = "sorted(m for m in ('asyncio', 'ssl') if m in __import__('sys').modules)"


def test_a_decoding_process_imports_no_asyncio() -> None:
    decoders = Decoders(1, "a.jsonl", 137, MAINNET)
    try:
        assert decoders._pool is not None
        loaded = decoders._pool.submit(eval, LOADED).result(timeout=120)  # a safety net only
    finally:
        decoders.close()
    assert loaded == []
