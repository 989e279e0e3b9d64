-- Per-(wallet, token) sums of orderflow_trades, kept current by statement triggers, so the live
-- reputation run reads one narrow row per position instead of scanning every fill
-- (docs/scaling.md 3.3, docs/reputation.md "Speed: aggregates and incremental runs").
--
-- The columns are exactly the sums of queries.POSITIONS' `agg` (integer micro-units, fees, counts,
-- first/last times; NUMERIC, so no fill the trades table accepts can fail the trigger), so a
-- position read from here equals one aggregated from the trades. Sums are corrected by
-- subtraction when fills are deleted (rollback_from on a reorg) or updated (fee refunds, market
-- ids back-filled); the min/max columns, which do not subtract, are recomputed for the touched
-- keys from orderflow_trades by index (reorgs are small).
-- A key whose fills all went keeps a row with fills = 0 until the next run has seen it.
-- `dirty` marks keys changed since the last live run took them (the incremental run's input).

CREATE TABLE orderflow_position_sums (
    wallet_address      evm_address   NOT NULL,  -- the trades' types: the run's rows keep them
    token_id            uint256       NOT NULL,
    trade_market_id     TEXT COLLATE "C",
    trade_outcome_index SMALLINT,
    fills               BIGINT        NOT NULL,
    bought_gross_u      NUMERIC        NOT NULL,
    paid_gross_u        NUMERIC        NOT NULL,
    sold_gross_u        NUMERIC        NOT NULL,
    received_gross_u    NUMERIC        NOT NULL,
    fee_buy_shares      NUMERIC       NOT NULL,
    fee_buy_usdc        NUMERIC       NOT NULL,
    fee_sell_shares     NUMERIC       NOT NULL,
    fee_sell_usdc       NUMERIC       NOT NULL,
    fee_share_value     NUMERIC       NOT NULL,
    tb_u                NUMERIC        NOT NULL,
    tcb_u               NUMERIC        NOT NULL,
    ts_u                NUMERIC        NOT NULL,
    tr_u                NUMERIC        NOT NULL,
    taker_fee           NUMERIC       NOT NULL,
    penny_u             NUMERIC        NOT NULL,
    taker_first_at      TIMESTAMPTZ,
    first_at            TIMESTAMPTZ,
    last_at             TIMESTAMPTZ,
    dirty               BOOLEAN       NOT NULL DEFAULT TRUE,
    PRIMARY KEY (wallet_address, token_id)
);
CREATE INDEX orderflow_position_sums_token ON orderflow_position_sums (token_id);
CREATE INDEX orderflow_position_sums_dirty ON orderflow_position_sums (wallet_address)
    WHERE dirty;

-- The one definition of the sums: SELECT wallet_address, token_id, <sums> FROM <src> GROUP BY the
-- key. <src> is a transition table or a subquery over orderflow_trades. Keep in step with
-- queries.POSITIONS (tests/reputation/test_incremental.py compares them).
CREATE FUNCTION orderflow_position_sums_sql(src TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($q$
SELECT t.wallet_address::text AS wallet_address, t.token_id::numeric AS token_id,
       min(t.market_id::text COLLATE "C") AS trade_market_id,
       min(t.outcome_index) AS trade_outcome_index,
       count(*) AS fills,
       coalesce(sum(t.s) FILTER (WHERE t.buy), 0) AS bought_gross_u,
       coalesce(sum(t.c) FILTER (WHERE t.buy), 0) AS paid_gross_u,
       coalesce(sum(t.s) FILTER (WHERE NOT t.buy), 0) AS sold_gross_u,
       coalesce(sum(t.c) FILTER (WHERE NOT t.buy), 0) AS received_gross_u,
       coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.buy AND t.fee_asset = 'SHARES'), 0)
           AS fee_buy_shares,
       coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.buy AND t.fee_asset = 'COLLATERAL'), 0)
           AS fee_buy_usdc,
       coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND NOT t.buy AND t.fee_asset = 'SHARES'), 0)
           AS fee_sell_shares,
       coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND NOT t.buy
                                   AND t.fee_asset = 'COLLATERAL'), 0) AS fee_sell_usdc,
       coalesce(sum(t.fee * t.price) FILTER (WHERE t.fee > 0 AND t.fee_asset = 'SHARES'), 0)
           AS fee_share_value,
       coalesce(sum(t.s) FILTER (WHERE t.taker AND t.buy), 0) AS tb_u,
       coalesce(sum(t.c) FILTER (WHERE t.taker AND t.buy), 0) AS tcb_u,
       coalesce(sum(t.s) FILTER (WHERE t.taker AND NOT t.buy), 0) AS ts_u,
       coalesce(sum(t.c) FILTER (WHERE t.taker AND NOT t.buy), 0) AS tr_u,
       coalesce(sum(CASE WHEN t.fee_asset = 'SHARES' THEN t.fee * t.price ELSE t.fee END)
                FILTER (WHERE t.taker AND t.fee > 0), 0) AS taker_fee,
       coalesce(sum(t.c) FILTER (WHERE t.buy AND t.price > 0.9), 0) AS penny_u,
       min(t.timestamp) FILTER (WHERE t.taker) AS taker_first_at,
       min(t.timestamp) AS first_at,
       max(t.timestamp) AS last_at
  FROM (SELECT g.wallet_address, g.token_id, g.market_id, g.outcome_index, g.timestamp,
               g.price, g.fee, g.fee_asset, g.is_taker_aggregate AS taker,
               g.side = 'BUY' AS buy,
               (g.size * 1000000)::numeric(38, 0) AS s,
               (g.usdc_size * 1000000)::numeric(38, 0) AS c
          FROM %s g) AS t
 GROUP BY t.wallet_address, t.token_id
