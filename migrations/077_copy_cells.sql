-- The COPIER flag's evidence kept between runs (issue 14; docs/reputation.md "Copy-trading
-- wallets", orderflow.reputation.copy_state): per (follower, leader, token, bucket) the
-- follower's trailing and leading buys there, and per (follower, leader) their sums, so an
-- hourly run recomputes only the buckets around changed fills instead of pairing every taker
-- buy of the history.
--
-- Written only by the reputation run. Its changes are the counterparty evidence's (migration
-- 023: trades above orderflow_wash_state.last_id, rows logged in orderflow_wash_dirty): the
-- cells are current for the trades up to orderflow_copy_state.last_id, and an incremental run
-- updates them only when the counterparty update of the same run started from that id (else
-- they are rebuilt from every gated taker buy).

CREATE TABLE orderflow_copy_state (
    id          BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (id),
    valid       BOOLEAN     NOT NULL,
    fingerprint TEXT,                  -- the SQL and settings that made the tables
    last_id     BIGINT,                -- orderflow_wash_state.last_id they count up to
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per (follower f, leader l, token, bucket of f's buys) where f has a buy trailing one
-- of l's (trail) or leading one of l's (lead). A token is its two 64-bit hashes (copy_sql);
-- the bucket is copy_window_secs long.
CREATE TABLE orderflow_copy_cells (
    f     evm_address NOT NULL,
    l     evm_address NOT NULL,
    tok   BIGINT      NOT NULL,
    tok2  BIGINT      NOT NULL,
    b     BIGINT      NOT NULL,
    trail BIGINT      NOT NULL,
    lead  BIGINT      NOT NULL,
    PRIMARY KEY (f, l, tok, tok2, b)
);
CREATE INDEX orderflow_copy_cells_bucket ON orderflow_copy_cells (tok, tok2, b);

-- Per (follower, leader): the sums of its cells (markets: tokens, by the first hash, with a
-- trailing buy).
CREATE TABLE orderflow_copy_pairs (
    f       evm_address NOT NULL,
    l       evm_address NOT NULL,
    trail   BIGINT      NOT NULL,
    lead    BIGINT      NOT NULL,
    markets BIGINT      NOT NULL,
    PRIMARY KEY (f, l)
);
CREATE INDEX orderflow_copy_pairs_markets ON orderflow_copy_pairs (markets);
