"""The chain stage: Polygon logs in, trades and the token registry out.

Modules (one concern each):

* ``contracts`` — addresses, topic0 constants, the subscription filter (``ChainAddresses``);
* ``tokens`` — CTF position ids and ExchangeV3 structured ids (pure math, cached);
* ``events`` — the decoded event dataclasses (``Fill``, ``Match`` …, ``DeadLetter``);
* ``decode`` — raw JSON-RPC logs → events, pure and fast (``decode_log``, ``decode_batch``);
* ``encode`` — the inverse, building raw logs exactly as the contracts emit them;
* ``store`` — one PostgreSQL transaction per batch: rows, registry, dead letters, checkpoint;
* ``ingest`` — JSON-lines files of raw logs through decode + store;
* ``rpc``, ``backfill``, ``live``, ``listener``, ``reorg``, ``settings`` — the listener.
"""
