"""The closing line's rule (orderflow.reputation.line_sql) where it must still move: a market
that really moved at its close (many wallets at the new price) and a thin token (a few takers in
its last hours, its holders' own prints long before). And where it must not: a ring of three
printing round-robin between themselves just before the close.

Built as raw chain logs and scored by the real run; the lines read as the run stored them
(``orderflow_reputation_closes``) and as the per-wallet replay reads its own.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import DAY, Spec, World
from tests.reputation.test_cases import TOP, background, stats
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_robust_close import HORIZON

HOUR = 3600.0


def _closes(w: World, s: Spec, first: float) -> float:
    """The token's closing time, its first trade at ``first``."""
    return first + (s.resolves - first) * HORIZON


def _market(w: World, s: Spec, first: float, closes: float, price: float) -> None:
    """The token's first trades, then eight takers on the loser at ``price`` from 5.5 h to 2 h
    before ``closes`` (inside the line's six hours)."""
    loser, winner = 1 - s.winner, s.winner
    w.take(s, first, w.new_wallet(), loser, 20.0, price=price)
    w.take(s, first + 5, w.new_wallet(), winner, 20.0, price=round(1 - price, 2))
    for k in range(8):
        t = closes - 5.5 * HOUR + 1800.0 * k
        w.take(s, t, w.new_wallet(), loser, 30.0, price=price)


async def _lines(pool: asyncpg.Pool, w: World, specs: list[Spec]) -> list[float | None]:
    """The stored closing line of each spec's losing token."""
    tokens = [s.market.tokens[1 - s.winner] for s in specs]
    rows = await pool.fetch(
        "SELECT token_id, close_price FROM orderflow_reputation_closes"
        " WHERE token_id = ANY($1::numeric[])",
        tokens,
    )
    by = {int(r["token_id"]): r["close_price"] for r in rows}
    return [by.get(t) for t in tokens]


async def _replayed(pool: asyncpg.Pool, who: str) -> tuple[float, float]:
    s = await stats(pool, who)
    async with pool.acquire() as conn:
        report = await wallet_report(conn, who, stats=s)
    return s["clv_edge"], report.inputs.clv_value[0] / report.inputs.stake[0]


async def _no_edge(pool: asyncpg.Pool, holders: list[str]) -> None:
    """Each holder's closing-line edge is 0, in the run and in its replay."""
    for who in holders:
        edge, replayed = await _replayed(pool, who)
        assert abs(edge) < 1e-6, who
        assert replayed == pytest.approx(edge, abs=1e-6), who


def _holders(w: World, s: Spec, holders: list[str], first: float) -> None:
    """The holders buy the loser at 0.05, days before the close."""
    for i, who in enumerate(holders):
        w.take(s, first + DAY * (1 + 0.1 * i), who, 1 - s.winner, 100.0, price=0.05)


def _quiet(w: World, s: Spec, holders: list[str]) -> float:
    """A quiet token: a first print and the holders at 0.05, then the market on both sides until
    ten hours before the close (the loser at 0.05, the winner at 0.95); its closing time."""
    first = s.opens + 60.0
    closes = _closes(w, s, first)
    w.take(s, first, w.new_wallet(), 1 - s.winner, 20.0, price=0.05)
    _holders(w, s, holders, first)
    for k in range(8):
        t = closes - 18 * HOUR + HOUR * k
        w.take(s, t, w.new_wallet(), 1 - s.winner, 30.0, price=0.05)
        w.take(s, t + 60.0, w.new_wallet(), s.winner, 30.0, price=0.95)
    return closes


async def test_a_real_move_at_the_close_moves_the_line(pool: asyncpg.Pool) -> None:
    """The loser trades at 0.05 (eight takers in the line's six hours), then in its last two
    hours six distinct wallets buy it at 0.30 (the market moved): the line is 0.30, not the
    window's majority's 0.05 (a median over every taker of the window would read 0.05), and the
    holders' closing-line edge is (0.30 - 0.05) / 0.05 = +5 a dollar."""
    w = World(seed=91)
    background(w, wallets=10, events=20)
    holders = [w.new_wallet() for _ in range(3)]
    specs = w.pick(12, binary_only=True)
    for s in specs:
        first = s.opens + 60.0
        closes = _closes(w, s, first)
        _market(w, s, first, closes, 0.05)
        _holders(w, s, holders, first)
        for k in range(6):
            w.take(s, closes - 2 * HOUR + 1000.0 * k, w.new_wallet(), 1 - s.winner, 30.0, price=0.3)
    await w.finish(pool)
    await run_reputation(pool)
    assert await _lines(pool, w, specs) == pytest.approx([0.30] * len(specs))
    for who in holders:
        edge, replayed = await _replayed(pool, who)
        assert edge == pytest.approx(5.0, abs=1e-6), who
        assert replayed == pytest.approx(edge, abs=1e-6), who


