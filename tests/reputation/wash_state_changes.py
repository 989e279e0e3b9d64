"""The changes of the trades ``test_wash_state``'s closure is checked against, in
:data:`CHANGES`' order (each reads what the ones before it set up): new fills in old buckets and
new ones, busy wallets turning off-market, hosts and their counterparties trading elsewhere, fee
refunds, a ring forming, a reorg's rollback, a token's market id removed, a ring's fills
deleted, and the cases the stored top members do not reach. Test helpers only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from orderflow.chain.rollback import rollback_from
from tests.reputation.population import World, round_trip_ring, wash_ring
from tests.reputation.test_wash_counterparty import make_markets
from tests.reputation.wash_state_step import STORED

Change = Callable[[World, asyncpg.Pool], Awaitable[None]]


async def new_fills(w: World, pool: asyncpg.Pool) -> None:
    """Fills in old buckets (inside crowded trading) and in new ones, off the market and not."""
    for s in w.pick(4, binary_only=True):
        for frac in (0.3, 0.5, 0.7):  # where the random population trades
            t = s.opens + (s.resolves - s.opens) * frac + w.rng.uniform(0, 9000)
            w.take(s, t, w.new_wallet(), s.winner, 80.0, price=round(w.rng.uniform(0.05, 0.95), 2))
        w.take(s, s.resolves - 5000, w.new_wallet(), s.winner, 60.0)
    await w.chain.ingest(pool)


async def turns_off_market(w: World, pool: asyncpg.Pool) -> None:
    """The busiest wallets not off the market yet buy far off it, in crowded buckets, large:
    their pass-1 verdicts flip, and their old buckets leave pass 2's market."""
    who = await pool.fetch(
        """SELECT c.w FROM orderflow_wash_cells c JOIN orderflow_wash_wallets o ON o.w = c.w
            WHERE NOT o.off1 GROUP BY c.w ORDER BY count(*) DESC, c.w LIMIT 3"""
    )
    for r in who:
        for s in w.pick(3, binary_only=True):
            t = s.opens + (s.resolves - s.opens) * 0.5 + w.rng.uniform(0, 9000)
            far = 0.95 if s.price(t, s.winner) < 0.5 else 0.05
            shares = round(20000.0 / far, 2)  # with a fee (refunded later)
            w.chain.trade(s.market, t, r["w"], "BUY", s.winner, shares, far, w.new_wallet(),
                          mint=True, fee=25.0)  # fmt: skip
    await w.chain.ingest(pool)


async def ring_forms(w: World, pool: asyncpg.Pool) -> None:
    """A new ring trading at its own price among the crowd: verdicts flip, hosts appear."""
    ring = [w.new_wallet() for _ in range(3)]
    wash_ring(w, ring[0], ring[1:], 10)
    round_trip_ring(w, ring, 6)
    await w.chain.ingest(pool)


async def rollback(w: World, pool: asyncpg.Pool) -> None:
    """The newest blocks roll back (a reorg): a wash ring's last fills go."""
    await ring_forms(w, pool)
    top = await pool.fetchval("SELECT max(block_number) FROM orderflow_trades")
    lo = await pool.fetchval(
        "SELECT percentile_disc(0.6) WITHIN GROUP (ORDER BY block_number) FROM orderflow_trades"
    )
    async with pool.acquire() as conn:
        assert (await rollback_from(conn, 137, lo)).trades > 0
    assert top > lo


async def refund_and_backfill(w: World, pool: asyncpg.Pool) -> None:
    """Fee refunds on taker rows, then one token's market ids unknown and one market's trades
    moved to another market's id (updates of columns WASH reads)."""
    await pool.execute(
        """UPDATE orderflow_trades SET fee = fee / 2
            WHERE is_taker_aggregate AND fee > 0 AND id % 3 = 0"""
    )
    token = await pool.fetchval(
        "SELECT token_id FROM orderflow_trades WHERE market_id IS NOT NULL"
        " GROUP BY token_id ORDER BY count(*) DESC LIMIT 1"
    )
    await pool.execute(
        "UPDATE orderflow_trades SET market_id = NULL, outcome_index = NULL WHERE token_id = $1",
        token,
    )


async def _trade_elsewhere(w: World, pool: asyncpg.Pool, who: list[str], usd: float) -> None:
    """``who`` buy at the market price, ``usd`` each time, from new wallets."""
    for address in who:
        for s in w.pick(3, binary_only=True):
            t = s.opens + (s.resolves - s.opens) * 0.5 + w.rng.uniform(0, 9000)
            w.take(s, t, address, s.winner, usd, maker=w.new_wallet())
    await w.chain.ingest(pool)


async def hosts_trade_elsewhere(w: World, pool: asyncpg.Pool, usd: float = 3000.0) -> None:
    """The hosts of the most wash counterparties trade elsewhere: their groups' figures and
    share volumes move (their members' hosts with them)."""
    hosts = await pool.fetch(
        f"""SELECT host FROM {STORED} WHERE host IS NOT NULL
             GROUP BY host ORDER BY count(*) DESC, host LIMIT 3"""
    )
    await _trade_elsewhere(w, pool, [r["host"] for r in hosts], usd)


