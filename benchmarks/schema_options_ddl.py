"""The candidate trades-table designs ``benchmarks/schema_options.py`` measures: each option's
DDL and insert statements, and the client-side dictionary cache of the id-keyed options."""

from __future__ import annotations

from typing import Any

import asyncpg

NOTIFY_ONLY = """
CREATE OR REPLACE FUNCTION notify_new_trades_v2() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n BIGINT; lo BIGINT; hi BIGINT;
BEGIN
    SELECT min(id), max(id), count(*) INTO lo, hi, n FROM new_rows;
    IF n > 0 THEN
        PERFORM pg_notify('orderflow_trades',
                          json_build_object('min_id', lo, 'max_id', hi, 'count', n)::text);
    END IF;
    RETURN NULL;
END $$;
"""

BYTEA_TABLE = """
CREATE TABLE t (
    id BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    chain_id INTEGER NOT NULL, tx_hash BYTEA NOT NULL, log_index INTEGER NOT NULL,
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, timestamp TIMESTAMPTZ NOT NULL,
    exchange BYTEA NOT NULL, exchange_version TEXT NOT NULL, order_hash BYTEA NOT NULL,
    wallet_address BYTEA NOT NULL, taker_address BYTEA NOT NULL,
    is_taker_aggregate BOOLEAN NOT NULL, side TEXT NOT NULL, token_id NUMERIC(78,0) NOT NULL,
    market_id BYTEA, outcome_index SMALLINT, price NUMERIC(20,10) NOT NULL,
    size NUMERIC(38,6) NOT NULL, usdc_size NUMERIC(38,6) NOT NULL, fee NUMERIC(38,6) NOT NULL,
    fee_asset TEXT NOT NULL, builder BYTEA, metadata BYTEA, match_log_index INTEGER,
    traceparent TEXT, inserted_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (chain_id, tx_hash, log_index));
CREATE INDEX ON t (wallet_address, timestamp);
CREATE INDEX ON t (market_id, timestamp);
CREATE INDEX ON t (token_id, timestamp);
CREATE INDEX ON t (timestamp);
CREATE INDEX ON t (chain_id, block_number);
CREATE TABLE k (token_id NUMERIC(78,0) PRIMARY KEY, condition_id BYTEA, outcome_index SMALLINT);
CREATE TRIGGER t_notify AFTER INSERT ON t REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_new_trades_v2();
CREATE TEMP TABLE s (tx_hash bytea, log_index int, block_number bigint, block_hash bytea,
    ts bigint, exchange bytea, exchange_version text, order_hash bytea, wallet bytea,
    taker bytea, is_taker_aggregate bool, side text, token_id text, shares bigint,
    collateral bigint, fee bigint, fee_asset text, builder bytea, metadata bytea,
    match_log_index int);
"""
BYTEA_INSERT = """
INSERT INTO t (chain_id, tx_hash, log_index, block_number, block_hash, timestamp, exchange,
    exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate, side,
    token_id, market_id, outcome_index, price, size, usdc_size, fee, fee_asset, builder,
    metadata, match_log_index)
SELECT 137, f.tx_hash, f.log_index, f.block_number, f.block_hash, to_timestamp(f.ts),
       f.exchange, f.exchange_version, f.order_hash, f.wallet, f.taker, f.is_taker_aggregate,
       f.side, f.token_id::numeric, k.condition_id, k.outcome_index,
       CASE WHEN f.shares = 0 THEN 0 ELSE f.collateral::numeric / f.shares END,
       f.shares / 1000000.0, f.collateral / 1000000.0, f.fee / 1000000.0, f.fee_asset,
       f.builder, f.metadata, f.match_log_index
  FROM s f LEFT JOIN k ON k.token_id = f.token_id::numeric
ON CONFLICT DO NOTHING
"""


