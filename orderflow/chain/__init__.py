"""The chain stage: Polygon logs in, trades and the token registry out.

Modules (one concern each):

* ``contracts`` — addresses, topic0 constants, the subscription filter (``ChainAddresses``);
* ``tokens`` — CTF position ids and ExchangeV3 structured ids (pure math, cached);
* ``events`` — the decoded event dataclasses (``Fill``, ``Match`` …, ``DeadLetter``);
* ``fields`` — parsers of a raw log's hex fields, each failing with the field's name;
* ``decode`` — raw JSON-RPC logs → events, pure and fast (``decode_log``, ``decode_batch``;
  no event loop: a decoding process imports it); ``decode_events`` —
  one decoder per (emitter, topic0) and the tables that choose them;
* ``amounts`` — a match's taker fill gets the amounts its makers executed;
* ``storable`` — any value a node or a file carries made storable (dead letters), and JSON
  parsing that survives hostile documents;
* ``encode`` — the inverse, building raw logs exactly as the contracts emit them;
  ``encode_trades`` — OrderFilled / OrdersMatched from a trade's terms; ``encode_ctf`` — the
  CTF's position events;
* ``store`` (+ ``store_sql``) — one PostgreSQL transaction per batch: rows, registry, dead
  letters, checkpoint (``store_markets``: its conditions, registry, resolutions); ``rollback``
  (+ ``rollback_sql``) — ``rollback_from`` for reorgs; ``store_refused`` — the staged rows the
  store refuses, as dead letters; ``store_refunds`` — FeeModule refunds stored;
  ``refund_links`` — each linked to its fill;
  ``store_guard`` — a value the database refuses costs only its log;
* ``ingest`` — JSON-lines files of raw logs through decode + store;
* ``rpc`` (+ ``rpc_http``, ``rpc_ws``), ``backfill``, ``live``, ``listener``, ``reorg``,
  ``settings`` — the listener; ``provider_errors`` and ``db_errors`` — what each provider's
  and PostgreSQL's errors mean.
"""