async def hosts_trade_large(w: World, pool: asyncpg.Pool) -> None:
    """... large: new wallets take their groups' top places."""
    await hosts_trade_elsewhere(w, pool, 20000.0)


async def members_trade_elsewhere(w: World, pool: asyncpg.Pool) -> None:
    """Wash counterparties trade more elsewhere: their share of their host moves."""
    members = await pool.fetch(
        f"SELECT wallet_address FROM {STORED} WHERE host IS NOT NULL ORDER BY 1 LIMIT 6"
    )
    await _trade_elsewhere(w, pool, [r["wallet_address"] for r in members], 400.0)


async def refund_off_market_takers(w: World, pool: asyncpg.Pool) -> None:
    """Fee refunds on the taker rows of wallets with off-market taker fees (only those rows)."""
    await pool.execute(
        """UPDATE orderflow_trades SET fee = fee / 4
            WHERE is_taker_aggregate AND fee > 0
              AND wallet_address IN (SELECT w FROM orderflow_wash_taker WHERE tfee > 0)"""
    )


async def dissolve(w: World, pool: asyncpg.Pool) -> None:
    """A ring's fills deleted outright (its wallets' verdicts flip back, its hosts go)."""
    await pool.execute(
        """DELETE FROM orderflow_trades
            WHERE wallet_address IN (SELECT wallet_address FROM orderflow_wash_wallets
                                      WHERE off1 ORDER BY wallet_address LIMIT 2)"""
    )


# The wallets the two changes below set up, by world seed (read by the changes that follow them).
_WIDE_CASES: dict[int, tuple[str, str]] = {}
# More wallets than a wallet's stored top members (orderflow.reputation.wash_ring_sql.RING_MAX).
_WIDE = 24


async def wide_cases(w: World, pool: asyncpg.Pool) -> None:
    """Two cases the stored top 20 members do not reach. A ring of three (round trips) whose
    second member also trades with 21 others, each more than with an outsider that meets it once
    (the member is among the outsider's top members, the outsider not among its). And a wallet
    buying off the market from a market maker (four fills at 0.50, the market at 0.95 set by
    others) beside ten fills at the market with ten others (no group of its own): it hosts the
    maker, which makes markets for 30 takers (two fills each: no group, no larger ring)."""
    ring = [w.new_wallet() for _ in range(3)]
    round_trip_ring(w, ring, 8)
    s = w.pick(1, binary_only=True)[0]
    for _ in range(21):
        w.take(s, s.time(w.rng), w.new_wallet(), s.winner, 20.0, maker=ring[1])
    outsider = w.new_wallet()
    w.take(s, s.time(w.rng), outsider, s.winner, 2.0, maker=ring[1])
    host, maker = w.new_wallet(), w.new_wallet()
    make_markets(w, maker, [w.new_wallet() for _ in range(30)], 60, 300.0)
    for _ in range(10):
        m = w.rng.choice(w.specs)
        w.take(m, m.time(w.rng), host, m.winner, 500.0, maker=w.new_wallet())
    for m in w.pick(4, binary_only=True):
        t = m.resolves - 0.04 * (m.resolves - m.opens)
        w.take(m, t - 400, w.new_wallet(), m.winner, 50.0, price=0.95)
        w.take(m, t, host, m.winner, 600.0, price=0.50, maker=maker)
    _WIDE_CASES[w.seed] = (outsider, host)
    await w.chain.ingest(pool)


async def _in_new_markets(w: World, pool: asyncpg.Pool, who: str, wallets: int, usd: float) -> None:
    """``who`` buys from ``wallets`` new wallets, ``usd`` each, in new markets."""
    for _ in range(wallets):
        w._add(0.5)
        s = w.specs[-1]
        w.take(s, s.opens + (s.resolves - s.opens) * 0.5, who, s.winner, usd, maker=w.new_wallet())
    await w.chain.ingest(pool)


async def outsider_trades(w: World, pool: asyncpg.Pool) -> None:
    """The outsider trades a little elsewhere: the ring member is one of C's wallets (a member
    of a changed wallet's top members), its ring's other two are not (nor in G): only as the
    rings C's wallets are members of can they host it."""
    await _in_new_markets(w, pool, _WIDE_CASES[w.seed][0], 2, 1.0)


async def off_market_host_trades_wide(w: World, pool: asyncpg.Pool) -> None:
    """The off-market host trades large with more new wallets than its top members: it hosts
    the maker no more, and the maker -- no group, in no changed pair, not among the host's top
    members now -- is found only as an off-market counterparty of a re-summed wallet."""
    await _in_new_markets(w, pool, _WIDE_CASES[w.seed][1], _WIDE, 8000.0)


CHANGES: tuple[Change, ...] = (
    new_fills,
    turns_off_market,
    hosts_trade_elsewhere,
    members_trade_elsewhere,
    hosts_trade_large,
    refund_off_market_takers,
    ring_forms,
    rollback,
    refund_and_backfill,
    dissolve,
    wide_cases,
    outsider_trades,
    off_market_host_trades_wide,
)