def ids_table(partitioned: bool, indexes: bool) -> str:
    part = " PARTITION BY RANGE (block_number)" if partitioned else ""
    ddl = f"""
CREATE TABLE w (wallet_id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                address BYTEA NOT NULL UNIQUE);
CREATE TABLE k (token_key INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                token_id NUMERIC(78,0) NOT NULL UNIQUE, condition_id BYTEA,
                outcome_index SMALLINT);
CREATE TABLE t (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    chain_id INTEGER NOT NULL, block_number BIGINT NOT NULL, log_index INTEGER NOT NULL,
    tx_hash BYTEA NOT NULL, block_hash BYTEA NOT NULL, timestamp TIMESTAMPTZ NOT NULL,
    exchange SMALLINT NOT NULL, order_hash BYTEA NOT NULL,
    wallet_id INTEGER NOT NULL, taker_id INTEGER NOT NULL,
    is_taker_aggregate BOOLEAN NOT NULL, side "char" NOT NULL, token_key INTEGER NOT NULL,
    price NUMERIC(20,10) NOT NULL,
    size NUMERIC(38,6) NOT NULL, usdc_size NUMERIC(38,6) NOT NULL, fee NUMERIC(38,6) NOT NULL,
    fee_asset "char" NOT NULL, builder BYTEA, metadata BYTEA, match_log_index INTEGER,
    traceparent TEXT, inserted_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (chain_id, block_number, log_index)){part};
"""
    if partitioned:
        for i in range(69, 72):
            lo, hi = i * 1_000_000, (i + 1) * 1_000_000
            ddl += f"CREATE TABLE t_{i} PARTITION OF t FOR VALUES FROM ({lo}) TO ({hi});\n"
    if indexes:
        ddl += IDS_INDEXES
    ddl += """
CREATE TRIGGER t_notify AFTER INSERT ON t REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_new_trades_v2();
CREATE TEMP TABLE s (block_number bigint, log_index int, tx_hash bytea, block_hash bytea,
    ts bigint, exchange smallint, order_hash bytea, wallet_id int, taker_id int,
    is_taker_aggregate bool, side "char", token_key int, shares bigint, collateral bigint,
    fee bigint, fee_asset "char", builder bytea, metadata bytea, match_log_index int);
"""
    return ddl


PART_TEXT = """
ALTER TABLE orderflow_trades RENAME TO orderflow_trades_old;
CREATE TABLE orderflow_trades (
    LIKE orderflow_trades_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY,
    PRIMARY KEY (chain_id, block_number, log_index)) PARTITION BY RANGE (block_number);
CREATE TABLE orderflow_trades_69 PARTITION OF orderflow_trades
    FOR VALUES FROM (69000000) TO (70000000);
CREATE TABLE orderflow_trades_70 PARTITION OF orderflow_trades
    FOR VALUES FROM (70000000) TO (71000000);
CREATE TRIGGER t_notify AFTER INSERT ON orderflow_trades REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_new_trades();
"""
PART_TEXT_INDEXES = """
CREATE INDEX ON orderflow_trades (wallet_address, timestamp);
CREATE INDEX ON orderflow_trades (market_id, timestamp);
CREATE INDEX ON orderflow_trades (token_id, timestamp);
CREATE INDEX ON orderflow_trades (timestamp);
CREATE INDEX ON orderflow_trades (tx_hash);
CREATE INDEX ON orderflow_trades (id);
"""
IDS_INDEXES = """
CREATE INDEX t_wallet ON t (wallet_id, timestamp);
CREATE INDEX t_token ON t (token_key, timestamp);
CREATE INDEX t_time ON t (timestamp);
CREATE INDEX t_tx ON t (tx_hash);
CREATE INDEX t_id ON t (id);
"""
IDS_INSERT = """
INSERT INTO t (chain_id, block_number, log_index, tx_hash, block_hash, timestamp, exchange,
    order_hash, wallet_id, taker_id, is_taker_aggregate, side, token_key, price, size,
    usdc_size, fee, fee_asset, builder, metadata, match_log_index)
SELECT 137, f.block_number, f.log_index, f.tx_hash, f.block_hash, to_timestamp(f.ts),
       f.exchange, f.order_hash, f.wallet_id, f.taker_id, f.is_taker_aggregate, f.side,
       f.token_key, CASE WHEN f.shares = 0 THEN 0 ELSE f.collateral::numeric / f.shares END,
       f.shares / 1000000.0, f.collateral / 1000000.0, f.fee / 1000000.0, f.fee_asset,
       f.builder, f.metadata, f.match_log_index
  FROM s f
ON CONFLICT DO NOTHING
"""


