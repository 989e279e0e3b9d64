-- The wallets with a larger wash ring, closed or not (orderflow.reputation.wash_ring_sql.mark):
-- more than wash_top_k partners among their top 20 that trade a share of their own volume with
-- them, holding wash_min_share of theirs. An open larger ring is not reported (the wallet has no
-- group), yet its partners' trades with one another can close it while the wallet's own sums
-- stay as they were: the incremental closure regroups the marked wallets with a member whose
-- sums moved (orderflow.reputation.wash_assemble). Part of the stored sums (rebuilt with them).
CREATE TABLE orderflow_wash_wide (
    w evm_address PRIMARY KEY
);
