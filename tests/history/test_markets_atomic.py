"""A Gamma markets batch's rows and dead letters are stored together or not at all."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_markets import BTC, BTC_IDS, NEG, NEG_IDS, gamma

# The second dead letter written fails, once (a sequence is not rolled back with the statement).
FAIL_SECOND_DEAD_LETTER = """
CREATE SEQUENCE dead_letter_writes;
CREATE FUNCTION fail_second_dead_letter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('dead_letter_writes') = 2 THEN
        RAISE EXCEPTION 'injected: the dead letter write fails';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fail_second_dead_letter BEFORE INSERT ON orderflow_dead_letters
    FOR EACH ROW EXECUTE FUNCTION fail_second_dead_letter();
"""


async def test_a_failed_dead_letter_write_takes_its_batchs_rows_back(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Before, the batch's tokens were committed, then its dead letters in a transaction of
    their own: a failure (or a crash) between the two left the rows without their dead letters."""
    path = d.write_jsonl(
        tmp_path / "markets.jsonl",
        [
            gamma(BTC, BTC_IDS),
            gamma("0x12", BTC_IDS),  # line 2: not a condition id
            gamma(NEG, NEG_IDS, negRisk=True),
            gamma(NEG, BTC_IDS),  # line 4: not NEG's tokens
        ],
    )
    await pool.execute(FAIL_SECOND_DEAD_LETTER)
    with pytest.raises(asyncpg.RaiseError, match="injected"):
        await import_file(pool, path, chain_id=137, batch_size=2)
    # The first batch whole, nothing of the second.
    assert await pool.fetchval("SELECT count(*) FROM orderflow_tokens") == 2
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 1

    report = await import_file(pool, path, chain_id=137, batch_size=2)
    assert (report.tokens, report.dead_letters) == (2, 2)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_tokens") == 4
    letters = await pool.fetch(
        "SELECT reason, times_seen FROM orderflow_dead_letters ORDER BY reason"
    )
    assert [(r["reason"].split(":")[0], r["times_seen"]) for r in letters] == [
        ("markets.jsonl line 2", 2),  # imported twice
        ("markets.jsonl line 4", 1),
    ]
