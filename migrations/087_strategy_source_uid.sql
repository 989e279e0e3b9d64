-- The uid of the TradingStrategy that owns a strategy row (source 'k8s:<namespace>/<name>'), so
-- that a resource created again under the name is told from the one before it. A resource
-- deleted without its finalizer (stripped by hand) and applied again before the operator saw it
-- gone found its predecessor's row live and wrote its spec over it — `killed: false` over a
-- kill: the executor traded the strategy again (docs/operator.md "Decisions"). The operator now
-- retires a live row whose uid is another resource's, as the finalizer would have, before it
-- reconciles; NULL (rows made before this, or by `orderflow strategy`) is adopted by the resource
-- that owns the row.
ALTER TABLE orderflow_strategies ADD COLUMN source_uid TEXT;
