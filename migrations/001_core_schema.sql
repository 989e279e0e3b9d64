-- orderflow core schema: chain ledger (listener), the seed's tables, views and trigger.
--
-- Conventions
--   * addresses, hashes: lower-case 0x-hex TEXT (checked), so SQL users can paste them;
--   * token ids: NUMERIC(78,0) (uint256, exact);
--   * money and share amounts: NUMERIC in units (USDC / shares, 6 decimals on chain), never float;
--   * a fill's identity is (chain_id, tx_hash, log_index) — one transaction carries many fills.

CREATE DOMAIN evm_address AS TEXT CHECK (VALUE ~ '^0x[0-9a-f]{40}$');
CREATE DOMAIN evm_hash    AS TEXT CHECK (VALUE ~ '^0x[0-9a-f]{64}$');
CREATE DOMAIN uint256     AS NUMERIC(78, 0) CHECK (VALUE >= 0);
CREATE DOMAIN usdc        AS NUMERIC(38, 6);

-- ---------------------------------------------------------------------------------------------
-- Chain ledger
-- ---------------------------------------------------------------------------------------------

-- Recent canonical blocks seen by the listener: parent-hash checks detect reorgs; timestamps
-- fill logs that arrive without blockTimestamp. Pruned to a window behind the head.
CREATE TABLE orderflow_blocks (
    chain_id     INTEGER     NOT NULL,
    block_number BIGINT      NOT NULL,
    block_hash   evm_hash    NOT NULL,
    parent_hash  evm_hash,
    timestamp    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (chain_id, block_number)
);

-- How far each ingest stream has stored everything (inclusive), per chain.
CREATE TABLE orderflow_sync_checkpoints (
    chain_id     INTEGER     NOT NULL,
    stream       TEXT        NOT NULL,
    block_number BIGINT      NOT NULL,
    block_hash   evm_hash,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, stream)
);

-- ConditionalTokens ConditionPreparation: a market's condition.
CREATE TABLE orderflow_conditions (
    condition_id       evm_hash    PRIMARY KEY,
    oracle             evm_address NOT NULL,
    question_id        evm_hash    NOT NULL,
    outcome_slot_count INTEGER     NOT NULL CHECK (outcome_slot_count >= 2),
    neg_risk           BOOLEAN     NOT NULL,
    chain_id           INTEGER     NOT NULL,
    block_number       BIGINT      NOT NULL,
    block_hash         evm_hash,
    tx_hash            evm_hash    NOT NULL,
    log_index          INTEGER     NOT NULL,
    timestamp          TIMESTAMPTZ,
    UNIQUE (chain_id, tx_hash, log_index)
);

