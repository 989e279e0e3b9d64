-- The partitions a batch's rows go to, and only those: orderflow_ensure_partitions(lo, hi) made
-- every partition between a batch's lowest and highest block, so one bogus far block in a file
-- (a hostile line: block 10^14 is a valid number) made the import create every partition up to
-- it — millions of tables in one transaction, the import stuck. The store now passes the
-- batch's distinct blocks (orderflow.chain.partitions.ensure_for_batch).
CREATE FUNCTION orderflow_ensure_partitions_of(blocks BIGINT[]) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    span CONSTANT BIGINT := orderflow_partition_blocks();
    n    BIGINT;
    made INTEGER := 0;
BEGIN
    FOR n IN SELECT DISTINCT b / span FROM unnest(blocks) AS b WHERE b IS NOT NULL ORDER BY 1 LOOP
        made := made + orderflow_ensure_partitions(n * span, n * span);
    END LOOP;
    RETURN made;
END
$$;