$q$, src)
$f$;

-- The additive columns (everything but the key and the min/max columns).
CREATE FUNCTION orderflow_position_sums_additive() RETURNS TEXT[]
LANGUAGE sql IMMUTABLE AS $f$
SELECT ARRAY['fills', 'bought_gross_u', 'paid_gross_u', 'sold_gross_u', 'received_gross_u',
             'fee_buy_shares', 'fee_buy_usdc', 'fee_sell_shares', 'fee_sell_usdc',
             'fee_share_value', 'tb_u', 'tcb_u', 'ts_u', 'tr_u', 'taker_fee', 'penny_u']
$f$;

-- These three return the statement (run by the trigger functions: only they see the transition
-- tables). Add the sums of <src> (a transition table of inserted or updated-to rows). The wallet
-- counters of orderflow_wallet_stats (total_trades, volume, first/last trade) come from the same
-- grouped rows: one pass over the batch for both (this replaces migration 001's
-- orderflow_trades_wallet_stats trigger; rollback_from still undoes the counters itself).
CREATE FUNCTION orderflow_position_sums_add_sql(src TEXT, counters BOOLEAN) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
    adds TEXT := (SELECT string_agg(format('%1$I = a.%1$I + EXCLUDED.%1$I', c), ', ')
                    FROM unnest(orderflow_position_sums_additive()) c);
BEGIN
    RETURN format($q$
WITH s AS (%s), up AS (
    INSERT INTO orderflow_position_sums AS a
    SELECT s.*, TRUE FROM s
    ON CONFLICT (wallet_address, token_id) DO UPDATE SET %s,
        trade_market_id = least(a.trade_market_id, EXCLUDED.trade_market_id),
        trade_outcome_index = least(a.trade_outcome_index, EXCLUDED.trade_outcome_index),
        taker_first_at = least(a.taker_first_at, EXCLUDED.taker_first_at),
        first_at = least(a.first_at, EXCLUDED.first_at),
        last_at = greatest(a.last_at, EXCLUDED.last_at),
        dirty = TRUE
)
INSERT INTO orderflow_wallet_stats AS w
       (wallet_address, total_trades, total_volume_usdc, first_trade_at, last_trade_at,
        updated_at)
SELECT s.wallet_address, sum(s.fills), sum(s.paid_gross_u + s.received_gross_u) / 1000000,
       min(s.first_at), max(s.last_at), now()
  FROM s
 WHERE %L
 GROUP BY s.wallet_address
ON CONFLICT (wallet_address) DO UPDATE SET
    total_trades      = w.total_trades + EXCLUDED.total_trades,
    total_volume_usdc = w.total_volume_usdc + EXCLUDED.total_volume_usdc,
    first_trade_at    = LEAST(w.first_trade_at, EXCLUDED.first_trade_at),
    last_trade_at     = GREATEST(w.last_trade_at, EXCLUDED.last_trade_at),
    updated_at        = now()
$q$, orderflow_position_sums_sql(src), adds, counters);
END;
$f$;

