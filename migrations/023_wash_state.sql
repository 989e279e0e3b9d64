-- The incremental counterparty evidence (issue 14; docs/scaling.md 3.3, docs/reputation.md
-- "Speed: aggregates and incremental runs"): WASH's exact partial sums kept per
-- (wallet, counterparty, market, bucket), so an hourly run recomputes only the buckets around
-- changed fills (orderflow.reputation.wash_state).
--
-- The tables are written only by the reputation run (a live full run builds them, an incremental
-- run replaces the cells of the buckets it recomputes); orderflow_wash_state says whether they
-- are current and for which SQL and settings. New fills are found by orderflow_trades.id (every
-- writer holds the writer lock, so ids commit in order): inserts pay nothing. Deletes (reorg
-- rollbacks) and updates of a column WASH reads (fee refunds, market ids back-filled) log the
-- changed rows' (token, market key, time) in orderflow_wash_dirty, taken by the next run.

CREATE TABLE orderflow_wash_state (
    id          BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (id),
    valid       BOOLEAN     NOT NULL,
    fingerprint TEXT,                  -- the SQL and settings that made the tables
    last_id     BIGINT,                -- orderflow_trades.id: rows up to it are counted
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per (wallet, counterparty, market key, bucket) with a match: the pair's volume and
-- fills there, and the sums of pass 1 and pass 2 over the wallet's rows against that
-- counterparty (NULL where the wallet has no prevailing price in that bucket).
CREATE TABLE orderflow_wash_cells (
    w    evm_address NOT NULL,
    cp   evm_address NOT NULL,
    mk   TEXT        NOT NULL,  -- coalesce(market_id, token_id), as WASH keys a market
    b    BIGINT      NOT NULL,  -- the bucket (wash_window_secs)
    vol  NUMERIC     NOT NULL,
    n    BIGINT      NOT NULL,
    ref1 BOOLEAN     NOT NULL,  -- pass 1 has a prevailing price here
    p1n  BIGINT,                -- pass 1: off-market fills and their volume
    p1v  NUMERIC,
    ref2 BOOLEAN     NOT NULL,  -- pass 2 has a prevailing price here
    s2   NUMERIC,               -- pass 2: volume, sum of size x distance, off-market fills
    sd2  NUMERIC,
    p2n  BIGINT,
    p2v  NUMERIC,
    tks  NUMERIC,               -- pass 2, the wallet's rows as the taker: volume, off volume,
    tkv  NUMERIC,               -- off fills (the off-market fraction of its taker rows)
    tkn  BIGINT,
    PRIMARY KEY (w, cp, mk, b)
);
CREATE INDEX orderflow_wash_cells_bucket ON orderflow_wash_cells (mk, b);

-- The off-market part of a wallet's taker rows per (token, market key, bucket): WASH's offtok
-- sums (NUMERIC) before the per-(wallet, token) total.
CREATE TABLE orderflow_wash_taker (
    w        evm_address NOT NULL,
    token_id uint256     NOT NULL,
    mk       TEXT        NOT NULL,
    b        BIGINT      NOT NULL,
    tb       NUMERIC,
    tcb      NUMERIC,
    ts       NUMERIC,
    tr       NUMERIC,
    tfee     NUMERIC,
    PRIMARY KEY (w, token_id, mk, b)
);
CREATE INDEX orderflow_wash_taker_bucket ON orderflow_wash_taker (mk, b);

-- Per pair (both directions): volume and fills together, and w's off-market volume and fills
-- against cp (pass 2): the sums of the pair's cells.
CREATE TABLE orderflow_wash_pairs (
    w       evm_address NOT NULL,
    cp      evm_address NOT NULL,
    vol     NUMERIC     NOT NULL,
    n       BIGINT      NOT NULL,
    off_vol NUMERIC,
    off_n   BIGINT      NOT NULL,
    PRIMARY KEY (w, cp)
);

-- Per wallet: its share volume (WASH's tot, to see it move), the sums of its cells and its
-- pass-1 verdict (off1).
CREATE TABLE orderflow_wash_wallets (
    w    evm_address PRIMARY KEY,
    tot  NUMERIC,
    ref1 BOOLEAN NOT NULL,
    p1n  NUMERIC,
    p1v  NUMERIC,
    off1 BOOLEAN NOT NULL,
    ref2 BOOLEAN NOT NULL,
    s2   NUMERIC,
    sd2  NUMERIC,
    p2n  NUMERIC,
    p2v  NUMERIC
);

-- Each wallet's top wash_top_k counterparties (WASH's `ranked`, r <= k): the groups a wallet is
-- a member of, looked up by member.
CREATE TABLE orderflow_wash_members (
    w  evm_address NOT NULL,
    cp evm_address NOT NULL,
    PRIMARY KEY (w, cp)
);
CREATE INDEX orderflow_wash_members_cp ON orderflow_wash_members (cp);

-- The tokens of each market key (to read a market's buckets through the token index).
CREATE TABLE orderflow_wash_tokens (
    mk       TEXT    NOT NULL,
    token_id uint256 NOT NULL,
    PRIMARY KEY (mk, token_id)
);

-- Changed rows (deleted; updated in a column WASH reads: old and new) since the last run.
CREATE TABLE orderflow_wash_dirty (
    token_id uint256     NOT NULL,
    mk       TEXT        NOT NULL,
    ts       TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION orderflow_wash_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orderflow_wash_dirty (token_id, mk, ts)
    SELECT DISTINCT o.token_id, coalesce(o.market_id::text, o.token_id::text), o.timestamp
      FROM old_rows o;
    RETURN NULL;
END;
$$;

CREATE FUNCTION orderflow_wash_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orderflow_wash_dirty (token_id, mk, ts)
    WITH changed AS (
        SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.wallet_address::text, o.taker_address::text, o.exchange::text,
                o.is_taker_aggregate, o.side, o.token_id::numeric, o.market_id::text,
                o.outcome_index, o.timestamp, o.price, o.size, o.usdc_size, o.fee, o.fee_asset)
               IS DISTINCT FROM
               (n.wallet_address::text, n.taker_address::text, n.exchange::text,
                n.is_taker_aggregate, n.side, n.token_id::numeric, n.market_id::text,
                n.outcome_index, n.timestamp, n.price, n.size, n.usdc_size, n.fee, n.fee_asset)
    )
    SELECT DISTINCT r.token_id, coalesce(r.market_id::text, r.token_id::text), r.timestamp
      FROM (SELECT token_id, market_id, timestamp FROM old_rows WHERE id IN (SELECT id FROM changed)
            UNION ALL
            SELECT token_id, market_id, timestamp FROM new_rows WHERE id IN (SELECT id FROM changed)) r;
    RETURN NULL;
END;
$$;

CREATE TRIGGER orderflow_trades_wash_delete
    AFTER DELETE ON orderflow_trades
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_wash_on_delete();

CREATE TRIGGER orderflow_trades_wash_update
    AFTER UPDATE ON orderflow_trades
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_wash_on_update();

-- A TRUNCATE (tests, a reset) leaves the tables stale: the next run rebuilds them.
CREATE FUNCTION orderflow_wash_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE orderflow_wash_state SET valid = FALSE, updated_at = now();
    RETURN NULL;
END;
$$;

CREATE TRIGGER orderflow_trades_wash_truncate
    AFTER TRUNCATE ON orderflow_trades
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_wash_on_truncate();