AGG_TABLE = """
CREATE TABLE agg (wallet_id INTEGER NOT NULL, token_key INTEGER NOT NULL, fills BIGINT NOT NULL,
    bought_u BIGINT NOT NULL, paid_u BIGINT NOT NULL, sold_u BIGINT NOT NULL,
    received_u BIGINT NOT NULL, taker_bought_u BIGINT NOT NULL, taker_paid_u BIGINT NOT NULL,
    fees_u BIGINT NOT NULL, first_at TIMESTAMPTZ NOT NULL, last_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (wallet_id, token_key));
"""
AGG_UPSERT = """
INSERT INTO agg AS a
SELECT wallet_id, token_key, count(*),
       coalesce(sum(shares) FILTER (WHERE side = 'B'), 0),
       coalesce(sum(collateral) FILTER (WHERE side = 'B'), 0),
       coalesce(sum(shares) FILTER (WHERE side = 'S'), 0),
       coalesce(sum(collateral) FILTER (WHERE side = 'S'), 0),
       coalesce(sum(shares) FILTER (WHERE side = 'B' AND is_taker_aggregate), 0),
       coalesce(sum(collateral) FILTER (WHERE side = 'B' AND is_taker_aggregate), 0),
       sum(fee), to_timestamp(min(ts)), to_timestamp(max(ts))
  FROM s GROUP BY wallet_id, token_key
ON CONFLICT (wallet_id, token_key) DO UPDATE SET
    fills = a.fills + EXCLUDED.fills, bought_u = a.bought_u + EXCLUDED.bought_u,
    paid_u = a.paid_u + EXCLUDED.paid_u, sold_u = a.sold_u + EXCLUDED.sold_u,
    received_u = a.received_u + EXCLUDED.received_u,
    taker_bought_u = a.taker_bought_u + EXCLUDED.taker_bought_u,
    taker_paid_u = a.taker_paid_u + EXCLUDED.taker_paid_u, fees_u = a.fees_u + EXCLUDED.fees_u,
    first_at = least(a.first_at, EXCLUDED.first_at), last_at = greatest(a.last_at, EXCLUDED.last_at)
"""


class Dictionary:
    """Client-side cache of a dictionary table (address/token -> integer id)."""

    def __init__(self, insert: str) -> None:
        self.ids: dict[Any, int] = {}
        self.insert = insert

    async def resolve(self, conn: asyncpg.Connection, keys: set[Any]) -> None:
        new = [k for k in keys if k not in self.ids]
        if new:
            for key, ident in await conn.fetch(self.insert, new):
                self.ids[key] = ident


W_UPSERT = """
WITH n AS (INSERT INTO w (address) SELECT unnest($1::bytea[]) ON CONFLICT DO NOTHING
           RETURNING address, wallet_id)
SELECT address, wallet_id FROM n
UNION ALL SELECT address, wallet_id FROM w WHERE address = ANY($1::bytea[])
"""
K_UPSERT = """
WITH n AS (INSERT INTO k (token_id) SELECT unnest($1::text[])::numeric ON CONFLICT DO NOTHING
           RETURNING token_id::text, token_key)
SELECT * FROM n
UNION ALL SELECT token_id::text, token_key FROM k WHERE token_id = ANY($1::text[]::numeric[])
"""
