-- The hex domains' checks read the string's length in bytes instead of counting its characters
-- (issue 14, the trades insert's backend CPU; docs/benchmarks.md "session 44").
--
-- Why. 002's checks are length(VALUE) = 66 / 42 AND VALUE ~ '^0x[0-9a-f]+$'. In a UTF8 database
-- length() walks the string to count its characters; octet_length() reads the size from the
-- value's header. The regular expression accepts ASCII only, so a string it accepts has as many
-- bytes as characters, and the two checks accept exactly the same strings: '0x' and 64 (40)
-- lower-case ASCII hex digits, the rule 001 wrote as '^0x[0-9a-f]{64}$'
-- (tests/chain/test_hex_domains.py compares all three over hostile strings: upper case, '0X',
-- other lengths, non-ASCII digits and letters, multibyte strings of the same byte or character
-- length, spaces, a trailing newline -- which '$' does not match before here, unlike Python's).
-- Measured over 1 M hashes (backend CPU, seven alternating rounds): 473 ns a check -> 359 ns.
-- Every fill stores nine such strings, a match four.
--
-- NOT VALID, then the old constraint dropped: the new check accepts the same set as the old
-- one, which every stored value passed, so no table is scanned -- on a mainnet-sized database
-- (hundreds of millions of fills, every hex column of every table) a validation would read all
-- of it under a share lock for nothing. Both statements change the catalog only; cached plans
-- are invalidated and the next write is checked by the new constraint. In one transaction (the
-- migration's), so no write is ever checked by neither.

ALTER DOMAIN evm_hash ADD CONSTRAINT evm_hash_hex_bytes
    CHECK (octet_length(VALUE) = 66 AND VALUE ~ '^0x[0-9a-f]+$') NOT VALID;
ALTER DOMAIN evm_hash DROP CONSTRAINT evm_hash_hex;

ALTER DOMAIN evm_address ADD CONSTRAINT evm_address_hex_bytes
    CHECK (octet_length(VALUE) = 42 AND VALUE ~ '^0x[0-9a-f]+$') NOT VALID;
ALTER DOMAIN evm_address DROP CONSTRAINT evm_address_hex;
