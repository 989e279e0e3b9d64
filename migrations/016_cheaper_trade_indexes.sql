-- Cheaper indexes on the ingest hot path (issue 14; docs/scaling.md §3.2, docs/benchmarks.md
-- "Ingest: cost per index"). Measured per index on the real store path
-- (benchmarks/ingest_indexes.py): the random-key btrees over 66-character text are what an
-- insert pays for; the ones below serve their readers as well in a cheaper form, or have none.
--
-- * <table>_tx (chain_id, tx_hash, log_index), btree -> hash (tx_hash), on orderflow_trades and
--   orderflow_matches. Its readers look transactions up by equality only: the store's match links
--   (store_sql.LINK_MATCHES: t.tx_hash = m.tx_hash, and tx_hash = ANY(...) on the matches) and
--   fee-refund links (store_refunds: tx_hash = ANY(...), and tx_hash = l.tx_hash AND log_index =
--   ...), lookups by transaction. A hash index stores a 4-byte hash code per row instead of a
--   ~80-byte key and compares integers instead of collated text; chain_id and log_index are
--   checked on the few heap rows of the transaction (a transaction has a handful of logs). It
--   keeps the name, so what names the index still finds it. Hash indexes are WAL-logged and
--   crash-safe (PostgreSQL 10+).
-- * <table>_market (market_id, timestamp): dropped on both tables. No statement filters or
--   orders either table by market_id (the reputation run reads markets through the
--   per-(wallet, token) sums and the token registry; the readers by market go through the token
--   index); it cost a btree insert per fill and per match.
--
-- The other indexes stay: the primary key (identity, ON CONFLICT, rollback); <table>_id (the
-- executor's cursor, max(id), the fold's and the bulk mode's id ranges); wallet_time (one
-- wallet's fills in time order, the reorg's recomputed first/last times); token_time (last price
-- and windows per token); timestamp (time windows, the partitions' time covers): the last two are
-- inserted in increasing order (rightmost leaf, cheap) and measured within the noise.
--
-- On a partitioned table the indexes are partitioned indexes: each statement below builds or
-- drops them on every partition (SHARE / ACCESS EXCLUSIVE locks for the migration's duration),
-- and a partition made later (orderflow_ensure_partitions: ATTACH PARTITION) gets them too. A
-- partition detached before this migration (`orderflow db partitions detach`) and attached after
-- it gets the hash index built by ATTACH PARTITION; its old btrees stay until dropped by hand.
--
-- The store's lookups by transaction check the chain as a filter, not an index condition
-- (store_sql.CHAIN_FILTER): with the chain an index condition, a generic plan could AND the hash
-- index with the primary key's chain_id prefix, which matches every row.

DROP INDEX orderflow_trades_market;
DROP INDEX orderflow_matches_market;

ALTER INDEX orderflow_trades_tx RENAME TO orderflow_trades_tx_btree;
CREATE INDEX orderflow_trades_tx ON orderflow_trades USING hash (tx_hash);
DROP INDEX orderflow_trades_tx_btree;

ALTER INDEX orderflow_matches_tx RENAME TO orderflow_matches_tx_btree;
CREATE INDEX orderflow_matches_tx ON orderflow_matches USING hash (tx_hash);
DROP INDEX orderflow_matches_tx_btree;