-- Subtract the sums of <src> (a transition table of deleted or updated-from rows).
CREATE FUNCTION orderflow_position_sums_subtract_sql(src TEXT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
    subs TEXT := (SELECT string_agg(format('%1$I = a.%1$I - s.%1$I', c), ', ')
                    FROM unnest(orderflow_position_sums_additive()) c);
BEGIN
    RETURN format($q$
UPDATE orderflow_position_sums a SET %s, dirty = TRUE
  FROM (%s) s
 WHERE a.wallet_address = s.wallet_address AND a.token_id = s.token_id
$q$, subs, orderflow_position_sums_sql(src));
END;
$f$;

-- Recompute the min/max columns of the keys in <src> from what orderflow_trades holds now.
CREATE FUNCTION orderflow_position_sums_rebound_sql(src TEXT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    RETURN format($q$
UPDATE orderflow_position_sums a
   SET trade_market_id = r.trade_market_id, trade_outcome_index = r.trade_outcome_index,
       taker_first_at = r.taker_first_at, first_at = r.first_at, last_at = r.last_at,
       dirty = TRUE
  FROM (SELECT DISTINCT wallet_address::text AS wallet_address, token_id::numeric AS token_id
          FROM %s) k
 CROSS JOIN LATERAL (
       SELECT min(t.market_id::text COLLATE "C") AS trade_market_id,
              min(t.outcome_index) AS trade_outcome_index,
              min(t.timestamp) FILTER (WHERE t.is_taker_aggregate) AS taker_first_at,
              min(t.timestamp) AS first_at, max(t.timestamp) AS last_at
         FROM orderflow_trades t
        WHERE t.wallet_address = k.wallet_address AND t.token_id = k.token_id) r
 WHERE a.wallet_address = k.wallet_address AND a.token_id = k.token_id
$q$, src);
END;
$f$;

-- The insert trigger (every batch of the hot path) runs the statement as static SQL, written
-- into its body here: its plan is cached per session instead of made for every batch.
DO $$
BEGIN
    EXECUTE format(
        'CREATE FUNCTION orderflow_position_sums_on_insert() RETURNS trigger'
        ' LANGUAGE plpgsql AS %L',
        'BEGIN ' || orderflow_position_sums_add_sql('new_rows', TRUE) || '; RETURN NULL; END;');
END;
$$;

CREATE FUNCTION orderflow_position_sums_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE orderflow_position_sums_subtract_sql('old_rows');
    EXECUTE orderflow_position_sums_rebound_sql('old_rows');
    RETURN NULL;
END;
$$;

-- An update (fee refund, market id back-fill) moves its rows' contributions: subtract the old,
-- add the new, for the rows where a column the sums read changed (transition tables cannot go
-- with a column list, so the match linking's update of match_log_index finds no such row and
-- costs one join of the batch). The min/max columns only need recomputing when an old value may
-- have been the extreme: a changed time, taker flag or key, or a market id / outcome changed from
-- a value (NULL -> value, the back-fill, is covered by least()).
CREATE FUNCTION orderflow_position_sums_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- the ids of the rows where a column the sums read changed
    changed CONSTANT TEXT := $q$
        SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.wallet_address::text, o.token_id::numeric, o.market_id::text, o.outcome_index,
                o.timestamp, o.price, o.size, o.usdc_size, o.fee, o.fee_asset, o.side,
                o.is_taker_aggregate)
               IS DISTINCT FROM
               (n.wallet_address::text, n.token_id::numeric, n.market_id::text, n.outcome_index,
                n.timestamp, n.price, n.size, n.usdc_size, n.fee, n.fee_asset, n.side,
                n.is_taker_aggregate)$q$;
    any_changed BOOLEAN;
BEGIN
    EXECUTE format('SELECT EXISTS (%s)', changed) INTO any_changed;
    IF NOT any_changed THEN
        RETURN NULL;
    END IF;
    EXECUTE orderflow_position_sums_subtract_sql(
        format('(SELECT * FROM old_rows WHERE id IN (%s))', changed));
    EXECUTE orderflow_position_sums_add_sql(
        format('(SELECT * FROM new_rows WHERE id IN (%s))', changed), FALSE);
    IF EXISTS (
        SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.timestamp, o.is_taker_aggregate, o.wallet_address::text, o.token_id::numeric)
               IS DISTINCT FROM
               (n.timestamp, n.is_taker_aggregate, n.wallet_address::text, n.token_id::numeric)
            OR (o.market_id IS NOT NULL AND o.market_id IS DISTINCT FROM n.market_id)
            OR (o.outcome_index IS NOT NULL AND o.outcome_index IS DISTINCT FROM n.outcome_index))
    THEN
        EXECUTE orderflow_position_sums_rebound_sql('old_rows');
        EXECUTE orderflow_position_sums_rebound_sql('new_rows');
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER orderflow_trades_wallet_stats ON orderflow_trades;
DROP FUNCTION update_wallet_stats();

