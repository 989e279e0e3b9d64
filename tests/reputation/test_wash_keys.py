"""``WASH`` keyed by bytes gives the rows of ``WASH`` keyed by text, to the bit.

The statement sorts, groups and joins its fills by each address's 20 bytes and a tagged market
key (``orderflow.reputation.wash_keys_sql``) instead of the text; the rows it makes must be the
text statement's (frozen: :data:`tests.reputation.wash_text_reference.TEXT_WASH`), floats
compared by their bits. Besides the wash tests' populations, two variants make the keys matter:
every fill the same size (more ties in the top-k ranking and a member's host, broken by address
in C order) and the tokens of some markets without a market id (keyed by the token). The ties
check bites: a ranking that breaks them the other way gives other rows.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from orderflow.reputation import ReputationSettings
from orderflow.reputation.wash_sql import WASH
from tests.reputation.population import World
from tests.reputation.test_wash_identity import SETTINGS, random_population, wash_population
from tests.reputation.test_wash_order import _THIN, _positions, _prepare, _rows
from tests.reputation.wash_text_reference import TEXT_WASH

# The trades as a temporary table (read in their place: pg_temp comes first in the search path),
# changed by {change}.
_SHADOW = """CREATE TEMP TABLE orderflow_trades ON COMMIT DROP AS
SELECT * FROM public.orderflow_trades;
{change};
ANALYZE orderflow_trades"""
VARIANTS = {
    "as built": None,
    "every fill 10 shares": "UPDATE orderflow_trades SET size = 10, usdc_size = 10 * price",
    "some markets unknown": (
        "UPDATE orderflow_trades SET market_id = NULL"
        " WHERE market_id IN (SELECT DISTINCT market_id FROM orderflow_trades"
        " WHERE market_id IS NOT NULL ORDER BY market_id LIMIT 4)"
    ),
}
_RANK = "ORDER BY p.vol DESC, p.cp) AS r"


async def _world(pool: asyncpg.Pool, seed: int) -> None:
    w = World(seed=seed, markets=12, neg_risk_events=1)
    random_population(w, wallets=10 + 4 * seed, trades=150 * seed)
    wash_population(w)
    await w.finish(pool)


async def _both(
    conn: asyncpg.Connection, settings: ReputationSettings, name: str, change: str | None
) -> tuple[Any, Any, Any]:
    """(bytes, text, bytes with the ties broken the other way) rows of one variant."""
    if change is not None:
        await conn.execute(_SHADOW.format(change=change))
    args = await _prepare(conn, settings)
    keyed = await _rows(conn, WASH, args, f"keys {name}")
    text = await _rows(conn, TEXT_WASH, args, f"text {name}")
    assert _RANK in WASH
    flipped = await _rows(
        conn, WASH.replace(_RANK, "ORDER BY p.vol DESC, p.cp DESC) AS r"), args, f"flipped {name}"
    )
    return keyed, text, flipped


@pytest.mark.parametrize("seed", [6, 7])
async def test_bytes_give_the_text_rows(pool: asyncpg.Pool, seed: int) -> None:
    await _world(pool, seed)
    bites = []
    for settings in SETTINGS.values():
        for name, change in VARIANTS.items():
            async with pool.acquire() as conn, conn.transaction():
                keyed, text, flipped = await _both(conn, settings, name, change)
                assert len(keyed) > 30
                assert keyed == text, name
                bites.append((name, flipped != keyed))
    # the ties between equal volumes decide rows: the check bites
    assert any(bit for _, bit in bites), bites


async def test_bytes_give_the_text_rows_under_small_work_mem(pool: asyncpg.Pool) -> None:
    """Spilling sorts and hash tables (64 kB) and the incremental run's thin positions."""
    await _world(pool, 6)
    settings = SETTINGS["default"]
    async with pool.acquire() as conn, conn.transaction():
        args = await _prepare(conn, settings)
        text = await _rows(conn, TEXT_WASH, args, "text")
        await conn.execute("SET LOCAL work_mem = '64kB'")
        assert await _rows(conn, WASH, args, "keys 64kB") == text
        await _positions(conn, _THIN, analyze=False)
        assert await _rows(conn, WASH, args, "keys thin") == await _rows(
            conn, TEXT_WASH, args, "text thin"
        )
