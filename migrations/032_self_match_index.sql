-- A wallet's fills against its own orders (maker = taker), found by a small partial index: the
-- reputation run takes the taker part of such a match out of the wallet's decisions
-- (orderflow.reputation.evidence_sql.VOID; docs/reputation.md "A match against oneself is no
-- decision"), reading the maker rows that name their own wallet as the taker. They are rare:
-- the index holds those rows only. A partitioned index (built on every partition).
CREATE INDEX orderflow_trades_self_match
    ON orderflow_trades (wallet_address) WHERE taker_address = wallet_address;
