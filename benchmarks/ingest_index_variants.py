"""The schema variants of ``benchmarks/ingest_indexes.py``: DDL applied to the migrated schema
(docs/benchmarks.md "Ingest: cost per index"), by name (:data:`VARIANTS`): "072" (as migrated),
"indexed while importing" (as before migration 072), "before 016" (main's indexes then), and,
from that schema, one index or trigger dropped or replaced."""

from __future__ import annotations

_T = "orderflow_trades"
# name -> DDL applied after the migrations (none: the schema as migrated)
_M = "orderflow_matches"
# The schema before migration 016: market indexes, btree (chain_id, tx_hash, log_index).
BEFORE_016 = "; ".join(
    f"DROP INDEX IF EXISTS {t}_tx; DROP INDEX IF EXISTS {t}_market;"
    f" CREATE INDEX {t}_tx ON {t} (chain_id, tx_hash, log_index);"
    f" CREATE INDEX {t}_market ON {t} (market_id, timestamp)"
    for t in (_T, _M)
)
# Migration 072: the deferrable indexes are each partition's own, left out of a partition a bulk
# import starts empty and built at its end ("build"). NO_DEFER keeps them while importing (the
# store before 072); _defs(...) changes the set a partition gets (and drops that index from the
# partitions that have it), so a variant can leave one out or replace it.
NO_DEFER = (
    "CREATE OR REPLACE FUNCTION orderflow_trade_indexes_defer(blocks BIGINT[]) RETURNS INTEGER"
    " LANGUAGE sql AS 'SELECT orderflow_ensure_partitions_of(blocks)'"
)
_DEFS = {
    "wallet_time": ("(wallet_address, timestamp)", 'btree (wallet_address, "timestamp")'),
    "token_time": (
        "(token_id, timestamp, log_index) INCLUDE (price, block_number)",
        'btree (token_id, "timestamp", log_index) INCLUDE (price, block_number)',
    ),
    "timestamp": ("(timestamp)", 'btree ("timestamp")'),
    "self_match": (
        "(wallet_address) WHERE taker_address = wallet_address",
        "btree (wallet_address) WHERE ((taker_address)::text = (wallet_address)::text)",
    ),
}


def _defs(suffix: str, replacement: tuple[str, str] | None = None) -> str:
    """DDL: the partitions' ``suffix`` index left out (or replaced); none deferred."""
    defs = dict(_DEFS)
    defs.pop(suffix)
    if replacement is not None:
        defs[suffix] = replacement
    rows = ", ".join(
        "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in (s, d, p)) + ")"
        for s, (d, p) in defs.items()
    )
    return (
        f"{NO_DEFER}; CREATE OR REPLACE FUNCTION orderflow_trade_index_defs()"
        " RETURNS TABLE (suffix TEXT, ddl TEXT, printed TEXT) LANGUAGE sql IMMUTABLE AS"
        f" $d$ VALUES {rows} $d$;"
        " DO $x$ DECLARE r RECORD; BEGIN FOR r IN SELECT relname FROM pg_class"
        f" WHERE relkind = 'i' AND relname ~ '^{_T}_p[0-9]{{4,}}_{suffix}$' LOOP"
        " EXECUTE format('DROP INDEX %I', r.relname); END LOOP;"
        " PERFORM orderflow_trade_indexes_build(p) FROM orderflow_trade_indexes_missing() p;"
        " END $x$"
    )


# name -> DDL applied after the migrations (none: the schema as migrated); the one-at-a-time
# variants start from the schema before migration 016, as measured for it.
VARIANTS: dict[str, str] = {
    "072": "",
    "indexed while importing": NO_DEFER,
    "before 016": f"{NO_DEFER}; {BEFORE_016}",
    # both built by CREATE INDEX in the transaction, as "before 016" is (batch mode)
    "016 rebuilt": "; ".join(
        f"DROP INDEX {t}_tx; CREATE INDEX {t}_tx ON {t} USING hash (tx_hash)" for t in (_T, _M)
    ),
    # migration 028's covering token index against the narrow one it replaced, both built in
    # the transaction
    "token_time covering": _defs("token_time", _DEFS["token_time"]),
    "token_time narrow": _defs(
        "token_time", ("(token_id, timestamp)", 'btree (token_id, "timestamp")')
    ),
}
for _name, _ddl in {
    "-tx": f"DROP INDEX {_T}_tx",
    "-id": f"DROP INDEX {_T}_id",
    "-wallet_time": _defs("wallet_time"),
    "-market": f"DROP INDEX {_T}_market",
    "-token_time": _defs("token_time"),
    "-timestamp": _defs("timestamp"),
    "-sums_trigger": f"DROP TRIGGER {_T}_position_sums_insert ON {_T}",
    "-notify_trigger": f"DROP TRIGGER {_T}_notify ON {_T}",
    "-ranges_trigger": f"DROP TRIGGER {_T}_ranges_insert ON {_T}",
    "-sums_token": "DROP INDEX orderflow_position_sums_token",  # what the fold writes
    "tx_hash": f"DROP INDEX {_T}_tx; CREATE INDEX {_T}_tx ON {_T} USING hash (tx_hash)",
    "timestamp_brin": (
        f"DROP INDEX {_T}_timestamp; CREATE INDEX {_T}_timestamp ON {_T} USING brin (timestamp)"
    ),
    "id_brin": f"DROP INDEX {_T}_id; CREATE INDEX {_T}_id ON {_T} USING brin (id)",
    "-market,tx_hash": (
        f"DROP INDEX {_T}_market; DROP INDEX {_T}_tx;"
        f" CREATE INDEX {_T}_tx ON {_T} USING hash (tx_hash)"
    ),
}.items():
    VARIANTS[_name] = f"{NO_DEFER}; {BEFORE_016}; {_ddl}"