async def test_a_thin_token_gets_the_price_at_its_close(pool: asyncpg.Pool) -> None:
    """Many takers at 0.05 days before the close (the holders among them), then three takers in
    its last hours at 0.20, 0.30 and 0.21: the line is their median, 0.21 (never an old print).
    A token whose last print has nobody else in the six hours before it: that print."""
    w = World(seed=92)
    background(w, wallets=10, events=20)
    holders = [w.new_wallet() for _ in range(3)]
    specs = w.pick(12, binary_only=True)
    quiet, thin = specs[:4], specs[4:]
    for s in specs:
        first = s.opens + 60.0
        closes = _closes(w, s, first)
        w.take(s, first, w.new_wallet(), 1 - s.winner, 20.0, price=0.05)
        _holders(w, s, holders, first)
        for k in range(8):  # the crowd, days before the close
            w.take(s, first + 2 * DAY + HOUR * k, w.new_wallet(), 1 - s.winner, 30.0, price=0.05)
        if s in quiet:  # its last print, ten hours before the close
            w.take(s, closes - 10 * HOUR, w.new_wallet(), 1 - s.winner, 30.0, price=0.15)
        else:
            for k, q in enumerate((0.20, 0.30, 0.21)):
                w.take(s, closes - 5 * HOUR + HOUR * k, w.new_wallet(), 1 - s.winner, 30.0, price=q)
    await w.finish(pool)
    await run_reputation(pool)
    assert await _lines(pool, w, quiet) == pytest.approx([0.15] * len(quiet))
    assert await _lines(pool, w, thin) == pytest.approx([0.21] * len(thin))
    for who in holders:
        edge, replayed = await _replayed(pool, who)
        # four decisions valued at 0.15 (+2 a dollar), eight at 0.21 (+3.2), equal stakes
        assert edge == pytest.approx((4 * 2.0 + 8 * 3.2) / 12, abs=0.05), who
        assert replayed == pytest.approx(edge, abs=1e-6), who


async def test_a_ring_of_three_does_not_set_the_line(pool: asyncpg.Pool) -> None:
    """Three wallets buy the loser from one another round-robin at 0.50 in the last minutes
    before its close, the market at 0.05 with many takers: the line stays 0.05 (three takers of
    the last seven), the honest holders' closing-line edge 0."""
    w = World(seed=93)
    background(w, wallets=10, events=20)
    holders = [w.new_wallet() for _ in range(3)]
    ring = [w.new_wallet() for _ in range(3)]
    specs = w.pick(12, binary_only=True)
    for s in specs:
        first = s.opens + 60.0
        closes = _closes(w, s, first)
        _market(w, s, first, closes, 0.05)
        _holders(w, s, holders, first)
        for k in range(6):
            taker, maker = ring[k % 3], ring[(k + 1) % 3]
            w.take(s, closes - 600.0 + 60.0 * k, taker, 1 - s.winner, 200.0, price=0.5, maker=maker)
    await w.finish(pool)
    await run_reputation(pool)
    assert await _lines(pool, w, specs) == pytest.approx([0.05] * len(specs))
    await _no_edge(pool, holders)


