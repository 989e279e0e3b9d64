-- The one-time sync of ConditionalTokens conditions (issue 13): ConditionPreparation and
-- ConditionResolution logs from the CTF's deployment up to where the listener's own stream
-- began, so every market traded later is mapped. Its progress is the checkpoint row of the
-- stream 'conditions' in orderflow_sync_checkpoints (rewound by reorgs like every stream);
-- this row fixes the range, set once on the first start.
CREATE TABLE orderflow_condition_sync (
    chain_id     INTEGER     PRIMARY KEY,
    from_block   BIGINT      NOT NULL CHECK (from_block >= 0),
    to_block     BIGINT      NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at TIMESTAMPTZ
);
