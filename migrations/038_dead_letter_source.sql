-- Where in a file a dead letter comes from (history import, listen --from-file): the file's name
-- and the line of a text file, or the row of a Parquet file or a JSON array (the unit the
-- reason names: "markets.json row 3: ..."). Before, the number was in the reason text and in
-- raw, where a row-numbered file's row values overwrote it (raw's "row" key): such a dead letter
-- did not say which row, and two identical bad rows were one dead letter (docs/history.md).
-- NULL for logs from a node.
ALTER TABLE orderflow_dead_letters
    ADD COLUMN source_file TEXT,
    ADD COLUMN source_line BIGINT;

-- The dead letters stored before: the number from raw where it survived, else from the reason
-- (which starts with "<file> line|row <number>: ").
UPDATE orderflow_dead_letters AS d
   SET source_file = d.raw ->> 'file', source_line = m.number
  FROM (SELECT id, (regexp_match(substr(reason, length(raw ->> 'file') + 2),
                                 '^(?:line|row) ([0-9]{1,18}): '))[1]::bigint AS number
          FROM orderflow_dead_letters
         WHERE jsonb_typeof(raw -> 'file') = 'string'
           AND left(reason, length(raw ->> 'file') + 1) = (raw ->> 'file') || ' ') AS m
 WHERE m.id = d.id AND m.number IS NOT NULL;