-- Token registry: every outcome token id -> its condition and outcome.
-- Sources: computed from a ConditionPreparation (CTF position id formula), V1 TokenRegistered,
-- or decoded from an ExchangeV3 structured id.
CREATE TABLE orderflow_tokens (
    token_id            uint256     PRIMARY KEY,
    condition_id        evm_hash    NOT NULL,
    outcome_index       SMALLINT    NOT NULL CHECK (outcome_index >= 0),
    complement_token_id uint256,
    neg_risk            BOOLEAN     NOT NULL DEFAULT FALSE,
    collateral          evm_address,
    generation          TEXT        NOT NULL CHECK (generation IN ('CTF', 'V3')),
    source              TEXT        NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orderflow_tokens_condition ON orderflow_tokens (condition_id);

-- Every OrderFilled, from the point of view of its maker (the order's owner).
CREATE TABLE orderflow_trades (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    chain_id           INTEGER     NOT NULL,
    tx_hash            evm_hash    NOT NULL,
    log_index          INTEGER     NOT NULL,
    block_number       BIGINT      NOT NULL,
    block_hash         evm_hash    NOT NULL,
    timestamp          TIMESTAMPTZ NOT NULL,
    exchange           evm_address NOT NULL,
    exchange_version   TEXT        NOT NULL CHECK (exchange_version IN ('V1', 'V2', 'V3')),
    order_hash         evm_hash    NOT NULL,
    wallet_address     evm_address NOT NULL,           -- the order's maker (funding wallet)
    taker_address      evm_address NOT NULL,           -- as emitted: counterparty or the exchange
    is_taker_aggregate BOOLEAN     NOT NULL,           -- taker = exchange: the aggressor's row
    side               TEXT        NOT NULL CHECK (side IN ('BUY', 'SELL')),
    token_id           uint256     NOT NULL,
    market_id          evm_hash,                       -- condition id, once known
    outcome_index      SMALLINT,
    price              NUMERIC(20, 10) NOT NULL CHECK (price >= 0),  -- collateral per share
    size               usdc        NOT NULL CHECK (size >= 0),       -- shares, gross
    usdc_size          usdc        NOT NULL CHECK (usdc_size >= 0),  -- collateral, gross
    fee                usdc        NOT NULL DEFAULT 0 CHECK (fee >= 0),
    fee_asset          TEXT        NOT NULL CHECK (fee_asset IN ('COLLATERAL', 'SHARES')),
    builder            evm_hash,                       -- V2/V3 only
    metadata           evm_hash,                       -- V2/V3 only
    match_log_index    INTEGER,                        -- the OrdersMatched this fill belongs to
    traceparent        TEXT,                           -- W3C trace context of the ingest batch
    inserted_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX orderflow_trades_wallet_time ON orderflow_trades (wallet_address, timestamp);
CREATE INDEX orderflow_trades_market ON orderflow_trades (market_id, timestamp);
CREATE INDEX orderflow_trades_token_time ON orderflow_trades (token_id, timestamp);
CREATE INDEX orderflow_trades_timestamp ON orderflow_trades (timestamp);
CREATE INDEX orderflow_trades_block ON orderflow_trades (chain_id, block_number);

-- OrdersMatched: one per match of a taker order against maker orders.
CREATE TABLE orderflow_matches (
    chain_id           INTEGER     NOT NULL,
    tx_hash            evm_hash    NOT NULL,
    log_index          INTEGER     NOT NULL,
    block_number       BIGINT      NOT NULL,
    block_hash         evm_hash    NOT NULL,
    timestamp          TIMESTAMPTZ NOT NULL,
    exchange           evm_address NOT NULL,
    exchange_version   TEXT        NOT NULL CHECK (exchange_version IN ('V1', 'V2', 'V3')),
    taker_order_hash   evm_hash    NOT NULL,
    taker_wallet       evm_address NOT NULL,
    side               TEXT        NOT NULL CHECK (side IN ('BUY', 'SELL')),
    token_id           uint256     NOT NULL,
    market_id          evm_hash,
    outcome_index      SMALLINT,
    price              NUMERIC(20, 10) NOT NULL CHECK (price >= 0),
    size               usdc        NOT NULL CHECK (size >= 0),
    usdc_size          usdc        NOT NULL CHECK (usdc_size >= 0),
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX orderflow_matches_block ON orderflow_matches (chain_id, block_number);
CREATE INDEX orderflow_matches_market ON orderflow_matches (market_id, timestamp);

-- Logs we subscribed to but could not decode: kept with the raw log, never dropped.
CREATE TABLE orderflow_dead_letters (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raw_sha256   TEXT        NOT NULL UNIQUE,          -- identity of the raw object
    chain_id     INTEGER     NOT NULL,
    tx_hash      TEXT,
    log_index    INTEGER,
    block_number BIGINT,
    address      TEXT,
    topic0       TEXT,
    reason       TEXT        NOT NULL,
    raw          JSONB       NOT NULL,
    first_seen   TIMESTAMPTZ NOT NULL DEFAULT now(),
    times_seen   INTEGER     NOT NULL DEFAULT 1
);

-- ConditionResolution (the seed's market outcomes, keyed by condition id = market_id).
CREATE TABLE orderflow_market_outcomes (
    market_id          evm_hash    PRIMARY KEY,
    oracle             evm_address NOT NULL,
    question_id        evm_hash    NOT NULL,
    outcome_slot_count INTEGER     NOT NULL,
    payout_numerators  NUMERIC[]   NOT NULL,
    payouts            NUMERIC[]   NOT NULL,           -- numerator / sum: USDC per share
    winning_outcome    SMALLINT,                       -- NULL when the payout is split
    resolved_at        TIMESTAMPTZ NOT NULL,
    chain_id           INTEGER     NOT NULL,
    block_number       BIGINT      NOT NULL,
    block_hash         evm_hash    NOT NULL,
    tx_hash            evm_hash    NOT NULL,
    log_index          INTEGER     NOT NULL
);
CREATE INDEX orderflow_market_outcomes_block ON orderflow_market_outcomes (chain_id, block_number);
CREATE INDEX orderflow_market_outcomes_resolved ON orderflow_market_outcomes (resolved_at);

-- ---------------------------------------------------------------------------------------------
-- Reputation (filled by `orderflow reputation run`)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE orderflow_wallet_stats (
    wallet_address      evm_address PRIMARY KEY,
    total_trades        BIGINT      NOT NULL DEFAULT 0,
    total_volume_usdc   usdc        NOT NULL DEFAULT 0,
    markets_traded      INTEGER     NOT NULL DEFAULT 0,
    resolved_positions  INTEGER     NOT NULL DEFAULT 0,
    wins                INTEGER     NOT NULL DEFAULT 0,
    losses              INTEGER     NOT NULL DEFAULT 0,
    win_rate            DOUBLE PRECISION,
    gross_profit        usdc        NOT NULL DEFAULT 0,
    gross_loss          usdc        NOT NULL DEFAULT 0,
    profit_factor       DOUBLE PRECISION,
    realized_pnl        usdc        NOT NULL DEFAULT 0,
    unrealized_pnl      usdc        NOT NULL DEFAULT 0,
    roi                 DOUBLE PRECISION,
    consistency         DOUBLE PRECISION,
    timing              DOUBLE PRECISION,
    avg_holding_secs    DOUBLE PRECISION,
    first_trade_at      TIMESTAMPTZ,
    last_trade_at       TIMESTAMPTZ,
    reputation_score    NUMERIC(4, 2) CHECK (reputation_score BETWEEN 0 AND 10),
    trader_tier         TEXT CHECK (trader_tier IN ('WHALE', 'SMART', 'AVERAGE', 'NOVICE', 'DEGEN')),
    factors             JSONB,
    computed_at         TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orderflow_wallet_stats_score ON orderflow_wallet_stats (reputation_score DESC NULLS LAST);

CREATE TABLE orderflow_reputation_history (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wallet_address   evm_address   NOT NULL,
    reputation_score NUMERIC(4, 2) NOT NULL,
    trader_tier      TEXT          NOT NULL,
    factors          JSONB,
    resolved_positions INTEGER,
    computed_at      TIMESTAMPTZ   NOT NULL
);
CREATE INDEX orderflow_reputation_history_wallet ON orderflow_reputation_history (wallet_address, computed_at);

-- Statement-level (set-based) trigger: keeps the cheap running counters of wallet_stats current
-- on every insert batch, without a per-row cost on COPY-sized batches. The reputation run
-- recomputes everything else.
CREATE FUNCTION update_wallet_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orderflow_wallet_stats AS s
        (wallet_address, total_trades, total_volume_usdc, first_trade_at, last_trade_at, updated_at)
    SELECT wallet_address, count(*), sum(usdc_size), min(timestamp), max(timestamp), now()
      FROM new_rows
     GROUP BY wallet_address
    ON CONFLICT (wallet_address) DO UPDATE SET
        total_trades      = s.total_trades + EXCLUDED.total_trades,
        total_volume_usdc = s.total_volume_usdc + EXCLUDED.total_volume_usdc,
        first_trade_at    = LEAST(s.first_trade_at, EXCLUDED.first_trade_at),
        last_trade_at     = GREATEST(s.last_trade_at, EXCLUDED.last_trade_at),
        updated_at        = now();
    RETURN NULL;
END;
$$;

CREATE TRIGGER orderflow_trades_wallet_stats
    AFTER INSERT ON orderflow_trades
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION update_wallet_stats();

-- One notification per insert statement on channel 'orderflow_trades' with the id range, so the
-- executor reacts within milliseconds of the listener's commit.
CREATE FUNCTION notify_new_trades() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lo BIGINT;
    hi BIGINT;
    n  BIGINT;
BEGIN
    SELECT min(id), max(id), count(*) INTO lo, hi, n FROM new_rows;
    IF n > 0 THEN
        PERFORM pg_notify('orderflow_trades',
                          json_build_object('min_id', lo, 'max_id', hi, 'count', n)::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER orderflow_trades_notify
    AFTER INSERT ON orderflow_trades
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_new_trades();

-- ---------------------------------------------------------------------------------------------
-- Strategies, signals, positions, performance (executor and operator)
-- ---------------------------------------------------------------------------------------------

-- One row per named strategy: its settings (orderflow.strategy.StrategySettings as JSON), and the
-- pause/kill switches that must survive restarts. Written by the operator or `orderflow strategy`,
-- read (and LISTENed to on channel 'orderflow_strategies') by the executor.
CREATE TABLE orderflow_strategies (
    name          TEXT        PRIMARY KEY CHECK (name ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'),
    settings      JSONB       NOT NULL,
    paused        BOOLEAN     NOT NULL DEFAULT FALSE,
    killed        BOOLEAN     NOT NULL DEFAULT FALSE,
    generation    BIGINT      NOT NULL DEFAULT 1,
    source        TEXT        NOT NULL DEFAULT 'cli',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at    TIMESTAMPTZ
);

CREATE FUNCTION notify_strategy_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('orderflow_strategies', NEW.name);
    RETURN NULL;
END;
$$;

CREATE TRIGGER orderflow_strategies_notify
    AFTER INSERT OR UPDATE ON orderflow_strategies
    FOR EACH ROW EXECUTE FUNCTION notify_strategy_change();

-- Liveness of executor processes: the operator reports Degraded when this goes stale.
CREATE TABLE orderflow_executor_heartbeats (
    instance_id  TEXT        PRIMARY KEY,
    is_leader    BOOLEAN     NOT NULL DEFAULT FALSE,
    strategies   TEXT[]      NOT NULL DEFAULT '{}',
    version      TEXT,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE orderflow_signals (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    strategy         TEXT        NOT NULL,
    signal_type      TEXT        NOT NULL CHECK (signal_type IN ('FOLLOW_WHALE', 'FADE_DEGEN')),
    status           TEXT        NOT NULL DEFAULT 'PENDING'
                                 CHECK (status IN ('PENDING', 'EXECUTED', 'SKIPPED', 'EXPIRED')),
    reason           TEXT,
    chain_id         INTEGER     NOT NULL,
    tx_hash          evm_hash    NOT NULL,                -- the trade that triggered it
    log_index        INTEGER     NOT NULL,
    wallet_address   evm_address NOT NULL,
    wallet_score     NUMERIC(4, 2),
    token_id         uint256     NOT NULL,
    market_id        evm_hash,
    outcome_index    SMALLINT,
    side             TEXT        NOT NULL DEFAULT 'BUY' CHECK (side IN ('BUY', 'SELL')),
    trigger_price    NUMERIC(20, 10) NOT NULL,
    confidence       DOUBLE PRECISION,
    win_probability  DOUBLE PRECISION,
    size_usdc        usdc,
    inputs           JSONB       NOT NULL DEFAULT '{}'::jsonb,
    traceparent      TEXT,
    pnl              usdc,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    trade_time       TIMESTAMPTZ NOT NULL,
    decided_at       TIMESTAMPTZ,
    resolved_at      TIMESTAMPTZ,
    UNIQUE (strategy, signal_type, chain_id, tx_hash, log_index)
);
CREATE INDEX orderflow_signals_created ON orderflow_signals (created_at);
CREATE INDEX orderflow_signals_strategy_status ON orderflow_signals (strategy, status);

CREATE TABLE orderflow_positions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    strategy       TEXT        NOT NULL,
    signal_id      BIGINT      REFERENCES orderflow_signals (id),
    token_id       uint256     NOT NULL,
    market_id      evm_hash,
    outcome_index  SMALLINT,
    status         TEXT        NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'CLOSED')),
    shares         usdc        NOT NULL DEFAULT 0,
    cost_basis     usdc        NOT NULL DEFAULT 0,     -- collateral paid for held shares, fees in
    avg_price      NUMERIC(20, 10),
    fees_paid      usdc        NOT NULL DEFAULT 0,
    realized_pnl   usdc        NOT NULL DEFAULT 0,
    mark_price     NUMERIC(20, 10),
    unrealized_pnl usdc        NOT NULL DEFAULT 0,
    opened_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at      TIMESTAMPTZ,
    close_reason   TEXT
);
-- No second open position in the same token per strategy.
CREATE UNIQUE INDEX orderflow_positions_one_open
    ON orderflow_positions (strategy, token_id) WHERE status = 'OPEN';

CREATE TABLE orderflow_performance (
    day            DATE        NOT NULL,
    strategy       TEXT        NOT NULL,
    trades         INTEGER     NOT NULL DEFAULT 0,
    wins           INTEGER     NOT NULL DEFAULT 0,
    losses         INTEGER     NOT NULL DEFAULT 0,
    win_rate       DOUBLE PRECISION,
    realized_pnl   usdc        NOT NULL DEFAULT 0,
    unrealized_pnl usdc        NOT NULL DEFAULT 0,
    total_pnl      usdc        NOT NULL DEFAULT 0,
    equity         usdc,
    sharpe_ratio   DOUBLE PRECISION,
    max_drawdown   DOUBLE PRECISION,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (day, strategy)
);

-- ---------------------------------------------------------------------------------------------
-- The seed's views
-- ---------------------------------------------------------------------------------------------

CREATE VIEW orderflow_top_wallets AS
SELECT *
  FROM orderflow_wallet_stats
 WHERE reputation_score IS NOT NULL
   AND last_trade_at >= now() - interval '30 days'
 ORDER BY reputation_score DESC, realized_pnl DESC
 LIMIT 100;

CREATE VIEW orderflow_hot_signals AS
SELECT *
  FROM orderflow_signals
 WHERE created_at >= now() - interval '1 hour'
   AND confidence > 0.7
 ORDER BY created_at DESC;