async def test_a_wash_pair_does_not_set_an_open_tokens_mark(pool: asyncpg.Pool) -> None:
    """Markets still open: the loser trades at 0.05 (eight takers in its last hours), then the
    pair prints it at 0.50 between themselves, both ways. The mark (the holders' unrealized P&L)
    is 0.05, not the pair's 0.50, in the run and in the per-wallet replay; an incremental run
    after new fills elsewhere, much later, makes what a full one does (the mark's window ends at
    the token's last print, not at the run's time)."""
    w = World(seed=94)
    background(w, wallets=10, events=20)
    holders = [w.new_wallet() for _ in range(3)]
    pair = [w.new_wallet(), w.new_wallet()]
    specs = w.pick(12, binary_only=True)
    for s in specs:
        first = s.opens + 60.0
        end = s.resolves + 6 * HOUR  # after everyone else's trades (the market is open)
        _market(w, s, first, end, 0.05)
        _holders(w, s, holders, first)
        w.take(s, end - 120.0, pair[0], 1 - s.winner, 200.0, price=0.5, maker=pair[1])
        w.take(s, end - 60.0, pair[1], 1 - s.winner, 200.0, price=0.5, maker=pair[0])
    for s in w.specs:
        if s not in specs:
            w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    first_run = await run_reputation(pool)
    assert not first_run.incremental
    tokens = [s.market.tokens[1 - s.winner] for s in specs]
    marks = await pool.fetch(
        "SELECT mark_price FROM orderflow_reputation_closes WHERE token_id = ANY($1::numeric[])",
        tokens,
    )
    assert [float(r["mark_price"]) for r in marks] == [0.05] * len(specs)
    for who in holders:
        s = await stats(pool, who)
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=s)
        held = [tp.last_price for tp in report.positions if tp.token_id in tokens]
        assert held and all(p is not None and float(p) == 0.05 for p in held), (who, held)
    other = next(s for s in w.specs if s not in specs)
    w.take(other, other.resolves - DAY, w.new_wallet(), 0, 30.0)
    await w.chain.ingest(pool)
    second = await run_reputation(pool)
    assert second.incremental
    incremental = await persisted(pool)
    third = await run_reputation(pool, full=True)
    assert not third.incremental
    close(await persisted(pool), incremental)


async def test_two_takers_give_the_last_print_not_their_mean(pool: asyncpg.Pool) -> None:
    """A quiet token whose last six hours hold two takers: a wash pair's print at 0.55, then an
    honest taker's at 0.05 just before the close (the market's price all along). A median of two
    is their mean (0.30: the pair moves the line half way, whichever printed last); with fewer
    than three takers the line is the last print, 0.05, and the holders' edge 0. Seen on the
    newsworld: an honest 0.005 close read 0.278 because a pair printed 0.551 seven minutes before.
    """
    w = World(seed=95)
    background(w, wallets=10, events=20)
    holders = [w.new_wallet() for _ in range(3)]
    pair = [w.new_wallet(), w.new_wallet()]
    specs = w.pick(12, binary_only=True)
    for s in specs:
        first = s.opens + 60.0
        closes = _closes(w, s, first)
        w.take(s, first, w.new_wallet(), 1 - s.winner, 20.0, price=0.05)
        _holders(w, s, holders, first)
        for k in range(8):  # the crowd, days before the close
            w.take(s, first + 2 * DAY + HOUR * k, w.new_wallet(), 1 - s.winner, 30.0, price=0.05)
        w.take(s, closes - 420.0, pair[0], 1 - s.winner, 200.0, price=0.55, maker=pair[1])
        w.take(s, closes - 60.0, w.new_wallet(), 1 - s.winner, 30.0, price=0.05)
    await w.finish(pool)
    await run_reputation(pool)
    assert await _lines(pool, w, specs) == pytest.approx([0.05] * len(specs))
    await _no_edge(pool, holders)