CREATE TRIGGER orderflow_trades_position_sums_insert
    AFTER INSERT ON orderflow_trades
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_position_sums_on_insert();

CREATE TRIGGER orderflow_trades_position_sums_delete
    AFTER DELETE ON orderflow_trades
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_position_sums_on_delete();

CREATE TRIGGER orderflow_trades_position_sums_update
    AFTER UPDATE ON orderflow_trades
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_position_sums_on_update();

-- Changes outside the trades that move positions: a resolution (judged, P&L), a condition (its
-- event: neg-risk legs share one), a registry row (the market of a token whose fills had none).
-- The incremental run rescores every holder of the tokens concerned.
CREATE TABLE orderflow_reputation_dirty_markets (
    market_id TEXT PRIMARY KEY
);
CREATE TABLE orderflow_reputation_dirty_tokens (
    token_id NUMERIC PRIMARY KEY
);

CREATE FUNCTION orderflow_reputation_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV[0]: the column naming the market; tokens also mark themselves
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('INSERT INTO orderflow_reputation_dirty_markets'
                       ' SELECT DISTINCT %I FROM old_rows ON CONFLICT DO NOTHING', TG_ARGV[0]);
        IF TG_TABLE_NAME = 'orderflow_tokens' THEN
            INSERT INTO orderflow_reputation_dirty_tokens
            SELECT DISTINCT token_id FROM old_rows ON CONFLICT DO NOTHING;
        END IF;
    ELSE
        EXECUTE format('INSERT INTO orderflow_reputation_dirty_markets'
                       ' SELECT DISTINCT %I FROM new_rows ON CONFLICT DO NOTHING', TG_ARGV[0]);
        IF TG_TABLE_NAME = 'orderflow_tokens' THEN
            INSERT INTO orderflow_reputation_dirty_tokens
            SELECT DISTINCT token_id FROM new_rows ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER orderflow_market_outcomes_mark_insert AFTER INSERT ON orderflow_market_outcomes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark('market_id');
CREATE TRIGGER orderflow_market_outcomes_mark_update AFTER UPDATE ON orderflow_market_outcomes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark('market_id');
CREATE TRIGGER orderflow_market_outcomes_mark_delete AFTER DELETE ON orderflow_market_outcomes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark('market_id');
CREATE TRIGGER orderflow_conditions_mark_insert AFTER INSERT ON orderflow_conditions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark('condition_id');
CREATE TRIGGER orderflow_conditions_mark_update AFTER UPDATE ON orderflow_conditions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark('condition_id');
CREATE TRIGGER orderflow_conditions_mark_delete AFTER DELETE ON orderflow_conditions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark('condition_id');
CREATE TRIGGER orderflow_tokens_mark_insert AFTER INSERT ON orderflow_tokens
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark('condition_id');
CREATE TRIGGER orderflow_tokens_mark_update AFTER UPDATE ON orderflow_tokens
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark('condition_id');
CREATE TRIGGER orderflow_tokens_mark_delete AFTER DELETE ON orderflow_tokens
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark('condition_id');

-- Whether the stored per-wallet inputs of the last live full run (orderflow_reputation_inputs,
-- orderflow_reputation_wash: created by the run itself, with the columns its SQL produces) are
-- current, and for which SQL and settings (orderflow.reputation.incremental).
CREATE TABLE orderflow_reputation_state (
    id          BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (id),
    valid       BOOLEAN     NOT NULL,
    fingerprint TEXT,
    as_of       TIMESTAMPTZ,  -- the cut-off of the run that left them
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The present state, once (a large database: one scan of orderflow_trades). Not marked dirty:
-- there are no stored inputs yet, so the first run is a full one and reads every row anyway.
DO $$
BEGIN
    EXECUTE 'INSERT INTO orderflow_position_sums SELECT s.*, FALSE FROM ('
            || orderflow_position_sums_sql('orderflow_trades') || ') s';
END;
$$;
