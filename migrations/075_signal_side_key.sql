-- A trade may be two signals of one strategy and type: a leader's BUY of the complement of a
-- token the strategy holds is the exit of that token (the leader left: a SELL signal, of the
-- held token) and an entry into what it bought (a BUY signal, of the bought token). Both were
-- keyed by the trade alone (strategy, signal_type, trade, attempt): the exit, decided first,
-- took the key and the entry was never recorded — lost when the position held was dust (the
-- exit SKIPPED exit_below_min_size, the market open to a new entry). The side is in the key now.
ALTER TABLE orderflow_signals DROP CONSTRAINT orderflow_signals_trade_attempt;

ALTER TABLE orderflow_signals ADD CONSTRAINT orderflow_signals_trade_side_attempt
    UNIQUE (strategy, signal_type, chain_id, tx_hash, log_index, side, attempt);