async def test_a_wash_group_printing_alone_in_a_quiet_token_does_not_set_its_line(
    pool: asyncpg.Pool,
) -> None:
    """The newsworld's common case: the market trades the loser at 0.05 (the winner at 0.95)
    and stops ten hours before the close; five minutes before it, a showcase buys the winner at
    0.50 from a partner (a match that mints, so the partner's row prints the loser at 0.50 too),
    the only print in the line's six hours. The showcase trades with its partners alone (one
    partner in half the tokens, another showcase with three in turn in the other half, three
    matches each: the wash check's minimum to name a partner), as the newsworld's off-market
    groups do. A line that is the pair's 0.50 gave the honest long-shot
    holders +9 a dollar of closing-line edge; the line is the market's 0.05 (the prints inside
    one wash group are not the market's), their edge 0, and neither showcase reaches the top
    tiers."""
    w = World(seed=96)
    background(w, wallets=10, events=20)
    holders = [w.new_wallet() for _ in range(3)]
    pair = [w.new_wallet(), w.new_wallet()]
    ring = [w.new_wallet() for _ in range(4)]  # a showcase and its three partners
    specs = w.pick(18, binary_only=True)
    assert len(specs) == 18
    for i, s in enumerate(specs):
        closes = _quiet(w, s, holders)
        show, partner = (pair[0], pair[1]) if i % 2 == 0 else (ring[0], ring[1 + (i // 2) % 3])
        w.take(s, closes - 300.0, show, s.winner, 1000.0, price=0.5, maker=partner)
    await w.finish(pool)
    await run_reputation(pool)
    assert await _lines(pool, w, specs) == pytest.approx([0.05] * len(specs))
    await _no_edge(pool, holders)
    for show in (pair[0], ring[0]):
        s = await stats(pool, show)
        assert s["trader_tier"] not in TOP, (show, s["trader_tier"], s["clv_edge"])


async def test_a_group_found_later_takes_back_the_lines_it_set(pool: asyncpg.Pool) -> None:
    """A pair prints alone in two quiet tokens' last minutes (as above) with two matches, under
    the wash check's minimum of three: no group, so its prints are the lines (0.50). A third
    match, in another market, makes it a group: the incremental run that follows recomputes the
    lines of the tokens it printed in (their own fills unchanged) and makes what a full run
    does: 0.05."""
    w = World(seed=97)
    background(w, wallets=10, events=20)
    holders = [w.new_wallet() for _ in range(3)]
    pair = [w.new_wallet(), w.new_wallet()]
    specs = w.pick(3, binary_only=True)
    quiet, other = specs[:2], specs[2]
    for s in quiet:
        closes = _quiet(w, s, holders)
        w.take(s, closes - 300.0, pair[0], s.winner, 1000.0, price=0.5, maker=pair[1])
    await w.finish(pool)
    first_run = await run_reputation(pool)
    assert not first_run.incremental
    assert await _lines(pool, w, quiet) == pytest.approx([0.5, 0.5])
    t = other.opens + (other.resolves - other.opens) * 0.3
    w.take(other, t, pair[0], other.winner, 1000.0, price=0.5, maker=pair[1])
    await w.chain.ingest(pool)
    second = await run_reputation(pool)
    assert second.incremental
    assert await _lines(pool, w, quiet) == pytest.approx([0.05, 0.05])
    incremental = await persisted(pool)
    lines = await pool.fetch("SELECT * FROM orderflow_reputation_closes ORDER BY token_id")
    third = await run_reputation(pool, full=True)
    assert not third.incremental
    close(await persisted(pool), incremental)
    assert await pool.fetch("SELECT * FROM orderflow_reputation_closes ORDER BY token_id") == lines


async def test_a_ring_of_ten_printing_alone_in_a_quiet_token_does_not_set_its_line(
    pool: asyncpg.Pool,
) -> None:
    """As above, with a ring of ten printing the loser at 0.50 among themselves in the quiet
    tokens' last minutes, each member against every other about evenly (four matches a pair, ten
    prints a token). The ring's prints are not the market's: the line is 0.05, the holders'
    edge 0 and neither is top tier, the ring WASH; an incremental run after more of the ring's
    prints stores what a full one does (docs/reputation.md "A ring of ten at the market's price
    is not WASH": a fix tried, and why it was not kept)."""
    w = World(seed=98)
    background(w, wallets=10, events=20)
    holders = [w.new_wallet() for _ in range(3)]
    ring = [w.new_wallet() for _ in range(10)]
    pairs = [(a, b) for i, a in enumerate(ring) for b in ring[i + 1 :]]
    specs = w.pick(19, binary_only=True)
    assert len(specs) == 19
    later, specs = specs[-1], specs[:-1]

    def prints(s: Spec, i: int, closes: float) -> None:
        for k in range(10):
            a, b = pairs[(10 * i + k) % len(pairs)]
            taker, maker = (a, b) if k % 2 == 0 else (b, a)
            t = closes - 900.0 + 60.0 * k
            w.take(s, t, taker, 1 - s.winner, 200.0, price=0.5, maker=maker)

    for i, s in enumerate(specs):
        closes = _quiet(w, s, holders)
        prints(s, i, closes)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    for who in holders:
        s = await stats(pool, who)
        assert s["trader_tier"] not in TOP, (who, s["trader_tier"], s["clv_edge"])
    assert await _lines(pool, w, specs) == pytest.approx([0.05] * len(specs))
    await _no_edge(pool, holders)
    assert all(["WASH" in (await stats(pool, m))["flags"] for m in ring])
    prints(later, len(specs), later.resolves - 3 * HOUR)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    incremental = await persisted(pool)
    lines = await pool.fetch("SELECT * FROM orderflow_reputation_closes ORDER BY token_id")
    wash = await pool.fetch("SELECT * FROM orderflow_reputation_wash ORDER BY wallet_address")
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
    assert await pool.fetch("SELECT * FROM orderflow_reputation_closes ORDER BY token_id") == lines
    assert (
        await pool.fetch("SELECT * FROM orderflow_reputation_wash ORDER BY wallet_address") == wash
    )
