"""The chain stage: Polygon logs in, trades and the token registry out.

Modules (one concern each):

* ``contracts`` — addresses, topic0 constants, the subscription filter (``ChainAddresses``);
* ``tokens`` — CTF position ids and ExchangeV3 structured ids (pure math, cached);
* ``events`` — the decoded event dataclasses (``Fill``, ``Match`` …, ``DeadLetter``);
* ``fields`` — parsers of a raw log's hex fields, each failing with the field's name;
* ``decode`` — raw JSON-RPC logs → events, pure and fast (``decode_log``, ``decode_batch``);
* ``encode`` — the inverse, building raw logs exactly as the contracts emit them;
* ``store`` (+ ``store_sql``) — one PostgreSQL transaction per batch: rows, registry, dead
  letters, checkpoint; ``rollback_from`` for reorgs;
* ``ingest`` — JSON-lines files of raw logs through decode + store;
* ``rpc``, ``backfill``, ``live``, ``listener``, ``reorg``, ``settings`` — the listener.
"""
